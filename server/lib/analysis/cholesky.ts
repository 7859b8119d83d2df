/**
 * Symmetric positive-definite systems by Cholesky factorisation: the Newton steps and coefficient covariance of
 * the logistic regression, the whitening of the image statistics. `null` when the matrix is not positive
 * definite, so each caller says in its own words what that means.
 */

/** Lower-triangular L with A = L Lᵀ (A n×n row-major), or null when A is not positive definite. */
function factor(A: ArrayLike<number>, n: number): Float64Array<ArrayBuffer> | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j];
    }
  }
  return L;
}

function solveFactored(L: Float64Array, b: ArrayLike<number>, n: number): Float64Array<ArrayBuffer> {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
    y[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/** x with A x = b, or null when A is not positive definite. */
export function solveSpd(
  A: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
): Float64Array<ArrayBuffer> | null {
  const L = factor(A, n);
  return L ? solveFactored(L, b, n) : null;
}

/** A⁻¹ (n×n row-major), or null when A is not positive definite. */
export function invertSpd(A: ArrayLike<number>, n: number): Float64Array<ArrayBuffer> | null {
  const L = factor(A, n);
  if (!L) return null;
  const inv = new Float64Array(n * n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    e.fill(0);
    e[j] = 1;
    const col = solveFactored(L, e, n);
    for (let i = 0; i < n; i++) inv[i * n + j] = col[i];
  }
  return inv;
}

/**
 * W = L⁻¹ for A = L Lᵀ (lower-triangular, row-major), or null when A is not positive definite: y = W x makes
 * the Mahalanobis distance under A a plain Euclidean one, so neighbour searches need no matrix per pair.
 */
export function whiteningOf(A: ArrayLike<number>, n: number): Float64Array<ArrayBuffer> | null {
  const L = factor(A, n);
  if (!L) return null;
  const W = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    // Column j of L⁻¹ by forward substitution against the unit vector e_j.
    for (let i = j; i < n; i++) {
      let s = i === j ? 1 : 0;
      for (let k = j; k < i; k++) s -= L[i * n + k] * W[k * n + j];
      W[i * n + j] = s / L[i * n + i];
    }
  }
  return W;
}
