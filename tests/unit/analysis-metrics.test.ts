import { describe, expect, it } from 'vitest';
import { confusionCounts, metricsFromCounts, MetricsError } from '../../server/lib/analysis/metrics.ts';

describe('confusionCounts', () => {
  it('counts a hand-made 2×4 patch', () => {
    const prob = new Float32Array([0.9, 0.8, 0.2, 0.1, 0.6, 0.4, 0.5, 0.0]);
    const gt = new Uint8Array([1, 0, 1, 0, 1, 1, 0, 0]);
    // 0.5 is not above the threshold
    expect(confusionCounts(prob, gt)).toEqual({ tp: 2, fp: 1, fn: 2, tn: 3 });
    expect(confusionCounts(prob, gt, 0.15)).toEqual({ tp: 4, fp: 2, fn: 0, tn: 2 });
  });
  it('treats any non-zero byte of a mask as positive', () => {
    expect(confusionCounts(new Uint8Array([255, 1, 0]), new Uint8Array([255, 0, 0]))).toEqual({
      tp: 1,
      fp: 1,
      fn: 0,
      tn: 1,
    });
  });
  it('refuses mismatched sizes, naming both', () => {
    expect(() => confusionCounts(new Float32Array(4), new Uint8Array(5))).toThrow(/4 pixels.*5/);
  });
});

describe('metricsFromCounts', () => {
  it('reduces counts to IoU, Dice, precision, recall and shares', () => {
    const m = metricsFromCounts({ tp: 2, fp: 1, fn: 2, tn: 3 });
    expect(m.iou).toBeCloseTo(2 / 5);
    expect(m.dice).toBeCloseTo(4 / 7);
    expect(m.precision).toBeCloseTo(2 / 3);
    expect(m.recall).toBeCloseTo(1 / 2);
    expect(m.gtFraction).toBeCloseTo(4 / 8);
    expect(m.predFraction).toBeCloseTo(3 / 8);
    expect(m.empty).toBe(false);
  });
  it('empty patch: null by default, 1 or 0 on request', () => {
    const c = { tp: 0, fp: 0, fn: 0, tn: 100 };
    expect(metricsFromCounts(c)).toMatchObject({
      iou: null,
      dice: null,
      precision: null,
      recall: null,
      empty: true,
      gtFraction: 0,
    });
    expect(metricsFromCounts(c, 'one')).toMatchObject({ iou: 1, dice: 1, empty: true });
    expect(metricsFromCounts(c, 'zero')).toMatchObject({ iou: 0, dice: 0, empty: true });
  });
  it('no prediction on a patch with buildings: IoU 0, precision undefined, whatever the policy', () => {
    for (const policy of ['null', 'one', 'zero'] as const) {
      expect(metricsFromCounts({ tp: 0, fp: 0, fn: 5, tn: 5 }, policy)).toMatchObject({
        iou: 0,
        dice: 0,
        precision: null,
        recall: 0,
        empty: false,
      });
    }
  });
  it('false alarm on an empty patch: IoU 0, recall undefined', () => {
    expect(metricsFromCounts({ tp: 0, fp: 3, fn: 0, tn: 7 })).toMatchObject({
      iou: 0,
      precision: 0,
      recall: null,
      empty: false,
    });
  });
  it('refuses zero pixels', () => {
    expect(() => metricsFromCounts({ tp: 0, fp: 0, fn: 0, tn: 0 })).toThrow(MetricsError);
  });
});
