import { describe, expect, it } from 'vitest';
import { createRng } from '../../server/lib/analysis/random.ts';
import { evaluateConfidence } from '../../server/lib/insights/confidence-intervals.ts';
import type { LatentRows } from '../../server/lib/insights/latent-rows.ts';

describe('evaluateConfidence', () => {
  it('compares the MLP with mean and kNN baselines on one held-out half', () => {
    const n = 1200;
    const rng = createRng(9);
    const k = 2;
    const pcs = new Float32Array(n * k);
    const iou = new Float32Array(n);
    const iouHat = new Float32Array(n);
    const novelty = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      pcs[i * k] = rng.next() * 4;
      pcs[i * k + 1] = rng.next();
      iou[i] = Math.min(1, Math.max(0, pcs[i * k] / 4 + (rng.next() - 0.5) * 0.1));
      iouHat[i] = pcs[i * k] / 4;
      novelty[i] = rng.next() * 100;
    }
    const rows = { n, k, pcs, iou, target: iou, iouHat, novelty } as unknown as LatentRows;
    const rec = evaluateConfidence(rows);
    expect(rec.nominal).toBeCloseTo(0.9);
    expect(rec.nCalibration + rec.nTest).toBe(n);
    expect(rec.methods.mlpMondrian.coverage).toBeGreaterThan(0.85);
    expect(rec.methods.mlpMondrian.r2).toBeGreaterThan(0.9);
    expect(rec.methods.meanMondrian.r2).toBeLessThan(0.05);
    expect(rec.methods.meanMondrian.meanWidth).toBeGreaterThan(rec.methods.mlpMondrian.meanWidth);
    expect(rec.methods.knnMondrian.r2).toBeGreaterThan(0.8);
  });
});
