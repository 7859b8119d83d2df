import { describe, expect, it } from 'vitest';
import { golden } from '../fixtures/golden.ts';
import {
  lonLatToTile,
  lonLatToWorldPixel,
  metresPerPixel,
  parseTaskId,
  quadkeyToTile,
  taskId,
  tileBounds,
  tileCentre,
  tileFeatureId,
  tileFootprint,
  tileToQuadkey,
  TileError,
  worldPixelToLonLat,
} from '../../server/lib/geo/tiles.ts';

const FIXTURE = new URL('../fixtures/geo/tile-footprints.geojson', import.meta.url);
const round = (v: number) => Math.round(v * 1e10) / 1e10;

function footprintCollection() {
  const tiles = [
    [0, 0, 0],
    [1, 1, 0],
    [18, 155669, 141339], // Lilongwe outskirts, the demo world's training region
    [18, 131072, 131072], // touches lon 0 / lat 0
  ];
  return {
    type: 'FeatureCollection',
    features: tiles.map(([z, x, y]) => {
      const poly = tileFootprint(z, x, y);
      return {
        type: 'Feature',
        properties: { taskId: taskId(z, x, y), quadkey: tileToQuadkey(z, x, y) },
        geometry: { type: 'Polygon', coordinates: poly.coordinates.map((r) => r.map((p) => p.map(round))) },
      };
    }),
  };
}

describe('tiles', () => {
  it('puts a tile centre halfway across its bounds, inside the tile it names', () => {
    const [w, s, e, n] = tileBounds(18, 155669, 141339);
    const [lon, lat] = tileCentre(18, 155669, 141339);
    expect(lon).toBeCloseTo((w + e) / 2, 12);
    expect(lat).toBeGreaterThan(s);
    expect(lat).toBeLessThan(n);
    expect(lonLatToTile(lon, lat, 18)).toEqual({ z: 18, x: 155669, y: 141339 });
  });

  it('numbers vector-tile features y · 2^z + x', () => {
    expect(tileFeatureId(18, 155668, 139360)).toBe(139360 * 262144 + 155668);
    expect(tileFeatureId(1, 1, 0)).toBe(1);
  });

  it('matches the golden tile footprints (regenerate with REGEN=1)', async () => {
    await golden(FIXTURE, footprintCollection());
  });

  it('converts quadkeys both ways (Bing examples)', () => {
    expect(tileToQuadkey(3, 3, 5)).toBe('213');
    expect(quadkeyToTile('213')).toEqual({ z: 3, x: 3, y: 5 });
    expect(tileToQuadkey(0, 0, 0)).toBe('');
    for (const [x, y] of [
      [155668, 139360],
      [0, 262143],
      [262143, 0],
    ]) {
      expect(quadkeyToTile(tileToQuadkey(18, x, y))).toEqual({ z: 18, x, y });
    }
    expect(() => quadkeyToTile('0124')).toThrow(/0-3/);
  });

  it('finds the tile of a lon/lat and bounds that contain it', () => {
    const t = lonLatToTile(33.78, -13.96, 18);
    expect(t).toEqual({ z: 18, x: 155669, y: 141339 });
    const [w, s, e, n] = tileBounds(18, t.x, t.y);
    expect(w).toBeLessThanOrEqual(33.78);
    expect(e).toBeGreaterThan(33.78);
    expect(s).toBeLessThan(-13.96);
    expect(n).toBeGreaterThanOrEqual(-13.96);
    expect(lonLatToTile(180, -90, 2)).toEqual({ z: 2, x: 3, y: 3 });
    expect(tileBounds(0, 0, 0)[3]).toBeCloseTo(85.0511287798, 9);
  });

  it('builds a closed counter-clockwise footprint ring', () => {
    const ring = tileFootprint(18, 155668, 139360).coordinates[0];
    expect(ring).toHaveLength(5);
    expect(ring[0]).toEqual(ring[4]);
    let area2 = 0;
    for (let i = 0; i < 4; i++) area2 += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
    expect(area2).toBeGreaterThan(0);
  });

  it('round-trips world pixels and lon/lat', () => {
    const [px, py] = lonLatToWorldPixel(33.78, -13.96, 18);
    const [lon, lat] = worldPixelToLonLat(px, py, 18);
    expect(lon).toBeCloseTo(33.78, 10);
    expect(lat).toBeCloseTo(-13.96, 10);
    expect(Math.floor(px / 256)).toBe(155669);
    expect(metresPerPixel(-13.96, 18)).toBeCloseTo(0.5795, 3);
  });

  it('formats and parses task ids, rejecting malformed ones', () => {
    expect(taskId(18, 155668, 139360)).toBe('18-155668-139360');
    expect(parseTaskId('18-155668-139360')).toEqual({ z: 18, x: 155668, y: 139360 });
    expect(() => parseTaskId('18/1/2')).toThrow(/z-x-y/);
    expect(() => parseTaskId('2-4-0')).toThrow(TileError);
    expect(() => tileBounds(1, 2, 0)).toThrow(/outside the zoom-1 grid/);
  });
});
