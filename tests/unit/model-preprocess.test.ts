import { describe, expect, it } from 'vitest';
import { prepareBatch, resizeBilinearHWC, resizeMask, tileShape } from '../../server/lib/model/preprocess.ts';

describe('resizeBilinearHWC', () => {
  it('halves a tile by the 2×2 mean, as the demo model was trained', () => {
    const src = Uint8Array.from({ length: 4 * 4 }, (_, i) => i * 10);
    const out = resizeBilinearHWC(src, 4, 4, 2, 2, 1);
    expect([...out]).toEqual([
      (0 + 10 + 40 + 50) / 4,
      (20 + 30 + 60 + 70) / 4,
      (80 + 90 + 120 + 130) / 4,
      (100 + 110 + 140 + 150) / 4,
    ]);
  });

  it('interpolates when enlarging and clamps at the border', () => {
    const out = resizeBilinearHWC(Uint8Array.from([0, 100]), 1, 2, 1, 4, 1);
    expect([...out]).toEqual([0, 25, 75, 100]);
  });
});

describe('resizeMask', () => {
  it('keeps a pixel when at least half its 2×2 block is building', () => {
    const mask = Uint8Array.from([1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
    expect([...resizeMask(mask, 4, 4, 2, 2)]).toEqual([1, 0, 0, 1]);
  });
});

describe('prepareBatch', () => {
  const norm = { mean: [0.5, 0.25, 0], std: [0.5, 0.25, 1], scale: 255 };
  const tile = Uint8Array.from([255, 0, 51, 0, 255, 102]); // 1×2 pixels

  it('normalises per channel into NCHW and NHWC', () => {
    const nchw = prepareBatch(tile, 1, [1, 2], [1, 2], norm, 'NCHW');
    expect([...nchw].map((v) => +v.toFixed(4))).toEqual([1, -1, -1, 3, 0.2, 0.4]);
    const nhwc = prepareBatch(tile, 1, [1, 2], [1, 2], norm, 'NHWC');
    expect([...nhwc].map((v) => +v.toFixed(4))).toEqual([1, -1, 0.2, -1, 3, 0.4]);
  });
});

describe('tileShape', () => {
  it('infers square tiles and checks a given size', () => {
    expect(tileShape(2 * 256 * 256 * 3, 2)).toEqual([256, 256]);
    expect(tileShape(2 * 256 * 128 * 3, 2)).toBeNull();
    expect(tileShape(2 * 256 * 128 * 3, 2, [256, 128])).toEqual([256, 128]);
  });
});
