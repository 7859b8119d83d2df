/**
 * Streaming PCA: mean and covariance accumulated in float64 over chunks (memory O(d²), independent of the row
 * count), then the leading eigenvectors of the covariance. Data are shifted by the first chunk's mean before the
 * Gram update so that E[xxᵀ] − E[x]E[x]ᵀ does not cancel catastrophically when activations sit far from 0.
 */
import {
  assertFeatures,
  assertFitted,
  assertKind,
  EstimatorError,
  type EstimatorJSON,
  type Transformer,
} from './estimator.ts';
import { topEigen } from './eigen.ts';
import { createGramKernel, type GramKernel, type GramKernelKind } from './gram.ts';

export interface StreamingPCAParams {
  nComponents?: number;
  /** 'onnx' (default, native GEMM) or 'js'. Both give the same result to float32 rounding. */
  kernel?: GramKernelKind;
}

export interface StreamingPCAJSON extends EstimatorJSON {
  kind: 'StreamingPCA';
  nComponents: number;
  dims: number;
  nSamples: number;
  mean: number[];
  components: number[][];
  explainedVariance: number[];
  explainedVarianceRatio: number[];
  totalVariance: number;
}

export class StreamingPCA implements Transformer {
  readonly nComponents: number;
  readonly kernelKind: GramKernelKind;
  dims = 0;
  nSamples = 0;
  mean: Float64Array = new Float64Array(0);
  /** k×d row-major; each row a unit vector whose largest-magnitude loading is positive. */
  components: Float64Array = new Float64Array(0);
  explainedVariance: Float64Array = new Float64Array(0);
  explainedVarianceRatio: Float64Array = new Float64Array(0);
  totalVariance = 0;
  private shift: Float64Array | null = null;
  private sum: Float64Array | null = null;
  private gram: Float64Array | null = null;
  private kernel: Promise<GramKernel> | null = null;
  private isFitted = false;

  constructor(params: StreamingPCAParams = {}) {
    this.nComponents = params.nComponents ?? 9;
    this.kernelKind = params.kernel ?? 'onnx';
    if (!Number.isInteger(this.nComponents) || this.nComponents <= 0) {
      throw new EstimatorError(
        `StreamingPCA: nComponents must be a positive integer, got ${this.nComponents}`,
      );
    }
  }

  get fitted(): boolean {
    return this.isFitted;
  }

  async partialFit(chunk: Float32Array, nRows: number): Promise<this> {
    if (nRows === 0) return this;
    if (this.shift && !this.gram) {
      throw new EstimatorError(
        'StreamingPCA.partialFit: already finalized; create a new StreamingPCA (or call fit) to start over',
      );
    }
    const d = chunk.length / nRows;
    if (!Number.isInteger(d) || d <= 0) {
      throw new EstimatorError(
        `StreamingPCA.partialFit: ${chunk.length} values do not split into ${nRows} rows`,
      );
    }
    if (!this.shift) {
      if (d < this.nComponents) {
        throw new EstimatorError(
          `StreamingPCA: ${this.nComponents} components asked of ${d}-dimensional data; ask for at most ${d}`,
        );
      }
      this.dims = d;
      this.shift = new Float64Array(d);
      for (let r = 0; r < nRows; r++) for (let j = 0; j < d; j++) this.shift[j] += chunk[r * d + j];
      for (let j = 0; j < d; j++) this.shift[j] /= nRows;
      this.sum = new Float64Array(d);
      this.gram = new Float64Array(d * d);
      this.kernel = createGramKernel(d, this.kernelKind);
    } else if (d !== this.dims) {
      throw new EstimatorError(
        `StreamingPCA.partialFit: earlier chunks had ${this.dims} dims, this one ${d}; feed rows from one capture`,
      );
    }
    const shifted = new Float32Array(nRows * d);
    const shift = this.shift;
    const sum = this.sum!;
    for (let r = 0; r < nRows; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) {
        const v = chunk[o + j] - shift[j];
        shifted[o + j] = v;
        sum[j] += v;
      }
    }
    await (await this.kernel!).accumulate(shifted, nRows, this.gram!);
    this.nSamples += nRows;
    this.isFitted = false;
    return this;
  }

  async finalize(): Promise<this> {
    if (!this.shift || this.nSamples < 2) {
      throw new EstimatorError(
        `StreamingPCA.finalize: needs at least 2 rows, got ${this.nSamples}; call partialFit first`,
      );
    }
    const d = this.dims;
    const n = this.nSamples;
    const sum = this.sum!;
    const cov = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) cov[i * d + j] = (this.gram![i * d + j] - (sum[i] * sum[j]) / n) / (n - 1);
    }
    for (let i = 0; i < d; i++)
      for (let j = 0; j < i; j++) cov[i * d + j] = cov[j * d + i] = (cov[i * d + j] + cov[j * d + i]) / 2;
    let trace = 0;
    for (let i = 0; i < d; i++) trace += cov[i * d + i];
    const k = this.nComponents;
    const { values, vectors } = topEigen(cov, d, k);
    for (let c = 0; c < k; c++) {
      let best = 0;
      for (let j = 0; j < d; j++)
        if (Math.abs(vectors[c * d + j]) > Math.abs(vectors[c * d + best])) best = j;
      if (vectors[c * d + best] < 0) for (let j = 0; j < d; j++) vectors[c * d + j] = -vectors[c * d + j];
    }
    this.mean = new Float64Array(d);
    for (let j = 0; j < d; j++) this.mean[j] = this.shift[j] + sum[j] / n;
    this.components = vectors;
    this.explainedVariance = values.map((v) => Math.max(v, 0));
    this.totalVariance = trace;
    this.explainedVarianceRatio = this.explainedVariance.map((v) => (trace > 0 ? v / trace : 0));
    this.isFitted = true;
    await (await this.kernel!).dispose();
    this.kernel = null;
    this.gram = null;
    return this;
  }

  /** Whole-matrix convenience for the estimator contract. */
  async fit(X: Float32Array, nRows: number, nFeatures: number): Promise<this> {
    if (X.length !== nRows * nFeatures) {
      throw new EstimatorError(`StreamingPCA.fit: expected ${nRows}×${nFeatures} values, got ${X.length}`);
    }
    this.reset();
    await this.partialFit(X, nRows);
    return this.finalize();
  }

  private reset(): void {
    this.shift = this.sum = this.gram = null;
    this.nSamples = 0;
    this.isFitted = false;
  }

  transform(chunk: Float32Array, nRows: number): Float32Array {
    assertFitted('StreamingPCA', this.isFitted);
    assertFeatures('StreamingPCA.transform', chunk, nRows, this.dims);
    const d = this.dims;
    const k = this.nComponents;
    const W = this.components;
    const offset = new Float64Array(k);
    for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) offset[c] += this.mean[j] * W[c * d + j];
    const out = new Float32Array(nRows * k);
    for (let r = 0; r < nRows; r++) {
      const o = r * d;
      for (let c = 0; c < k; c++) {
        const w = c * d;
        let a0 = 0;
        let a1 = 0;
        let j = 0;
        for (; j + 1 < d; j += 2) {
          a0 += chunk[o + j] * W[w + j];
          a1 += chunk[o + j + 1] * W[w + j + 1];
        }
        if (j < d) a0 += chunk[o + j] * W[w + j];
        out[r * k + c] = a0 + a1 - offset[c];
      }
    }
    return out;
  }

  toJSON(): StreamingPCAJSON {
    assertFitted('StreamingPCA', this.isFitted);
    const d = this.dims;
    return {
      kind: 'StreamingPCA',
      nComponents: this.nComponents,
      dims: d,
      nSamples: this.nSamples,
      mean: Array.from(this.mean),
      components: Array.from({ length: this.nComponents }, (_, c) =>
        Array.from(this.components.subarray(c * d, c * d + d)),
      ),
      explainedVariance: Array.from(this.explainedVariance),
      explainedVarianceRatio: Array.from(this.explainedVarianceRatio),
      totalVariance: this.totalVariance,
    };
  }

  static fromJSON(json: StreamingPCAJSON): StreamingPCA {
    assertKind('StreamingPCA', json, 'StreamingPCA');
    const pca = new StreamingPCA({ nComponents: json.nComponents });
    pca.dims = json.dims;
    pca.nSamples = json.nSamples;
    pca.mean = Float64Array.from(json.mean);
    pca.components = Float64Array.from(json.components.flat());
    pca.explainedVariance = Float64Array.from(json.explainedVariance);
    pca.explainedVarianceRatio = Float64Array.from(json.explainedVarianceRatio);
    pca.totalVariance = json.totalVariance;
    pca.isFitted = true;
    return pca;
  }
}
