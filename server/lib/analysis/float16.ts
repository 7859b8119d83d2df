/**
 * IEEE 754 half-precision conversion. Pooled activations stored as float16 halve the disk and the read time of a
 * million-patch reference set; their ~3 significant digits are far finer than what PCA on them resolves.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even float32 → float16 bits; overflow goes to ±Infinity, NaN stays NaN. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

let table: Float32Array | null = null;

/** All 65 536 half values decoded once: decoding a chunk becomes one table look-up per value. */
export function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 0x1f) v = mant ? NaN : Infinity;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    table[h] = sign * v;
  }
  return table;
}

export function fromHalf(bits: number): number {
  return halfTable()[bits & 0xffff];
}

export function encodeHalf(src: Float32Array, dst: Uint16Array, count = src.length): void {
  for (let i = 0; i < count; i++) dst[i] = toHalf(src[i]);
}

export function decodeHalf(src: Uint16Array, dst: Float32Array, count = src.length): void {
  const t = halfTable();
  for (let i = 0; i < count; i++) dst[i] = t[src[i]];
}
