import { describe, expect, it } from 'vitest';
import {
  boundaryBand,
  boundaryIou,
  distanceToBackground,
  BoundaryIouError,
} from '../../server/lib/insights/boundary-iou.ts';

/** A w×h mask with the rectangle [x0, x1) × [y0, y1) set. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

describe('boundary IoU', () => {
  it('measures chessboard distance to the background, the image border counting as background', () => {
    const d = distanceToBackground(rect(5, 5, 0, 0, 5, 5), 5, 5);
    expect(Array.from(d.subarray(10, 15))).toEqual([1, 2, 3, 2, 1]);
    const hole = rect(5, 5, 0, 0, 5, 5);
    hole[12] = 0;
    expect(distanceToBackground(hole, 5, 5)[12]).toBe(0);
    expect(distanceToBackground(hole, 5, 5)[6]).toBe(1);
  });

  it('keeps a band of width d inside the mask', () => {
    // 10×10 square in a 20×20 image, d = 2: the band is the square minus its 6×6 core.
    const band = boundaryBand(rect(20, 20, 5, 5, 15, 15), 20, 20, 2);
    expect(band.reduce((a, b) => a + b, 0)).toBe(100 - 36);
  });

  it('is 1 for identical masks, null for two empty ones and 0 when one is empty', () => {
    const a = rect(64, 64, 10, 10, 40, 40);
    expect(boundaryIou(a, a, 64, 64)).toBe(1);
    expect(boundaryIou(new Uint8Array(64 * 64), new Uint8Array(64 * 64), 64, 64)).toBeNull();
    expect(boundaryIou(a, new Uint8Array(64 * 64), 64, 64)).toBe(0);
  });

  it('punishes a shifted outline more than area IoU does', () => {
    const w = 100;
    const gt = rect(w, w, 20, 20, 80, 80);
    const pred = rect(w, w, 23, 23, 83, 83);
    let inter = 0;
    let union = 0;
    for (let i = 0; i < gt.length; i++) {
      inter += gt[i] & pred[i];
      union += gt[i] | pred[i];
    }
    const area = inter / union;
    // d = round(0.02 × 141.4) = 3: a 3-px band shifted by 3 px overlaps only where the bands cross.
    const b = boundaryIou(gt, pred, w, w)!;
    expect(area).toBeGreaterThan(0.8);
    expect(b).toBeLessThan(0.3);
    expect(b).toBeGreaterThan(0);
  });

  it('names the mismatch when sizes differ', () => {
    expect(() => boundaryIou(new Uint8Array(10), new Uint8Array(12), 2, 5)).toThrow(BoundaryIouError);
    expect(() => boundaryIou(new Uint8Array(10), new Uint8Array(12), 2, 5)).toThrow(
      /resize the ground truth/,
    );
  });
});
