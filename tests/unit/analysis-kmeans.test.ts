import { describe, expect, it } from 'vitest';
import { blobs } from '../fixtures/blobs.ts';
import { KMeans } from '../../server/lib/analysis/kmeans.ts';
import { adjustedRandIndex } from '../../server/lib/analysis/silhouette.ts';

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
