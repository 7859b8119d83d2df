import { describe, expect, it } from 'vitest';
import { kinks } from '@turf/turf';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import {
  maskOutlines,
  ringArea2,
  ringSelfIntersects,
  simplifyRing,
  vectorizeMask,
  type Point,
} from '../../server/lib/scoring/vectorize.ts';

/** '#' = building pixel, '.' = background; rows top to bottom. */
function draw(rows: string[]): { mask: Uint8Array; width: number; height: number } {
  const height = rows.length;
  const width = rows[0].length;
  const mask = new Uint8Array(width * height);
  rows.forEach((r, y) => [...r].forEach((c, x) => (mask[y * width + x] = c === '#' ? 1 : 0)));
  return { mask, width, height };
}

const TILE = { z: 18, x: 155703, y: 141324 };

function sortedRing(ring: Point[]): string {
  return ring
    .map(([x, y]) => `${x},${y}`)
    .sort()
    .join(' ');
}

describe('maskOutlines', () => {
  it('traces a rectangle as its four corners, clockwise on screen', () => {
    const { mask, width, height } = draw(['......', '.###..', '.###..', '......']);
    const [ring, ...rest] = maskOutlines(mask, width, height, { minPixels: 1 });
    expect(rest).toHaveLength(0);
    expect(sortedRing(ring)).toBe(
      sortedRing([
        [1, 1],
        [4, 1],
        [4, 3],
        [1, 3],
      ]),
    );
    expect(ringArea2(ring)).toBe(2 * 6);
  });

  it('keeps an L shape exact and fills a courtyard (outer boundary only)', () => {
    const l = draw(['##...', '##...', '#####', '#####']);
    const [ring] = maskOutlines(l.mask, l.width, l.height, { minPixels: 1, tolerance: 0.4 });
    expect(ring).toHaveLength(6);
    expect(Math.abs(ringArea2(ring)) / 2).toBe(14);
    const court = draw(['#####', '#...#', '#...#', '#####']);
    const [outer, ...none] = maskOutlines(court.mask, court.width, court.height, { minPixels: 1 });
    expect(none).toHaveLength(0);
    expect(Math.abs(ringArea2(outer)) / 2).toBe(20);
  });

  it('separates blobs, drops specks below minPixels', () => {
    const { mask, width, height } = draw(['##.....', '##...#.', '.......', '....###', '....###']);
    const rings = maskOutlines(mask, width, height, { minPixels: 2 });
    expect(rings).toHaveLength(2);
    expect(rings.map((r) => Math.abs(ringArea2(r)) / 2).sort()).toEqual([4, 6]);
  });

  it('turns blobs touching only at a corner into one simple ring that never touches itself', () => {
    const { mask, width, height } = draw(['##....', '##....', '..##..', '..##..', '....##']);
    const rings = maskOutlines(mask, width, height, { minPixels: 1, tolerance: 0 });
    expect(rings).toHaveLength(1);
    expect(ringSelfIntersects(rings[0])).toBe(false);
    // The area stays that of the 10 pixels, up to the slivers the corner nudges add.
    expect(Math.abs(ringArea2(rings[0])) / 2).toBeCloseTo(10, 0);
  });

  it('simplifies a staircase, keeps its orientation and never makes it cross itself', () => {
    const rows = Array.from({ length: 24 }, (_, y) =>
      Array.from({ length: 24 }, (_, x) =>
        x + y >= 6 && x + y <= 30 && x >= 2 && y >= 2 && x < 22 && y < 22 ? '#' : '.',
      ).join(''),
    );
    const { mask, width, height } = draw(rows);
    const [raw] = maskOutlines(mask, width, height, { minPixels: 1, tolerance: 0 });
    const [simple] = maskOutlines(mask, width, height, { minPixels: 1, tolerance: 1 });
    expect(simple.length).toBeLessThan(raw.length / 4);
    expect(Math.sign(ringArea2(simple))).toBe(Math.sign(ringArea2(raw)));
    expect(ringSelfIntersects(simple)).toBe(false);
    expect(Math.abs(ringArea2(simple) - ringArea2(raw)) / Math.abs(ringArea2(raw))).toBeLessThan(0.1);
  });

  it('refuses a simplification that would collapse the ring', () => {
    const thin: Point[] = [
      [0, 0],
      [10, 0],
      [10, 0.5],
      [0, 0.5],
    ];
    expect(simplifyRing(thin, 5)).toEqual(thin);
  });
});

describe('vectorizeMask', () => {
  it('gives valid counter-clockwise lon/lat polygons inside the tile, or null for an empty mask', () => {
    const { mask, width, height } = draw(['#...##', '....##', '.##...', '.###.#', '......', '#....#']);
    const mp = vectorizeMask(mask, width, height, TILE, { minPixels: 2 })!;
    expect(mp.type).toBe('MultiPolygon');
    expect(mp.coordinates).toHaveLength(2);
    const [w, s, e, n] = tileBounds(TILE.z, TILE.x, TILE.y);
    for (const [ring] of mp.coordinates) {
      expect(ring.length).toBeGreaterThanOrEqual(4);
      expect(ring[0]).toEqual(ring[ring.length - 1]);
      let area2 = 0;
      for (let i = 0; i + 1 < ring.length; i++)
        area2 += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
      expect(area2).toBeGreaterThan(0);
      for (const [lon, lat] of ring) {
        expect(lon).toBeGreaterThanOrEqual(w - 1e-8);
        expect(lon).toBeLessThanOrEqual(e + 1e-8);
        expect(lat).toBeGreaterThanOrEqual(s - 1e-8);
        expect(lat).toBeLessThanOrEqual(n + 1e-8);
      }
      expect(kinks({ type: 'Polygon', coordinates: [ring] }).features).toHaveLength(0);
    }
    // The top-right 2×2 block covers the tile's top-right corner exactly.
    const corner = mp.coordinates
      .flat(2)
      .some(([lon, lat]) => Math.abs(lon - e) < 1e-7 && Math.abs(lat - n) < 1e-7);
    expect(corner).toBe(true);
    expect(vectorizeMask(new Uint8Array(36), 6, 6, TILE)).toBeNull();
  });
});
