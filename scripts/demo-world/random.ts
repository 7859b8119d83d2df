/**
 * Deterministic randomness for the demo world: every value is a pure function of the seed and
 * of where it is asked for, so a tile paints the same whatever order tiles are built in.
 */

/** 32-bit integer hash of up to four integers (a murmur3-style finaliser over a mix). */
export function hashInts(a: number, b = 0, c = 0, d = 0): number {
  let h = Math.imul(a | 0, 0x27d4eb2d) ^ Math.imul(b | 0, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ Math.imul(c | 0, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ Math.imul(d | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Uniform in [0, 1) from integers. */
export function hash01(a: number, b = 0, c = 0, d = 0): number {
  return hashInts(a, b, c, d) / 4294967296;
}

export interface Rng {
  (): number;
  range(lo: number, hi: number): number;
  int(lo: number, hiExclusive: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast, and good enough for placing houses. */
export function mulberry32(seed: number): Rng {
  let s = seed >>> 0;
  const next = (() => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  next.range = (lo, hi) => lo + (hi - lo) * next();
  next.int = (lo, hi) => lo + Math.floor((hi - lo) * next());
  next.pick = (items) => items[Math.floor(items.length * next())];
  next.chance = (p) => next() < p;
  return next;
}

/** A generator for one purpose at one place: (seed, salt, x, y) → independent stream. */
export function rngAt(seed: number, salt: number, x: number, y: number): Rng {
  return mulberry32(hashInts(seed, salt, x, y));
}

/**
 * Adds `amp * (valueNoise - 0.5)` over a size×size window whose top-left world pixel is
 * (ox, oy); lattice spacing `cell` px, smoothstep-interpolated, continuous across tiles.
 */
export function addValueNoise(
  out: Float32Array,
  ox: number,
  oy: number,
  size: number,
  cell: number,
  seed: number,
  amp: number,
): void {
  const colIx = new Int32Array(size);
  const colFx = new Float32Array(size);
  for (let c = 0; c < size; c++) {
    const g = (ox + c) / cell;
    const i = Math.floor(g);
    const f = g - i;
    colIx[c] = i;
    colFx[c] = f * f * (3 - 2 * f);
  }
  for (let r = 0; r < size; r++) {
    const g = (oy + r) / cell;
    const iy = Math.floor(g);
    let fy = g - iy;
    fy = fy * fy * (3 - 2 * fy);
    let lastIx = NaN;
    let v00 = 0;
    let v10 = 0;
    let v01 = 0;
    let v11 = 0;
    const base = r * size;
    for (let c = 0; c < size; c++) {
      const ix = colIx[c];
      if (ix !== lastIx) {
        v00 = hash01(ix, iy, seed);
        v10 = hash01(ix + 1, iy, seed);
        v01 = hash01(ix, iy + 1, seed);
        v11 = hash01(ix + 1, iy + 1, seed);
        lastIx = ix;
      }
      const fx = colFx[c];
      const top = v00 + (v10 - v00) * fx;
      const bottom = v01 + (v11 - v01) * fx;
      out[base + c] += amp * (top + (bottom - top) * fy - 0.5);
    }
  }
}
