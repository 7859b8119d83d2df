import { describe, expect, it } from 'vitest';
import { createRng } from '../../server/lib/analysis/random.ts';
import { conformalQuantile, MondrianConformal } from '../../server/lib/analysis/conformal.ts';

/** Truth = prediction + noise whose spread grows with novelty, as for tiles far from the training data. */
function heteroscedastic(n: number, seed: number) {
  const rng = createRng(seed);
  const pred = new Float32Array(n);
  const truth = new Float32Array(n);
  const novelty = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    novelty[i] = rng.next() * 100;
    pred[i] = 0.3 + 0.4 * rng.next();
    const spread = novelty[i] < 80 ? 0.03 : 0.2;
    truth[i] = pred[i] + (rng.next() * 2 - 1) * spread;
  }
  return { pred, truth, novelty };
}

describe('split-conformal intervals, Mondrian over novelty', () => {
  it('takes the ⌈(n+1)(1−α)⌉-th smallest residual, or Infinity when n is too small', () => {
    expect(
      conformalQuantile(
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9],
        0.1,
      ),
    ).toBeCloseTo(1.8);
    expect(conformalQuantile([0.1, 0.2, 0.3], 0.1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('covers held-out truths near the nominal level, in every novelty bin', () => {
    const cal = heteroscedastic(4000, 1);
    const test = heteroscedastic(4000, 2);
    const m = new MondrianConformal({ alpha: 0.1, binEdges: [80] }).fit(cal.pred, cal.truth, cal.novelty);
    for (const [lo, hi] of [
      [0, 80],
      [80, 100],
    ]) {
      let hits = 0;
      let n = 0;
      for (let i = 0; i < test.pred.length; i++) {
        if (test.novelty[i] < lo || test.novelty[i] >= hi) continue;
        const [a, b] = m.interval(test.pred[i], test.novelty[i]);
        n++;
        if (test.truth[i] >= a && test.truth[i] <= b) hits++;
      }
      expect(hits / n).toBeGreaterThan(0.87);
      expect(hits / n).toBeLessThan(0.93);
    }
    // Wider where the residuals are: about 0.2 × 0.9 vs 0.03 × 0.9.
    expect(m.quantiles[1]).toBeGreaterThan(4 * m.quantiles[0]);
  });

  it('never narrows with novelty and lends the global quantile to a bin too small to calibrate', () => {
    const cal = heteroscedastic(300, 3);
    const m = new MondrianConformal({ alpha: 0.1, binEdges: [50, 99.9], minPerBin: 30 }).fit(
      cal.pred,
      cal.truth,
      cal.novelty,
    );
    expect(m.counts[2]).toBeLessThan(30);
    expect(m.quantiles[1]).toBeGreaterThanOrEqual(m.quantiles[0]);
    expect(m.quantiles[2]).toBeGreaterThanOrEqual(Math.max(m.quantiles[1], m.globalQuantile));
  });

  it('round-trips through JSON and clamps intervals to [0, 1]', () => {
    const cal = heteroscedastic(500, 4);
    const m = new MondrianConformal().fit(cal.pred, cal.truth, cal.novelty);
    const back = MondrianConformal.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    expect(back.interval(0.5, 90)).toEqual(m.interval(0.5, 90));
    const [lo, hi] = back.interval(0.99, 99);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(() => new MondrianConformal().interval(0.5, 10)).toThrow(/not fitted/);
  });
});
