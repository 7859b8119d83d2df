import { describe, expect, it } from 'vitest';
import { auroc } from '../../server/lib/analysis/rank-statistics.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { ShiftNovelty } from '../../server/lib/analysis/shift-novelty.ts';

const d = 24;
/** Rows on a 4-dimensional subspace plus a little noise: a reference set's activations. */
function rows(
  n: number,
  seed: number,
  shift?: (row: Float32Array, rng: ReturnType<typeof createRng>) => void,
) {
  const rng = createRng(seed);
  const basis = createRng(1);
  const B = Float32Array.from({ length: 4 * d }, () => basis.normal());
  const X = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const z = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    const row = X.subarray(r * d, (r + 1) * d);
    for (let j = 0; j < d; j++) {
      let v = 0.1 * rng.normal();
      for (let k = 0; k < 4; k++) v += z[k] * B[k * d + j];
      row[j] = v;
    }
    shift?.(row, rng);
  }
  return X;
}

const source = (X: Float32Array) => ({
  rows: X.length / d,
  dims: d,
  chunks: () =>
    [0, 1, 2, 3].map((c) => {
      const n = X.length / d / 4;
      return { start: c * n, rows: n, data: X.subarray(c * n * d, (c + 1) * n * d) };
    }),
});

describe('ShiftNovelty', () => {
  it('reads fresh tiles of the reference distribution as typical: percentiles spread evenly, ~1 % past the edge', async () => {
    const model = await new ShiftNovelty({ nComponents: 8, seed: 2 }).fit(source(rows(2000, 1)));
    const s = model.score(rows(1000, 7), 1000);
    const mean = s.percentile.reduce((a, b) => a + b, 0) / 1000;
    expect(mean).toBeGreaterThan(40);
    expect(mean).toBeLessThan(60);
    const beyond = s.ratio.filter((r) => r > 1).length / 1000;
    expect(beyond).toBeLessThan(0.04);
  });

  it('notices a shift off the reference subspace', async () => {
    const model = await new ShiftNovelty({ nComponents: 8, seed: 2 }).fit(source(rows(2000, 1)));
    const familiar = model.score(rows(500, 8), 500);
    // Each row gains energy in directions the reference never used, at its usual scale inside the subspace.
    const off = rows(500, 9, (row, rng) => {
      for (let j = 0; j < d; j++) row[j] += 0.6 * rng.normal();
    });
    const shifted = model.score(off, 500);
    expect(auroc(shifted.ratio, familiar.ratio)).toBeGreaterThan(0.95);
    expect(auroc(shifted.residualRatio, familiar.residualRatio)).toBeGreaterThan(0.95);
    const median = Float32Array.from(shifted.ratio).sort()[250];
    expect(median).toBeGreaterThan(1);
  });

  it('calibrates a small reference on its own rows, and refuses one too small to describe', async () => {
    const small = await new ShiftNovelty({ nComponents: 8 }).fit(source(rows(48, 1)));
    expect(small.toJSON().calibration).toBe('in-sample');
    expect(small.nComponents).toBeLessThanOrEqual(8);
    const big = await new ShiftNovelty({ nComponents: 8 }).fit(source(rows(2000, 1)));
    expect(big.toJSON().calibration).toBe('held-out');
    await expect(new ShiftNovelty({ nComponents: 8 }).fit(source(rows(4, 1)))).rejects.toThrow(/too few/);
  });
});
