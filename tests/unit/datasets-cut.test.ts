import { describe, expect, it } from 'vitest';
import {
  cropWindow,
  cutWindows,
  resizeMaskNearest,
  toRgb8,
  windowKey,
} from '../../server/lib/datasets/cut.ts';

describe('cutWindows', () => {
  it('pads the ragged edge and records the real extent', () => {
    const w = cutWindows(600, 300, 256, 256, 'pad');
    expect(w.map((v) => [v.x, v.y, v.w, v.h])).toEqual([
      [0, 0, 256, 256],
      [256, 0, 256, 256],
      [512, 0, 88, 256],
      [0, 256, 256, 44],
      [256, 256, 256, 44],
      [512, 256, 88, 44],
    ]);
    expect(windowKey('a/b.png', w[2])).toBe('a/b.png#512,0,88,256');
  });

  it('drops the ragged edge when asked, and stops at an exact fit', () => {
    expect(cutWindows(600, 300, 256, 256, 'drop').map((v) => [v.x, v.y])).toEqual([
      [0, 0],
      [256, 0],
    ]);
    expect(cutWindows(512, 512, 256, 256, 'pad')).toHaveLength(4);
    // Overlapping windows: stride 128 on 512 → 0, 128, 256 (the last one reaches the edge).
    expect(cutWindows(512, 256, 256, 128, 'pad').map((v) => v.x)).toEqual([0, 128, 256]);
    expect(cutWindows(100, 100, 256, 256, 'drop')).toEqual([]);
  });

  it('shifts the last window back inside the image', () => {
    // Rio's 438×406 scenes: four real windows, none padded.
    expect(cutWindows(438, 406, 256, 256, 'shift').map((v) => [v.x, v.y, v.w, v.h])).toEqual([
      [0, 0, 256, 256],
      [182, 0, 256, 256],
      [0, 150, 256, 256],
      [182, 150, 256, 256],
    ]);
    expect(cutWindows(512, 512, 256, 256, 'shift')).toHaveLength(4);
    expect(cutWindows(100, 300, 256, 256, 'shift').map((v) => [v.x, v.y, v.w, v.h])).toEqual([
      [0, 0, 100, 256],
      [0, 44, 100, 256],
    ]);
  });

  it('crops with zero padding outside the image', () => {
    const img = Uint8Array.from({ length: 3 * 2 }, (_, i) => i + 1); // 3×2, one channel
    const out = cropWindow(img, 3, 1, { x: 1, y: 0, w: 2, h: 2 }, 3);
    expect(Array.from(out)).toEqual([2, 3, 0, 5, 6, 0, 0, 0, 0]);
  });

  it('resizes masks without inventing classes', () => {
    const m = Uint8Array.from([0, 1, 1, 0]);
    const out = resizeMaskNearest(m, 2, 2, 4);
    expect(new Set(out)).toEqual(new Set([0, 1]));
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 0, 1, 1]);
  });
});

describe('toRgb8', () => {
  it('drops the alpha band of RGBA and repeats grey', () => {
    const rgba = {
      data: Uint8Array.from([10, 20, 30, 255, 40, 50, 60, 0]),
      width: 2,
      height: 1,
      channels: 4,
      bits: 8,
    };
    expect(Array.from(toRgb8(rgba, 'x'))).toEqual([10, 20, 30, 40, 50, 60]);
    const grey = { data: Uint8Array.from([7, 9]), width: 2, height: 1, channels: 1, bits: 8 };
    expect(Array.from(toRgb8(grey, 'x'))).toEqual([7, 7, 7, 9, 9, 9]);
  });

  it('stretches 16-bit bands to 0..255 by their 2–98 % percentiles', () => {
    const n = 100;
    const data = new Uint16Array(n * 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = 1000 + i * 10 * (c + 1);
    const out = toRgb8({ data, width: n, height: 1, channels: 3, bits: 16 }, 'x');
    expect(out[0]).toBe(0);
    expect(out[(n - 1) * 3]).toBe(255);
    expect(out[50 * 3]).toBeGreaterThan(110);
    expect(out[50 * 3]).toBeLessThan(145);
  });
});
