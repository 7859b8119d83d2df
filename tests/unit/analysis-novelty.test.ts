import { describe, expect, it } from 'vitest';
import { KnnNovelty } from '../../server/lib/analysis/novelty.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

describe('KnnNovelty', () => {
  const rng = createRng(1);
  const X = Float32Array.from({ length: 2000 * 4 }, () => rng.normal());
  const model = new KnnNovelty({ k: 5 }).fit(X, 2000, 4);

  it('training-like points sit mid-distribution, far points at the 100th percentile', () => {
    const inside = Float32Array.from({ length: 200 * 4 }, () => rng.normal());
    const p = model.percentile(inside, 200);
    const mean = p.reduce((a, b) => a + b, 0) / 200;
    expect(mean).toBeGreaterThan(30);
    expect(mean).toBeLessThan(75);
    expect(model.percentile(new Float32Array([9, 9, 9, 9]), 1)[0]).toBe(100);
  });
  it('score is the distance to the k-th nearest reference point', () => {
    const X1 = new Float32Array([0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 10, 0]);
    const m = new KnnNovelty({ k: 2 }).fit(X1, 6, 2);
    expect(m.score(new Float32Array([0.5, 0]), 1)[0]).toBeCloseTo(0.5);
    expect(m.score(new Float32Array([20, 0]), 1)[0]).toBeCloseTo(16);
  });
  it('samples the reference set past sampleSize', () => {
    const m = new KnnNovelty({ k: 5, sampleSize: 300 }).fit(X, 2000, 4);
    expect(m.toJSON().referenceKDistances.length).toBe(300);
  });
});
