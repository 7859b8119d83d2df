/**
 * MMD-critic (Kim, Khanna & Koyejo, NeurIPS 2016) on latent points: prototypes are chosen greedily to make the
 * maximum mean discrepancy between them and the whole sample smallest under an RBF kernel; criticisms are the
 * points where the prototypes explain the data worst — largest positive witness (the data is denser there than
 * the prototypes say). The paper ranks by |witness|; with a handful of prototypes the negative side is only the
 * prototypes' own surroundings, which says nothing new, so only under-represented points are criticised. Prototypes show what a family looks
 * like, criticisms show what it also holds. O(n²) kernel, so callers sample (≤ 2k points).
 */
import { EstimatorError } from '../analysis/estimator.ts';

export interface MmdCriticOptions {
  prototypes?: number;
  criticisms?: number;
  /** RBF γ in exp(−γ‖x−y‖²); default 1 / median squared distance to the ~√n-th nearest neighbour. */
  gamma?: number;
}

export interface MmdCriticResult {
  prototypes: number[];
  criticisms: number[];
  gamma: number;
  /** Witness value of each criticism (positive: the data is denser there than the prototypes say). */
  witness: number[];
}

function sqDistances(X: ArrayLike<number>, n: number, d: number): Float32Array {
  const D = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) {
        const v = X[i * d + t] - X[j * d + t];
        s += v * v;
      }
      D[i * n + j] = s;
      D[j * n + i] = s;
    }
  }
  return D;
}

export function mmdCritic(
  X: ArrayLike<number>,
  n: number,
  d: number,
  options: MmdCriticOptions = {},
): MmdCriticResult {
  if (n > 5000)
    throw new EstimatorError(`mmdCritic: ${n} points would need an ${n}² kernel; sample at most 5000 first`);
  if (X.length < n * d) throw new EstimatorError(`mmdCritic: expected ${n}×${d} values, got ${X.length}`);
  const m = Math.min(options.prototypes ?? 4, n);
  const c = Math.min(options.criticisms ?? 3, n - m);
  if (n === 0) return { prototypes: [], criticisms: [], gamma: 0, witness: [] };
  const K = sqDistances(X, n, d);
  let gamma = options.gamma;
  if (gamma === undefined) {
    // Local bandwidth: the median over points of the squared distance to their ~√n-th neighbour. The global
    // median-distance heuristic would span the gaps between modes and blur exactly what criticisms should find.
    const kth = Math.max(1, Math.min(n - 1, Math.round(Math.sqrt(n))));
    const step = Math.max(1, Math.floor(n / 200));
    const ks: number[] = [];
    for (let i = 0; i < n; i += step) ks.push(Float64Array.from(K.subarray(i * n, (i + 1) * n)).sort()[kth]);
    ks.sort((a, b) => a - b);
    const med = ks.length ? ks[ks.length >> 1] : 1;
    gamma = med > 0 ? 1 / med : 1;
  }
  for (let i = 0; i < K.length; i++) K[i] = Math.exp(-gamma * K[i]);
  // colMean[j] = (1/n) Σ_i k(x_i, x_j): the data's kernel mean embedding at each point.
  const colMean = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) colMean[j] += K[i * n + j] / n;

  // J(S) = (2/|S|) Σ_{s∈S} colMean[s] − (1/|S|²) Σ_{s,t∈S} k(s,t)  — MMD² up to the constant data term.
  const chosen: number[] = [];
  const inS = new Uint8Array(n);
  let sumColMean = 0;
  let sumKS = 0;
  // rowSumS[j] = Σ_{s∈S} k(j, s)
  const rowSumS = new Float64Array(n);
  for (let step = 0; step < m; step++) {
    const size = chosen.length + 1;
    let best = -1;
    let bestJ = -Infinity;
    for (let j = 0; j < n; j++) {
      if (inS[j]) continue;
      const J =
        (2 / size) * (sumColMean + colMean[j]) - (sumKS + 2 * rowSumS[j] + K[j * n + j]) / (size * size);
      if (J > bestJ) {
        bestJ = J;
        best = j;
      }
    }
    chosen.push(best);
    inS[best] = 1;
    sumColMean += colMean[best];
    sumKS += 2 * rowSumS[best] + K[best * n + best];
    for (let j = 0; j < n; j++) rowSumS[j] += K[j * n + best];
  }

  const wit = new Float64Array(n);
  for (let j = 0; j < n; j++) wit[j] = colMean[j] - rowSumS[j] / Math.max(1, chosen.length);
  const critics: number[] = [];
  const taken = Uint8Array.from(inS);
  for (let step = 0; step < c; step++) {
    let best = -1;
    let bestV = -Infinity;
    for (let j = 0; j < n; j++) {
      if (taken[j]) continue;
      // Skip near-duplicates of an earlier criticism so the few shown say different things.
      let dup = false;
      for (const t of critics) if (K[j * n + t] > 0.95) dup = true;
      const v = dup ? -Infinity : wit[j];
      if (v > bestV) {
        bestV = v;
        best = j;
      }
    }
    if (best < 0 || !(bestV > 0)) break;
    critics.push(best);
    taken[best] = 1;
  }
  return { prototypes: chosen, criticisms: critics, gamma, witness: critics.map((j) => wit[j]) };
}

/** The sample point with the least summed distance to the others. */
export function medoid(X: ArrayLike<number>, n: number, d: number): number {
  let best = -1;
  let bestS = Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n && s < bestS; j++) {
      let q = 0;
      for (let t = 0; t < d; t++) q += (X[i * d + t] - X[j * d + t]) ** 2;
      s += Math.sqrt(q);
    }
    if (s < bestS) {
      bestS = s;
      best = i;
    }
  }
  return best;
}
