import { describe, expect, it } from 'vitest';
import { StreamingPCA } from '../../server/lib/analysis/pca.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

/** Rows x = mean + A·z with z ~ N(0, diag(s²)) along orthonormal axes A: covariance known exactly. */
function knownCovariance(n: number, d: number, seed: number) {
  const rng = createRng(seed);
  const sd = [5, 3, 2, 0.5];
  const axes = sd.map((_, a) => Float64Array.from({ length: d }, (_, j) => (j === a ? 1 : 0)));
  // Rotate the first two axes by 30° so the loadings are not trivially axis-aligned.
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  axes[0].fill(0).set([c, s], 0);
  axes[1].fill(0).set([-s, c], 0);
  const X = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) X[r * d + j] = 1000 + j + 0.01 * rng.normal();
    for (let a = 0; a < sd.length; a++) {
      const z = sd[a] * rng.normal();
      for (let j = 0; j < d; j++) X[r * d + j] += z * axes[a][j];
    }
  }
  return { X, sd, axes };
}

describe('StreamingPCA', () => {
  it('2-D hand case: points on a line y = x', async () => {
    const X = new Float32Array([0, 0, 1, 1, 2, 2, 3, 3]);
    const pca = await new StreamingPCA({ nComponents: 2, kernel: 'js' }).fit(X, 4, 2);
    expect(pca.components[0]).toBeCloseTo(Math.SQRT1_2);
    expect(pca.components[1]).toBeCloseTo(Math.SQRT1_2);
    expect(pca.explainedVariance[0]).toBeCloseTo(10 / 3); // var of t·√2 with t = 0..3
    expect(pca.explainedVarianceRatio[0]).toBeCloseTo(1);
    expect(Array.from(pca.transform(new Float32Array([1.5, 1.5]), 1))[0]).toBeCloseTo(0);
  });

  for (const kernel of ['onnx', 'js'] as const) {
    it(`recovers a known covariance from chunks, despite a large mean (${kernel} kernel)`, async () => {
      const d = 12;
      const n = 6000;
      const { X, sd, axes } = knownCovariance(n, d, 11);
      const pca = new StreamingPCA({ nComponents: 3, kernel });
      for (let r = 0; r < n; r += 1000) await pca.partialFit(X.subarray(r * d, (r + 1000) * d), 1000);
      await pca.finalize();
      for (let c = 0; c < 3; c++) {
        expect(pca.explainedVariance[c] / sd[c] ** 2).toBeGreaterThan(0.93);
        expect(pca.explainedVariance[c] / sd[c] ** 2).toBeLessThan(1.07);
        let dot = 0;
        for (let j = 0; j < d; j++) dot += pca.components[c * d + j] * axes[c][j];
        expect(Math.abs(dot)).toBeGreaterThan(0.995);
        // sign convention: the largest-magnitude loading is positive
        const row = Array.from(pca.components.subarray(c * d, c * d + d));
        const big = row.reduce((b, v, j) => (Math.abs(v) > Math.abs(row[b]) ? j : b), 0);
        expect(row[big]).toBeGreaterThan(0);
      }
      expect(pca.mean[5]).toBeCloseTo(1005, 1);
      const pcs = pca.transform(X.subarray(0, 1000 * d), 1000);
      let m = 0;
      for (let r = 0; r < 1000; r++) m += pcs[r * 3] / 1000;
      expect(Math.abs(m)).toBeLessThan(0.5);
    });
  }

  it('onnx and js kernels agree', async () => {
    const { X } = knownCovariance(3000, 70, 5);
    const a = await new StreamingPCA({ nComponents: 4, kernel: 'onnx' }).fit(X, 3000, 70);
    const b = await new StreamingPCA({ nComponents: 4, kernel: 'js' }).fit(X, 3000, 70);
    for (let i = 0; i < 4; i++) expect(a.explainedVariance[i]).toBeCloseTo(b.explainedVariance[i], 3);
    for (let i = 0; i < a.components.length; i++) expect(a.components[i]).toBeCloseTo(b.components[i], 3);
  });

  it('refuses chunks of another width and more components than dimensions', async () => {
    const pca = new StreamingPCA({ nComponents: 2, kernel: 'js' });
    await pca.partialFit(new Float32Array(12), 4);
    await expect(pca.partialFit(new Float32Array(8), 2)).rejects.toThrow(/3 dims, this one 4/);
    await expect(
      new StreamingPCA({ nComponents: 5, kernel: 'js' }).partialFit(new Float32Array(8), 2),
    ).rejects.toThrow(/at most 4/);
  });
});
