import { describe, expect, it } from 'vitest';
import { blobs } from '../fixtures/blobs.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { adjustedRandIndex, sampledSilhouette, sweepKMeans } from '../../server/lib/analysis/silhouette.ts';

describe('silhouette and the k sweep', () => {
  it('silhouette is near 1 for tight blobs and near 0 for an arbitrary split of one blob', () => {
    const { X, truth } = blobs(400, 2, 3, 2, 0.1);
    expect(sampledSilhouette(X, 400, 2, truth)).toBeGreaterThan(0.9);
    const one = blobs(400, 2, 1, 3).X;
    const halves = Int32Array.from({ length: 400 }, (_, i) => i % 2);
    expect(Math.abs(sampledSilhouette(one, 400, 2, halves))).toBeLessThan(0.05);
  });
  it('uses only a sample past sampleSize and agrees with the full value', () => {
    const { X, truth } = blobs(3000, 2, 3, 4);
    const full = sampledSilhouette(X, 3000, 2, truth, { sampleSize: 3000 });
    expect(sampledSilhouette(X, 3000, 2, truth, { sampleSize: 500, seed: 1 })).toBeCloseTo(full, 1);
  });
  it('picks the true k and assigns every row when fitting on a sample', () => {
    const { X, truth } = blobs(3000, 4, 5, 5);
    const r = sweepKMeans(X, 3000, 4, { kMin: 2, kMax: 8, seed: 1, fitSampleSize: 800 });
    expect(r.chosenK).toBe(5);
    expect(r.sweep.map((s) => s.k)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(r.labels.length).toBe(3000);
    expect(adjustedRandIndex(r.labels, truth)).toBeGreaterThan(0.99);
  });
  it('adjusted Rand index: 1 for the same partition relabelled, ~0 for random labels', () => {
    const a = Int32Array.from({ length: 1000 }, (_, i) => i % 4);
    const b = a.map((v) => (v + 1) % 4);
    expect(adjustedRandIndex(a, b)).toBeCloseTo(1);
    const rng = createRng(9);
    const r = Int32Array.from({ length: 1000 }, () => rng.int(4));
    expect(Math.abs(adjustedRandIndex(a, r))).toBeLessThan(0.02);
  });
});
