import { describe, expect, it } from 'vitest';
import { applyLook, chooseRegionLook, dehaze, sharpen } from '../../server/lib/analysis/restoration.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { hazed } from '../fixtures/hazed.ts';

const SIDE = 64;

/** A scene with shadows down to black, bright roofs up to white and grey-green ground between. */
function scene(seed: number): Uint8Array {
  const rng = createRng(seed);
  const out = new Uint8Array(SIDE * SIDE * 3);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const r = rng.next();
    const v =
      r < 0.05 ? [0, 0, 0] : r > 0.95 ? [250, 248, 245] : [70 + 60 * rng.next(), 100, 60 + 40 * rng.next()];
    out.set(v.map(Math.round), 3 * i);
  }
  return out;
}

const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

/** The steepest step between horizontal neighbours: how sharp the tile's sharpest edge is. */
function steepest(rgb: Uint8Array): number {
  let max = 0;
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE - 1; x++)
      max = Math.max(max, Math.abs(rgb[3 * (y * SIDE + x + 1)] - rgb[3 * (y * SIDE + x)]));
  return max;
}

describe('dehaze', () => {
  it('undoes most of a uniform haze', () => {
    const clear = scene(1);
    const hazy = hazed(clear, 0.45);
    const restored = dehaze(hazy)!;
    expect(restored).not.toBeNull();
    // The hazy tile is ~50 grey levels off; the restored one a few (the prior keeps 5 % of the haze).
    expect(meanAbs(hazy, clear)).toBeGreaterThan(40);
    expect(meanAbs(restored, clear)).toBeLessThan(0.2 * meanAbs(hazy, clear));
    // Contrast comes back: black shadows are dark again.
    expect(
      restored[0 + 3 * Array.from({ length: SIDE * SIDE }, (_, i) => i).find((i) => clear[3 * i] === 0)!],
    ).toBeLessThan(20);
  });

  it('leaves a tile whose darkest pixels are black alone', () => {
    expect(dehaze(scene(2))).toBeNull();
  });

  it('never amplifies beyond the least transmission', () => {
    // A flat bright tile looks like pure airlight: the restoration is bounded, not divided by ~0.
    const flat = new Uint8Array(SIDE * SIDE * 3).fill(200);
    flat[0] = 190;
    const restored = dehaze(flat);
    if (restored) expect(Math.abs(restored[0] - 200)).toBeLessThanOrEqual(Math.ceil(10 / 0.3));
  });
});

describe('sharpen', () => {
  it('steepens a blurred edge and leaves flat ground flat', () => {
    const edge = new Uint8Array(SIDE * SIDE * 3);
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++) {
        const v = Math.round(80 + 100 / (1 + Math.exp(-(x - SIDE / 2) / 1.2)));
        edge.fill(v, 3 * (y * SIDE + x), 3 * (y * SIDE + x) + 3);
      }
    const sharper = sharpen(edge, SIDE, SIDE);
    expect(steepest(sharper)).toBeGreaterThan(1.2 * steepest(edge));
    // Far from the edge nothing changes.
    expect(sharper[3 * (10 * SIDE + 2)]).toBe(edge[3 * (10 * SIDE + 2)]);
    expect(sharpen(new Uint8Array(SIDE * SIDE * 3).fill(123), SIDE, SIDE).every((v) => v === 123)).toBe(true);
  });

  it('refuses a buffer that is not the tile it is told', () => {
    expect(() => sharpen(new Uint8Array(10), SIDE, SIDE)).toThrow(/64×64 RGB/);
  });
});

describe('applyLook and chooseRegionLook', () => {
  it('shows a tile as each look', () => {
    const clear = scene(3);
    expect(applyLook(clear, 'original', SIDE, SIDE)).toBe(clear);
    // A tile without haze is its own dehazed look.
    expect(applyLook(clear, 'dehazed', SIDE, SIDE)).toBe(clear);
    const hazy = hazed(clear, 0.4);
    expect(meanAbs(applyLook(hazy, 'dehazed', SIDE, SIDE), clear)).toBeLessThan(0.2 * meanAbs(hazy, clear));
    expect(applyLook(clear, 'sharpened', SIDE, SIDE)).toEqual(sharpen(clear, SIDE, SIDE));
  });

  it('restores a region only when the median tile comes clearly closer to the reference', () => {
    // Ratios per tile in LOOKS' order: original, dehazed, sharpened.
    const region = (rows: number[][]) => chooseRegionLook(rows).look;
    expect(region([])).toBe('original');
    expect(region([[1, 0.9, 0.95]])).toBe('original'); // not 25 % closer
    expect(region([[1, 0.5, 0.7]])).toBe('dehazed');
    expect(region([[1, 0.7, 0.4]])).toBe('sharpened');
    expect(region([[0, 0, 0]])).toBe('original'); // exactly like the reference: as served
    // The median decides, not the odd tile: two of three tiles come no closer.
    const r = chooseRegionLook([
      [1, 0.1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
    expect(r).toEqual({ look: 'original', medians: { original: 1, dehazed: 1, sharpened: 1 }, sampled: 3 });
  });
});
