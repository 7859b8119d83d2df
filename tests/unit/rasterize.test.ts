import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Polygon } from 'geojson';
import { describe, expect, it } from 'vitest';
import {
  fillPolygonPixels,
  FootprintError,
  FootprintIndex,
  rasterizePolygons,
} from '../../server/lib/geo/rasterize.ts';
import { worldPixelToLonLat } from '../../server/lib/geo/tiles.ts';

const T = { z: 18, x: 155669, y: 141339 };

/** A polygon given in the tile's pixel space, converted to lon/lat as a GeoJSON file would hold it. */
function pixelPolygon(...rings: Array<Array<[number, number]>>): Polygon {
  return {
    type: 'Polygon',
    coordinates: rings.map((r) => {
      const ring = r.map(([px, py]) => worldPixelToLonLat(T.x * 256 + px, T.y * 256 + py, 18));
      return [...ring, ring[0]];
    }),
  };
}

const count = (m: Uint8Array) => m.reduce((n, v) => n + v, 0);
const at = (m: Uint8Array, col: number, row: number, size = 256) => m[row * size + col];

describe('fillPolygonPixels (pixel space)', () => {
  it('uses pixel centres: a square on pixel boundaries covers exactly its pixels', () => {
    const out = new Uint8Array(16);
    fillPolygonPixels(
      [
        [
          [1, 1],
          [3, 1],
          [3, 3],
          [1, 3],
        ],
      ],
      4,
      out,
      1,
    );
    expect([...out]).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
    // Covering a pixel up to just short of its centre does not claim it.
    const thin = new Uint8Array(16);
    fillPolygonPixels(
      [
        [
          [0, 0],
          [0.49, 0],
          [0.49, 4],
          [0, 4],
        ],
      ],
      4,
      thin,
      1,
    );
    expect(count(thin)).toBe(0);
    fillPolygonPixels(
      [
        [
          [0, 0],
          [0.51, 0],
          [0.51, 4],
          [0, 4],
        ],
      ],
      4,
      thin,
      7,
    );
    expect([...thin].filter((v) => v === 7)).toHaveLength(4);
  });
});

describe('rasterizePolygons (lon/lat)', () => {
  it('fills exactly the left half of the tile for a square covering it', () => {
    const m = rasterizePolygons(
      [
        pixelPolygon([
          [0, 0],
          [128, 0],
          [128, 256],
          [0, 256],
        ]),
      ],
      T,
    );
    expect(count(m)).toBe(128 * 256);
    expect(at(m, 127, 100)).toBe(1);
    expect(at(m, 128, 100)).toBe(0);
  });

  it('fills a right triangle with about half its bounding square', () => {
    const m = rasterizePolygons(
      [
        pixelPolygon([
          [0, 0],
          [100, 0],
          [0, 100],
        ]),
      ],
      T,
    );
    // Pixel centres strictly below the diagonal x + y < 100: 100·99/2 of them.
    expect(count(m)).toBe(4950);
    expect(at(m, 0, 0)).toBe(1);
    expect(at(m, 60, 60)).toBe(0);
  });

  it('leaves a hole empty (even-odd) and keeps overlapping polygons filled', () => {
    const donut = pixelPolygon(
      [
        [10, 10],
        [110, 10],
        [110, 110],
        [10, 110],
      ],
      [
        [40, 40],
        [80, 40],
        [80, 80],
        [40, 80],
      ],
    );
    const m = rasterizePolygons([donut], T);
    expect(count(m)).toBe(100 * 100 - 40 * 40);
    expect(at(m, 60, 60)).toBe(0);
    expect(at(m, 20, 20)).toBe(1);
    const overlap = rasterizePolygons(
      [
        donut,
        pixelPolygon([
          [50, 50],
          [70, 50],
          [70, 70],
          [50, 70],
        ]),
      ],
      T,
    );
    expect(at(overlap, 60, 60)).toBe(1);
    expect(at(overlap, 20, 20)).toBe(1);
  });

  it('clips a polygon crossing the tile edge, and a MultiPolygon fills every part', () => {
    const m = rasterizePolygons(
      [
        pixelPolygon([
          [200, -50],
          [300, -50],
          [300, 20],
          [200, 20],
        ]),
      ],
      T,
    );
    expect(count(m)).toBe(56 * 20);
    const a = pixelPolygon([
      [0, 0],
      [10, 0],
      [10, 10],
      [0, 10],
    ]);
    const b = pixelPolygon([
      [20, 20],
      [30, 20],
      [30, 30],
      [20, 30],
    ]);
    const multi = rasterizePolygons(
      [{ type: 'MultiPolygon', coordinates: [a.coordinates, b.coordinates] }],
      T,
    );
    expect(count(multi)).toBe(200);
  });
});

describe('FootprintIndex', () => {
  const feature = (g: Polygon, id: string) => ({ type: 'Feature', properties: { id }, geometry: g });

  it('finds the features of a tile and its neighbours across the edge', () => {
    const crossing = pixelPolygon([
      [240, 100],
      [270, 100],
      [270, 120],
      [240, 120],
    ]);
    const inside = pixelPolygon([
      [10, 10],
      [20, 10],
      [20, 20],
      [10, 20],
    ]);
    const index = FootprintIndex.fromGeoJSON({
      type: 'FeatureCollection',
      features: [
        feature(crossing, 'a'),
        feature(inside, 'b'),
        { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [0, 0] } },
      ],
    });
    expect(index.size).toBe(2);
    expect(index.featuresForTile(18, T.x, T.y).map((f) => f.properties?.id)).toEqual(['a', 'b']);
    expect(index.featuresForTile(18, T.x + 1, T.y).map((f) => f.properties?.id)).toEqual(['a']);
    expect(index.featuresForTile(18, T.x + 2, T.y)).toEqual([]);
    expect(count(index.maskForTile(18, T.x + 1, T.y))).toBe(14 * 20);
    expect(count(index.maskForTile(18, T.x, T.y))).toBe(16 * 20 + 100);
    // A coarser tile is answered through the zoom-18 grid.
    expect(index.featuresForTile(17, T.x >> 1, T.y >> 1)).toHaveLength(2);
    expect(count(index.maskForTile(18, T.x, T.y, 512))).toBe(4 * (16 * 20 + 100));
  });

  it('rejects files that are not footprints, naming the file and what it found', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tilelens-fp-'));
    const notJson = join(dir, 'broken.geojson');
    writeFileSync(notJson, '{"type": "Feat');
    expect(() => FootprintIndex.fromFile(notJson)).toThrow(new RegExp(`${notJson}.*not JSON`));
    const points = join(dir, 'points.geojson');
    writeFileSync(
      points,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [0, 0] } }],
      }),
    );
    expect(() => FootprintIndex.fromFile(points)).toThrow(/points\.geojson holds no Polygon.*found 1 Point/);
    const geometry = join(dir, 'geometry.geojson');
    writeFileSync(geometry, JSON.stringify({ type: 'Polygon', coordinates: [] }));
    expect(() => FootprintIndex.fromFile(geometry)).toThrow(FootprintError);
    expect(() => FootprintIndex.fromFile(geometry)).toThrow(
      /not a GeoJSON FeatureCollection \(found an object of type "Polygon"\)/,
    );
    expect(() => FootprintIndex.fromFile(join(dir, 'missing.geojson'))).toThrow(
      /cannot read footprints file/,
    );
  });
});
