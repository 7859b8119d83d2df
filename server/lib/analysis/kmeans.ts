/**
 * k-means (Lloyd) with k-means++ seeding and several restarts, keeping the lowest inertia — scikit-learn's KMeans.
 */
import {
  assertFeatures,
  assertFitted,
  assertKind,
  assertMatrix,
  EstimatorError,
  type EstimatorJSON,
  type Predictor,
} from './estimator.ts';
import { createRng, type Rng } from './random.ts';

export interface KMeansParams {
  k: number;
  seed?: number;
  maxIter?: number;
  nInit?: number;
  /** Convergence when centroids move less than tol × the data's mean per-feature variance (sklearn's rule). */
  tol?: number;
}

export interface KMeansJSON extends EstimatorJSON {
  kind: 'KMeans';
  params: Required<KMeansParams>;
  dims: number;
  centroids: number[][];
  inertia: number;
  iterations: number;
}

export function nearestCentroid(
  X: Float32Array,
  r: number,
  d: number,
  C: Float64Array,
  k: number,
): { label: number; dist2: number } {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = X[r * d + j] - C[c * d + j];
      s += t * t;
    }
    if (s < bestD) {
      bestD = s;
      best = c;
    }
  }
  return { label: best, dist2: bestD };
}

export class KMeans implements Predictor {
  readonly params: Required<KMeansParams>;
  dims = 0;
  centroids: Float64Array = new Float64Array(0);
  inertia = NaN;
  iterations = 0;
  private isFitted = false;

  constructor(params: KMeansParams) {
    this.params = {
      k: params.k,
      seed: params.seed ?? 0,
      maxIter: params.maxIter ?? 300,
      nInit: params.nInit ?? 3,
      tol: params.tol ?? 1e-4,
    };
    if (!Number.isInteger(this.params.k) || this.params.k < 1)
      throw new EstimatorError(`KMeans: k must be a positive integer, got ${params.k}`);
  }

  get fitted(): boolean {
    return this.isFitted;
  }

  fit(X: Float32Array, nRows: number, nFeatures: number): this {
    assertMatrix('KMeans.fit', X, nRows, nFeatures);
    const { k, nInit } = this.params;
    if (nRows < k)
      throw new EstimatorError(`KMeans.fit: ${k} clusters asked of ${nRows} rows; use k ≤ ${nRows}`);
    const d = nFeatures;
    const rng = createRng(this.params.seed);
    const mean = new Float64Array(d);
    let varSum = 0;
    for (let r = 0; r < nRows; r++) for (let j = 0; j < d; j++) mean[j] += X[r * d + j] / nRows;
    for (let r = 0; r < nRows; r++)
      for (let j = 0; j < d; j++) varSum += (X[r * d + j] - mean[j]) ** 2 / nRows;
    const tol = (this.params.tol * varSum) / d;
    let best: { C: Float64Array; inertia: number; iter: number } | null = null;
    for (let run = 0; run < nInit; run++) {
      const result = this.lloyd(X, nRows, d, this.seedPlusPlus(X, nRows, d, rng), tol);
      if (!best || result.inertia < best.inertia) best = result;
    }
    this.dims = d;
    this.centroids = best!.C;
    this.inertia = best!.inertia;
    this.iterations = best!.iter;
    this.isFitted = true;
    return this;
  }

  private seedPlusPlus(X: Float32Array, n: number, d: number, rng: Rng): Float64Array {
    const k = this.params.k;
    const C = new Float64Array(k * d);
    const first = rng.int(n);
    for (let j = 0; j < d; j++) C[j] = X[first * d + j];
    const dist = new Float64Array(n).fill(Infinity);
    for (let c = 1; c < k; c++) {
      let total = 0;
      for (let r = 0; r < n; r++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (X[r * d + j] - C[(c - 1) * d + j]) ** 2;
        if (s < dist[r]) dist[r] = s;
        total += dist[r];
      }
      let target = rng.next() * total;
      let pick = n - 1;
      for (let r = 0; r < n; r++) {
        target -= dist[r];
        if (target < 0) {
          pick = r;
          break;
        }
      }
      for (let j = 0; j < d; j++) C[c * d + j] = X[pick * d + j];
    }
    return C;
  }

  private lloyd(X: Float32Array, n: number, d: number, C: Float64Array, tol: number) {
    const k = this.params.k;
    const labels = new Int32Array(n);
    const sums = new Float64Array(k * d);
    const counts = new Int32Array(k);
    let inertia = 0;
    let iter = 0;
    for (; iter < this.params.maxIter; iter++) {
      sums.fill(0);
      counts.fill(0);
      inertia = 0;
      for (let r = 0; r < n; r++) {
        const { label, dist2 } = nearestCentroid(X, r, d, C, k);
        labels[r] = label;
        inertia += dist2;
        counts[label]++;
        for (let j = 0; j < d; j++) sums[label * d + j] += X[r * d + j];
      }
      let shift = 0;
      for (let c = 0; c < k; c++) {
        if (counts[c] === 0) {
          // An emptied cluster restarts at the point farthest from its centroid, as sklearn does.
          let far = 0;
          let farD = -1;
          for (let r = 0; r < n; r++) {
            let s = 0;
            for (let j = 0; j < d; j++) s += (X[r * d + j] - C[labels[r] * d + j]) ** 2;
            if (s > farD) {
              farD = s;
              far = r;
            }
          }
          for (let j = 0; j < d; j++) C[c * d + j] = X[far * d + j];
          shift = Infinity;
          continue;
        }
        for (let j = 0; j < d; j++) {
          const v = sums[c * d + j] / counts[c];
          shift += (v - C[c * d + j]) ** 2;
          C[c * d + j] = v;
        }
      }
      if (shift <= tol) break;
    }
    // Inertia of the final centroids, not of the last assignment step.
    inertia = 0;
    for (let r = 0; r < n; r++) inertia += nearestCentroid(X, r, d, C, k).dist2;
    return { C, inertia, iter: iter + 1 };
  }

  predict(X: Float32Array, nRows: number): Int32Array {
    assertFitted('KMeans', this.isFitted);
    assertFeatures('KMeans.predict', X, nRows, this.dims);
    const out = new Int32Array(nRows);
    for (let r = 0; r < nRows; r++)
      out[r] = nearestCentroid(X, r, this.dims, this.centroids, this.params.k).label;
    return out;
  }

  toJSON(): KMeansJSON {
    assertFitted('KMeans', this.isFitted);
    const d = this.dims;
    return {
      kind: 'KMeans',
      params: { ...this.params },
      dims: d,
      centroids: Array.from({ length: this.params.k }, (_, c) =>
        Array.from(this.centroids.subarray(c * d, c * d + d)),
      ),
      inertia: this.inertia,
      iterations: this.iterations,
    };
  }

  static fromJSON(json: KMeansJSON): KMeans {
    assertKind('KMeans', json, 'KMeans');
    const km = new KMeans(json.params);
    km.dims = json.dims;
    km.centroids = Float64Array.from(json.centroids.flat());
    km.inertia = json.inertia;
    km.iterations = json.iterations;
    km.isFitted = true;
    return km;
  }
}
