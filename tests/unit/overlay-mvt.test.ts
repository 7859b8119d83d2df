/**
 * The MVT encoder against MapLibre's own decoder (@mapbox/vector-tile + pbf, installed with maplibre-gl).
 */
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader as Pbf } from 'pbf';
import { describe, expect, it } from 'vitest';
import { encodeMvt, encodePolygonGeometry, ringArea } from '../../server/lib/overlays/mvt.ts';

const decode = (bytes: Uint8Array) => new VectorTile(new Pbf(bytes));

describe('encodeMvt', () => {
  it('round-trips polygons, ids and properties through the decoder MapLibre uses', () => {
    const bytes = encodeMvt([
      {
        name: 'tiles',
        features: [
          {
            id: 2 ** 36 + 5,
            polygons: [
              [
                [
                  [0, 0],
                  [1024, 0],
                  [1024, 1024],
                  [0, 1024],
                ],
              ],
            ],
            properties: {
              taskId: '18-1-2',
              priority: 0.75,
              tier: 'high',
              tiles: 3,
              offset: -2,
              ok: true,
              missing: null,
            },
          },
          {
            id: 7,
            polygons: [
              [
                [
                  [1024, 0],
                  [2048, 0],
                  [2048, 1024],
                  [1024, 1024],
                  [1024, 0],
                ],
              ],
            ],
            properties: { taskId: '18-2-2', priority: 0.75 },
          },
        ],
      },
      { name: 'empty', features: [] },
    ]);
    const tile = decode(bytes);
    expect(Object.keys(tile.layers)).toEqual(['tiles']);
    const layer = tile.layers.tiles;
    expect(layer.extent).toBe(4096);
    expect(layer.length).toBe(2);
    const f = layer.feature(0);
    expect(f.id).toBe(2 ** 36 + 5);
    expect(f.type).toBe(3);
    expect(f.properties).toEqual({
      taskId: '18-1-2',
      priority: 0.75,
      tier: 'high',
      tiles: 3,
      offset: -2,
      ok: true,
    });
    const ring = f.loadGeometry()[0].map((p) => [p.x, p.y]);
    expect(ring).toEqual([
      [0, 0],
      [1024, 0],
      [1024, 1024],
      [0, 1024],
      [0, 0],
    ]);
    // A closed input ring is not closed twice.
    expect(layer.feature(1).loadGeometry()[0]).toHaveLength(5);
    expect(layer.feature(1).properties.priority).toBe(0.75);
  });

  it('writes exterior rings with positive area and holes negative, whatever the input winding', () => {
    const ccwOuter: Array<[number, number]> = [
      [0, 0],
      [0, 100],
      [100, 100],
      [100, 0],
    ];
    const cwHole: Array<[number, number]> = [
      [20, 20],
      [80, 20],
      [80, 80],
      [20, 80],
    ];
    expect(ringArea(ccwOuter)).toBeLessThan(0);
    const tile = decode(
      encodeMvt([{ name: 'f', features: [{ polygons: [[ccwOuter, cwHole]], properties: {} }] }]),
    );
    const rings = tile.layers.f
      .feature(0)
      .loadGeometry()
      .map((r) => r.map((p) => [p.x, p.y] as [number, number]));
    expect(ringArea(rings[0])).toBeGreaterThan(0);
    expect(ringArea(rings[1])).toBeLessThan(0);
    // The decoder groups the hole with its polygon.
    expect(tile.layers.f.feature(0).toGeoJSON(0, 0, 0).geometry.type).toBe('Polygon');
  });

  it('drops rings that collapse on the integer grid, and features left with none', () => {
    expect(
      encodePolygonGeometry([
        [
          [
            [0.1, 0.1],
            [0.2, 0.2],
            [0.3, 0.1],
          ],
        ],
      ]),
    ).toEqual([]);
    expect(
      encodeMvt([
        {
          name: 'f',
          features: [
            {
              polygons: [
                [
                  [
                    [0, 0],
                    [0.2, 0],
                    [0.2, 0.2],
                  ],
                ],
              ],
              properties: {},
            },
          ],
        },
      ]),
    ).toHaveLength(0);
  });
});
