/**
 * Choosing k: silhouette on a sample (O(s²) for s sampled points, never O(n²)), swept over k; for large n the
 * k-means fits themselves run on a sample and then assign every row.
 */
import { EstimatorError } from './estimator.ts';
import { KMeans } from './kmeans.ts';
import { createRng, sampleIndices, takeRows } from './random.ts';

/** Mean silhouette of a sample of the points (labels < 0 — noise — are left out). */
export function sampledSilhouette(
  X: Float32Array,
  n: number,
  d: number,
  labels: Int32Array,
  options: { sampleSize?: number; seed?: number } = {},
): number {
  const sampleSize = options.sampleSize ?? 2000;
  if (labels.length !== n)
    throw new EstimatorError(`sampledSilhouette: ${labels.length} labels for ${n} rows`);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (labels[i] >= 0) candidates.push(i);
  const pick = sampleIndices(candidates.length, sampleSize, createRng(options.seed ?? 0));
  const idx = Array.from(pick, (i) => candidates[i]);
  const s = idx.length;
  let nLabels = 0;
  for (const i of idx) nLabels = Math.max(nLabels, labels[i] + 1);
  const counts = new Int32Array(nLabels);
  for (const i of idx) counts[labels[i]]++;
  if (counts.filter((c) => c > 0).length < 2) return NaN;
  const sums = new Float64Array(nLabels);
  let total = 0;
  for (let a = 0; a < s; a++) {
    sums.fill(0);
    const ia = idx[a];
    for (let b = 0; b < s; b++) {
      if (a === b) continue;
      const ib = idx[b];
      let dist = 0;
      for (let j = 0; j < d; j++) dist += (X[ia * d + j] - X[ib * d + j]) ** 2;
      sums[labels[ib]] += Math.sqrt(dist);
    }
    const own = labels[ia];
    // sklearn: a singleton cluster's points score 0.
    if (counts[own] <= 1) continue;
    const intra = sums[own] / (counts[own] - 1);
    let inter = Infinity;
    for (let c = 0; c < nLabels; c++)
      if (c !== own && counts[c] > 0) inter = Math.min(inter, sums[c] / counts[c]);
    const denom = Math.max(intra, inter);
    total += denom > 0 ? (inter - intra) / denom : 0;
  }
  return total / s;
}

export interface SweepOptions {
  kMin?: number;
  kMax?: number;
  seed?: number;
  /** Rows the k-means fits see (sampled past this size). */
  fitSampleSize?: number;
  silhouetteSampleSize?: number;
  nInit?: number;
}

export interface SweepResult {
  sweep: { k: number; silhouette: number; inertia: number }[];
  chosenK: number;
  model: KMeans;
  labels: Int32Array;
  silhouette: number;
}

export function sweepKMeans(X: Float32Array, n: number, d: number, options: SweepOptions = {}): SweepResult {
  const seed = options.seed ?? 0;
  const kMin = options.kMin ?? 2;
  const kMax = Math.min(options.kMax ?? 20, n - 1);
  if (kMin < 2 || kMax < kMin)
    throw new EstimatorError(`sweepKMeans: need 2 ≤ kMin ≤ kMax < n, got kMin=${kMin}, kMax=${kMax}, n=${n}`);
  const fitIdx = sampleIndices(n, options.fitSampleSize ?? 50_000, createRng(seed));
  const sample = fitIdx.length === n ? X.subarray(0, n * d) : takeRows(X, d, fitIdx);
  const m = fitIdx.length;
  const sweep: SweepResult['sweep'] = [];
  let best: { k: number; silhouette: number; model: KMeans; labels: Int32Array } | null = null;
  for (let k = kMin; k <= kMax; k++) {
    const model = new KMeans({ k, seed: seed + k, nInit: options.nInit ?? 1 }).fit(sample, m, d);
    const labels = model.predict(sample, m);
    const silhouette = sampledSilhouette(sample, m, d, labels, {
      sampleSize: options.silhouetteSampleSize ?? 2000,
      seed: seed + 1,
    });
    sweep.push({ k, silhouette, inertia: model.inertia });
    if (!best || silhouette > best.silhouette) best = { k, silhouette, model, labels };
  }
  const labels = fitIdx.length === n ? best!.labels : best!.model.predict(X.subarray(0, n * d), n);
  return { sweep, chosenK: best!.k, model: best!.model, labels, silhouette: best!.silhouette };
}

/** Adjusted Rand index of two labellings (noise, −1, counts as a label of its own). */
export function adjustedRandIndex(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length)
    throw new EstimatorError(`adjustedRandIndex: labellings of ${a.length} and ${b.length} points`);
  const n = a.length;
  let maxA = -1;
  let maxB = -1;
  for (let i = 0; i < n; i++) {
    if (a[i] > maxA) maxA = a[i];
    if (b[i] > maxB) maxB = b[i];
  }
  // Labels shifted by one so that noise (−1) gets row/column 0 of the contingency table.
  const ra = maxA + 2;
  const rb = maxB + 2;
  const table = new Float64Array(ra * rb);
  for (let i = 0; i < n; i++) table[(a[i] + 1) * rb + b[i] + 1]++;
  const c2 = (x: number) => (x * (x - 1)) / 2;
  let index = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < ra; i++) {
    let row = 0;
    for (let j = 0; j < rb; j++) {
      index += c2(table[i * rb + j]);
      row += table[i * rb + j];
    }
    sa += c2(row);
  }
  for (let j = 0; j < rb; j++) {
    let col = 0;
    for (let i = 0; i < ra; i++) col += table[i * rb + j];
    sb += c2(col);
  }
  const expected = (sa * sb) / c2(n);
  const max = (sa + sb) / 2;
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}
