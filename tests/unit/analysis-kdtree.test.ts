import { describe, expect, it } from 'vitest';
import { blobs } from '../fixtures/blobs.ts';
import { KdTree } from '../../server/lib/analysis/kdtree.ts';

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
