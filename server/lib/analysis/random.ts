/**
 * Seeded pseudo-random numbers. Every stochastic estimator takes a seed so that a reference analysis can be
 * re-run and give the same clusters and the same IoU surface.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal. */
  normal(): number;
}

/** mulberry32: tiny state, good enough statistically for sampling and initialisation. */
export function createRng(seed: number): Rng {
  let state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  let spare: number | null = null;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
  };
}

/** Fisher–Yates in place. */
export function shuffleInPlace(a: Int32Array | number[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/** A permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  shuffleInPlace(a, rng);
  return a;
}

/**
 * k distinct indices from 0..n-1, ascending (so that reading them back from disk is sequential).
 * Selection sampling keeps memory at O(k) rather than O(n).
 */
export function sampleIndices(n: number, k: number, rng: Rng): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const out = new Int32Array(k);
  let chosen = 0;
  for (let i = 0; i < n && chosen < k; i++) {
    if (rng.next() * (n - i) < k - chosen) out[chosen++] = i;
  }
  return out;
}

/** Up to `k` items drawn uniformly from a stream of unknown length (reservoir sampling), in O(k) memory. */
export function reservoir<T>(items: Iterable<T>, k: number, rng: Rng): T[] {
  const kept: T[] = [];
  let seen = 0;
  for (const item of items) {
    seen++;
    if (kept.length < k) kept.push(item);
    else {
      const j = rng.int(seen);
      if (j < k) kept[j] = item;
    }
  }
  return kept;
}

/** Copies the given rows of a row-major matrix. */
export function takeRows(X: Float32Array, d: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) out.set(X.subarray(rows[i] * d, rows[i] * d + d), i * d);
  return out;
}
