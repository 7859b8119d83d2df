import { describe, expect, it } from 'vitest';
import { jacobiEigen, topEigen } from '../../server/lib/analysis/eigen.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

describe('eigen', () => {
  it('Jacobi on a 2×2 hand case', () => {
    const { values, vectors } = jacobiEigen(new Float64Array([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3);
    expect(values[1]).toBeCloseTo(1);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2);
    expect(vectors[0] * vectors[1]).toBeCloseTo(0.5);
  });
  it('subspace iteration finds the leading eigenpairs of a 120×120 matrix with a known spectrum', () => {
    const d = 120;
    const rng = createRng(3);
    // Q from Gram–Schmidt of a random matrix; C = Q diag(λ) Qᵀ
    const Q = Float64Array.from({ length: d * d }, () => rng.normal());
    for (let j = 0; j < d; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < d; r++) dot += Q[r * d + i] * Q[r * d + j];
        for (let r = 0; r < d; r++) Q[r * d + j] -= dot * Q[r * d + i];
      }
      let norm = 0;
      for (let r = 0; r < d; r++) norm += Q[r * d + j] ** 2;
      for (let r = 0; r < d; r++) Q[r * d + j] /= Math.sqrt(norm);
    }
    const lambda = Array.from({ length: d }, (_, i) => 100 / (i + 1));
    const C = new Float64Array(d * d);
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++)
        for (let i = 0; i < d; i++) C[a * d + b] += Q[a * d + i] * lambda[i] * Q[b * d + i];
    const { values, vectors } = topEigen(C, d, 9);
    for (let i = 0; i < 9; i++) {
      expect(values[i]).toBeCloseTo(lambda[i], 6);
      let dot = 0;
      for (let r = 0; r < d; r++) dot += vectors[i * d + r] * Q[r * d + i];
      expect(Math.abs(dot)).toBeCloseTo(1, 6);
    }
  });
});
