import { describe, expect, it } from 'vitest';
import { lonLatToWorldPixel, tileBounds } from '../../server/lib/geo/tiles.ts';
import { pixelRect, rangesOverlap, scoringRange } from '../../server/lib/overlays/overlay-grid.ts';

describe('scoringRange: which z18 tiles a map tile shows', () => {
  it('z18: exactly one tile, 256 px', () => {
    expect(scoringRange(18, 1000, 2000, 18)).toMatchObject({
      minX: 1000,
      maxX: 1000,
      minY: 2000,
      maxY: 2000,
      pixelsPerTile: 256,
      tilesPerPixel: 1,
    });
  });

  it('z16: 4 × 4 tiles of 64 px', () => {
    expect(scoringRange(16, 10, 20, 18)).toMatchObject({
      minX: 40,
      maxX: 43,
      minY: 80,
      maxY: 83,
      pixelsPerTile: 64,
      tilesPerPixel: 1,
    });
  });

  it('z10: 256 × 256 tiles of 1 px', () => {
    expect(scoringRange(10, 3, 5, 18)).toMatchObject({
      minX: 768,
      maxX: 1023,
      minY: 1280,
      maxY: 1535,
      pixelsPerTile: 1,
      tilesPerPixel: 1,
    });
  });

  it('z8: 1024 tiles per side, 4 per pixel', () => {
    expect(scoringRange(8, 1, 1, 18)).toMatchObject({
      minX: 1024,
      maxX: 2047,
      pixelsPerTile: 1,
      tilesPerPixel: 4,
    });
  });

  it('z20: inside one scoring tile, upsampled 4×', () => {
    expect(scoringRange(20, 4003, 8001, 18)).toMatchObject({
      minX: 1000,
      maxX: 1000,
      minY: 2000,
      maxY: 2000,
      pixelsPerTile: 1024,
    });
  });

  it('rejects tiles outside the grid with a message naming the tile', () => {
    expect(() => scoringRange(3, 8, 0, 18)).toThrow(/3\/8\/0 is outside/);
    expect(() => scoringRange(2.5, 0, 0, 18)).toThrow(/zoom 2.5/);
  });
});

describe('pixelRect agrees with the Web Mercator projection', () => {
  // Independently: a scoring tile's north-west corner projected to world pixels at the view zoom.
  function expectedCorner(z: number, x: number, y: number, sx: number, sy: number): [number, number] {
    const [w, , , n] = tileBounds(18, sx, sy);
    const [px, py] = lonLatToWorldPixel(w, n, z);
    return [px - x * 256, py - y * 256];
  }

  for (const z of [11, 13, 15, 16, 17, 18]) {
    it(`z${z}: every sampled tile's square starts at its projected corner`, () => {
      const [mx, my] = [Math.floor(150_000 / 2 ** (18 - z)), Math.floor(100_000 / 2 ** (18 - z))];
      const range = scoringRange(z, mx, my, 18);
      for (let k = 0; k < 25; k++) {
        const sx = range.minX + Math.floor(((range.maxX - range.minX) * k) / 24);
        const sy = range.minY + Math.floor(((range.maxY - range.minY) * (24 - k)) / 24);
        const r = pixelRect(range, sx, sy);
        const [ex, ey] = expectedCorner(z, mx, my, sx, sy);
        expect(r.px).toBeCloseTo(ex, 6);
        expect(r.py).toBeCloseTo(ey, 6);
        expect(r.size).toBe(2 ** (z - 10));
        expect(r.px).toBeGreaterThanOrEqual(0);
        expect(r.px + r.size).toBeLessThanOrEqual(256);
      }
    });
  }

  it('z8: four neighbouring columns share one pixel', () => {
    const range = scoringRange(8, 1, 1, 18);
    const cols = [1024, 1025, 1026, 1027, 1028].map((sx) => pixelRect(range, sx, 1024).px);
    expect(cols).toEqual([0, 0, 0, 0, 1]);
    expect(pixelRect(range, 2047, 2047)).toEqual({ px: 255, py: 255, size: 1 });
  });

  it('z19: the square is 512 px and starts left of or at the map tile', () => {
    const right = pixelRect(scoringRange(19, 2001, 4000, 18), 1000, 2000);
    expect(right).toEqual({ px: -256, py: 0, size: 512 });
    const left = pixelRect(scoringRange(19, 2000, 4001, 18), 1000, 2000);
    expect(left).toEqual({ px: 0, py: -256, size: 512 });
  });

  it('rangesOverlap', () => {
    const a = { minX: 0, maxX: 9, minY: 0, maxY: 9 };
    expect(rangesOverlap(a, { minX: 9, maxX: 20, minY: 9, maxY: 20 })).toBe(true);
    expect(rangesOverlap(a, { minX: 10, maxX: 20, minY: 0, maxY: 9 })).toBe(false);
  });
});
