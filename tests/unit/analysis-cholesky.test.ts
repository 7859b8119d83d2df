import { describe, expect, it } from 'vitest';
import { invertSpd, solveSpd } from '../../server/lib/analysis/cholesky.ts';

describe('cholesky', () => {
  const A = [4, 2, 0.4, 2, 5, 1, 0.4, 1, 3];

  it('solves A x = b and inverts A so that A A⁻¹ = I', () => {
    const x = solveSpd(A, [1, 2, 3], 3)!;
    for (let i = 0; i < 3; i++) {
      const row = A[i * 3] * x[0] + A[i * 3 + 1] * x[1] + A[i * 3 + 2] * x[2];
      expect(row).toBeCloseTo([1, 2, 3][i], 12);
    }
    const inv = invertSpd(A, 3)!;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += A[i * 3 + k] * inv[k * 3 + j];
        expect(s).toBeCloseTo(i === j ? 1 : 0, 12);
      }
  });

  it('answers null for a matrix that is not positive definite', () => {
    expect(invertSpd([1, 2, 2, 1], 2)).toBeNull();
    expect(solveSpd([0, 0, 0, 0], [1, 1], 2)).toBeNull();
  });
});
