import { describe, expect, it } from 'vitest';
import { blobs } from '../fixtures/blobs.ts';
import { DBSCAN, suggestEps } from '../../server/lib/analysis/dbscan.ts';
import { adjustedRandIndex } from '../../server/lib/analysis/silhouette.ts';

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
