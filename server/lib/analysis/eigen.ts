/**
 * Symmetric eigendecomposition: cyclic Jacobi for small matrices, and subspace iteration with Rayleigh–Ritz for the
 * few leading eigenpairs of a large covariance (PCA needs 9 of up to 1024), which costs O(d²·p) per step instead
 * of Jacobi's O(d³) per sweep.
 */
import { createRng } from './random.ts';

export interface EigenResult {
  /** Descending. */
  values: Float64Array;
  /** Row i is the unit eigenvector of values[i] (k×d, row-major). */
  vectors: Float64Array;
  iterations: number;
}

/** Full decomposition of a symmetric n×n matrix (copied, not modified). */
export function jacobiEigen(matrix: Float64Array, n: number, maxSweeps = 100): EigenResult {
  const A = Float64Array.from(matrix.subarray(0, n * n));
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let sweep = 0;
  for (; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += A[i * n + i] ** 2;
      for (let j = i + 1; j < n; j++) off += A[i * n + j] ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const app = A[p * n + p];
        const aqq = A[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p];
          const akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k];
          const aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => A[b * n + b] - A[a * n + a]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = A[src * n + src];
    for (let k = 0; k < n; k++) vectors[dst * n + k] = V[k * n + src];
  });
  return { values, vectors, iterations: sweep };
}

/** Columns of Q (d×p, row-major) made orthonormal in place; twice-applied Gram–Schmidt for stability. */
function orthonormalize(Q: Float64Array, d: number, p: number): void {
  let refills = 0;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < p; j++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < d; r++) dot += Q[r * p + i] * Q[r * p + j];
        for (let r = 0; r < d; r++) Q[r * p + j] -= dot * Q[r * p + i];
      }
      let norm = 0;
      for (let r = 0; r < d; r++) norm += Q[r * p + j] ** 2;
      norm = Math.sqrt(norm);
      // A collapsed column (rank-deficient matrix) is replaced by a fresh basis direction.
      if (norm < 1e-150 && refills < 8 * p) {
        refills++;
        for (let r = 0; r < d; r++) Q[r * p + j] = Math.sin((r + 1) * 12.9898 + (j + 1) * 78.233 + refills);
        j--;
        continue;
      }
      for (let r = 0; r < d; r++) Q[r * p + j] /= norm;
    }
  }
}

/** The k leading eigenpairs of a symmetric d×d matrix. */
export function topEigen(
  C: Float64Array,
  d: number,
  k: number,
  options: { tol?: number; maxIter?: number; seed?: number } = {},
): EigenResult {
  const tol = options.tol ?? 1e-10;
  const maxIter = options.maxIter ?? 2000;
  if (d <= 64) {
    const full = jacobiEigen(C, d);
    return {
      values: full.values.slice(0, k),
      vectors: full.vectors.slice(0, k * d),
      iterations: full.iterations,
    };
  }
  const p = Math.min(d, 2 * k + 16);
  const rng = createRng(options.seed ?? 7);
  let Q = new Float64Array(d * p);
  for (let i = 0; i < Q.length; i++) Q[i] = rng.normal();
  orthonormalize(Q, d, p);
  const Z = new Float64Array(d * p);
  const T = new Float64Array(p * p);
  let values: Float64Array = new Float64Array(p);
  let ritz = new Float64Array(d * p);
  let iter = 0;
  for (; iter < maxIter; iter++) {
    // Z = C·Q
    Z.fill(0);
    for (let r = 0; r < d; r++) {
      const zr = r * p;
      for (let m = 0; m < d; m++) {
        const c = C[r * d + m];
        if (c === 0) continue;
        const qm = m * p;
        for (let j = 0; j < p; j++) Z[zr + j] += c * Q[qm + j];
      }
    }
    // T = Qᵀ·Z, symmetric p×p
    T.fill(0);
    for (let r = 0; r < d; r++) {
      for (let i = 0; i < p; i++) {
        const q = Q[r * p + i];
        for (let j = 0; j < p; j++) T[i * p + j] += q * Z[r * p + j];
      }
    }
    for (let i = 0; i < p; i++)
      for (let j = 0; j < i; j++) T[i * p + j] = T[j * p + i] = (T[i * p + j] + T[j * p + i]) / 2;
    const small = jacobiEigen(T, p);
    values = small.values;
    // Ritz vectors QV and their images ZV = C·QV give the residual without another product with C.
    ritz = new Float64Array(d * p);
    const image = new Float64Array(d * p);
    for (let r = 0; r < d; r++) {
      for (let j = 0; j < p; j++) {
        let a = 0;
        let b = 0;
        for (let i = 0; i < p; i++) {
          const v = small.vectors[j * p + i];
          a += Q[r * p + i] * v;
          b += Z[r * p + i] * v;
        }
        ritz[r * p + j] = a;
        image[r * p + j] = b;
      }
    }
    let worst = 0;
    for (let j = 0; j < k; j++) {
      let res = 0;
      for (let r = 0; r < d; r++) res += (image[r * p + j] - values[j] * ritz[r * p + j]) ** 2;
      worst = Math.max(worst, Math.sqrt(res));
    }
    if (worst <= tol * Math.max(Math.abs(values[0]), 1e-300)) break;
    Q = image;
    orthonormalize(Q, d, p);
  }
  const vectors = new Float64Array(k * d);
  for (let j = 0; j < k; j++) for (let r = 0; r < d; r++) vectors[j * d + r] = ritz[r * p + j];
  return { values: values.slice(0, k), vectors, iterations: iter };
}
