import { describe, expect, it } from 'vitest';
import { DBSCAN, suggestEps } from '../../server/lib/analysis/dbscan.ts';
import { KdTree } from '../../server/lib/analysis/kdtree.ts';
import { KMeans } from '../../server/lib/analysis/kmeans.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { adjustedRandIndex, sampledSilhouette, sweepKMeans } from '../../server/lib/analysis/silhouette.ts';

/** Well-separated Gaussian blobs in d dims; returns data and true labels. */
export function blobs(n: number, d: number, centres: number, seed: number, spread = 0.5) {
  const rng = createRng(seed);
  const C = Float32Array.from({ length: centres * d }, () => rng.normal() * 10);
  const X = new Float32Array(n * d);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % centres;
    truth[i] = c;
    for (let j = 0; j < d; j++) X[i * d + j] = C[c * d + j] + spread * rng.normal();
  }
  return { X, truth };
}

describe('KMeans', () => {
  it('recovers separated blobs; inertia is the sum of squared distances to centroids', () => {
    const { X, truth } = blobs(600, 3, 4, 1);
    const km = new KMeans({ k: 4, seed: 3 }).fit(X, 600, 3);
    const labels = km.predict(X, 600);
    expect(adjustedRandIndex(labels, truth)).toBeCloseTo(1, 6);
    let inertia = 0;
    for (let i = 0; i < 600; i++)
      for (let j = 0; j < 3; j++) inertia += (X[i * 3 + j] - km.centroids[labels[i] * 3 + j]) ** 2;
    expect(km.inertia).toBeCloseTo(inertia, 2);
  });
  it('refuses more clusters than rows', () => {
    expect(() => new KMeans({ k: 5 }).fit(new Float32Array(8), 4, 2)).toThrow(/k ≤ 4/);
  });
});

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

describe('KdTree', () => {
  it('knn and radius queries match brute force', () => {
    const { X } = blobs(700, 5, 3, 6, 3);
    const tree = new KdTree(X, 5);
    const out = new Float64Array(4);
    for (const q of [0, 17, 399]) {
      const all = Array.from({ length: 700 }, (_, i) => {
        let s = 0;
        for (let j = 0; j < 5; j++) s += (X[q * 5 + j] - X[i * 5 + j]) ** 2;
        return s;
      });
      const sorted = all.filter((_, i) => i !== q).sort((a, b) => a - b);
      tree.knn(X, q * 5, 4, out, q);
      for (let i = 0; i < 4; i++) expect(out[i]).toBeCloseTo(sorted[i], 6);
      const r = Math.sqrt(sorted[20]);
      expect(tree.radius(X, q * 5, r).sort((a, b) => a - b)).toEqual(
        all.map((s, i) => (s <= r * r ? i : -1)).filter((i) => i >= 0),
      );
    }
  });
});

describe('DBSCAN', () => {
  it('finds blobs and marks far outliers as noise', () => {
    const { X, truth } = blobs(900, 3, 3, 7, 0.3);
    const withOutliers = new Float32Array([...X, 100, 100, 100, -100, 50, 0]);
    const eps = suggestEps(withOutliers, 902, 3, { k: 5 });
    expect(eps).toBeGreaterThan(0.05);
    expect(eps).toBeLessThan(5);
    const r = new DBSCAN({ eps, minPts: 5 }).fitPredict(withOutliers, 902, 3);
    expect(r.nClusters).toBe(3);
    expect(r.labels[900]).toBe(-1);
    expect(r.labels[901]).toBe(-1);
    expect(adjustedRandIndex(r.labels.subarray(0, 900), truth)).toBeGreaterThan(0.98);
  });
  it('on a sample, assigns the remaining rows to the nearest core point or noise', () => {
    const { X, truth } = blobs(4000, 3, 3, 8, 0.3);
    const r = new DBSCAN({ eps: 0.6, minPts: 5, sampleSize: 1000 }).fitPredict(X, 4000, 3);
    expect(r.sampled).toBe(1000);
    expect(r.nClusters).toBe(3);
    expect(r.noiseShare).toBeLessThan(0.02);
    expect(adjustedRandIndex(r.labels, truth)).toBeGreaterThan(0.95);
  });
});
