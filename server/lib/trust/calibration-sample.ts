/**
 * The calibration sample: a stratified random sample of a project's scored tiles whose labels make the
 * region's figures true.
 *
 * Strata are ranges of priority. Their edges split the tiles so that every stratum holds the same share of
 * N_h·σ_h, where σ_h² is the model's own p(1 − p) averaged over the stratum but never below
 * floorRate·(1 − floorRate): in a new region the model's confidence is exactly what is in doubt, and the
 * low-score tiles (where missed buildings hide) would otherwise get almost no labels. Labels are then
 * allocated by Neyman (n_h ∝ N_h·σ_h, which these edges make nearly equal), at least `minPerStratum` each
 * so every stratum has a variance, and never more than the stratum holds.
 *
 * Within a stratum the tiles with the n_h smallest keys hash(seed, taskId) are taken: a simple random
 * sample without replacement that does not depend on the order tiles arrive in, so the same seed gives the
 * same tiles from the database, a file or a test. Each tile's inclusion probability is n_h / N_h.
 *
 * Two passes over the tiles, memory O(PRIORITY_BINS + sample size).
 */
import type { SampleDesign, SampleStratum } from '../db/json.ts';
import { TrustError } from './errors.ts';
import { normalQuantile } from '../analysis/special-functions.ts';
import { edgeThreshold, forEachScored, PRIORITY_BINS, type TileSource } from './trust-tile.ts';

export type { SampleDesign, SampleStratum };

export interface SampleTile {
  taskId: string;
  /** Scores when drawn: an estimate checks them against the project's current ones. */
  priority: number;
  buildingProb: number;
  stratum: number;
  inclusionProb: number;
}

export interface CalibrationSample {
  design: SampleDesign;
  /** Stratum by stratum, then by key. */
  tiles: SampleTile[];
}

export interface SampleOptions {
  /** Tiles to label. Default 200, or what `halfWidth` asks for. */
  size?: number;
  /** Instead of a size: the relative half-width wanted on the region's building-tile count (e.g. 0.1 = ±10 %). */
  halfWidth?: number;
  /** Confidence of that interval (default 0.9). */
  level?: number;
  seed?: number;
  /** Number of strata (default: one per 25 labels, 2 to 10). */
  strata?: number;
  /** σ_h is never taken below that of a rate of this (default 0.35). */
  floorRate?: number;
  minPerStratum?: number;
}

export const DEFAULT_SAMPLE_SIZE = 200;

/** Per priority bin: tiles, Σp, Σp(1−p). One pass. */
export interface BinSums {
  count: Float64Array;
  sumP: Float64Array;
  sumPQ: Float64Array;
  tiles: number;
  keptApart: number;
}

export async function binSums(source: TileSource): Promise<BinSums> {
  const count = new Float64Array(PRIORITY_BINS);
  const sumP = new Float64Array(PRIORITY_BINS);
  const sumPQ = new Float64Array(PRIORITY_BINS);
  let tiles = 0;
  const keptApart = await forEachScored(source, (t, b) => {
    count[b]++;
    sumP[b] += t.buildingProb;
    sumPQ[b] += t.buildingProb * (1 - t.buildingProb);
    tiles++;
  });
  return { count, sumP, sumPQ, tiles, keptApart };
}

function checkOptions(o: SampleOptions): void {
  const fail = (m: string) => {
    throw new TrustError('invalid-request', m);
  };
  if (o.size !== undefined && !(Number.isInteger(o.size) && o.size >= 2))
    fail(`size = ${o.size}; ask for an integer of at least 2 tiles (200 is usual)`);
  if (o.halfWidth !== undefined && !(o.halfWidth > 0 && o.halfWidth < 1))
    fail(`halfWidth = ${o.halfWidth}; give the relative half-width wanted, e.g. 0.1 for ±10 %`);
  if (o.level !== undefined && !(o.level > 0 && o.level < 1)) fail(`level = ${o.level}; use e.g. 0.9`);
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) fail(`seed = ${o.seed}; use an integer`);
  if (o.strata !== undefined && !(Number.isInteger(o.strata) && o.strata >= 1 && o.strata <= 50))
    fail(`strata = ${o.strata}; use 1..50`);
  if (o.floorRate !== undefined && !(o.floorRate >= 0 && o.floorRate <= 0.5))
    fail(`floorRate = ${o.floorRate}; use 0..0.5`);
  if (o.minPerStratum !== undefined && !(Number.isInteger(o.minPerStratum) && o.minPerStratum >= 2))
    fail(`minPerStratum = ${o.minPerStratum}; every stratum needs at least 2 labels for a variance`);
}

interface StratumCut {
  binLow: number;
  binHigh: number;
  tiles: number;
  sumP: number;
  sumPQ: number;
}

const sigmaOf = (c: StratumCut, floorVar: number) => Math.sqrt(Math.max(c.sumPQ / c.tiles, floorVar));

/** Edges at equal shares of Σ N·σ (σ floored), merging strata too small to hold `minTiles`. */
function cutStrata(sums: BinSums, wanted: number, floorVar: number, minTiles: number): StratumCut[] {
  const w = new Float64Array(PRIORITY_BINS);
  let total = 0;
  for (let b = 0; b < PRIORITY_BINS; b++) {
    const c = sums.count[b];
    if (c > 0) w[b] = c * Math.sqrt(Math.max(sums.sumPQ[b] / c, floorVar));
    total += w[b];
  }
  const cuts: StratumCut[] = [];
  let cur: StratumCut = { binLow: 0, binHigh: 0, tiles: 0, sumP: 0, sumPQ: 0 };
  let acc = 0;
  let next = 1;
  for (let b = 0; b < PRIORITY_BINS; b++) {
    cur.tiles += sums.count[b];
    cur.sumP += sums.sumP[b];
    cur.sumPQ += sums.sumPQ[b];
    acc += w[b];
    cur.binHigh = b + 1;
    if (next < wanted && acc >= (next * total) / wanted && cur.tiles > 0) {
      cuts.push(cur);
      cur = { binLow: b + 1, binHigh: b + 1, tiles: 0, sumP: 0, sumPQ: 0 };
      while (next < wanted && acc >= (next * total) / wanted) next++;
    }
  }
  cur.binHigh = PRIORITY_BINS;
  cuts.push(cur);
  // Merge any stratum below minTiles (or empty) into its smaller neighbour.
  for (let i = 0; i < cuts.length && cuts.length > 1;) {
    if (cuts[i].tiles >= minTiles) {
      i++;
      continue;
    }
    const j =
      i === 0 ? 1 : i === cuts.length - 1 ? i - 1 : cuts[i - 1].tiles <= cuts[i + 1].tiles ? i - 1 : i + 1;
    const [a, b] = i < j ? [cuts[i], cuts[j]] : [cuts[j], cuts[i]];
    const merged: StratumCut = {
      binLow: a.binLow,
      binHigh: b.binHigh,
      tiles: a.tiles + b.tiles,
      sumP: a.sumP + b.sumP,
      sumPQ: a.sumPQ + b.sumPQ,
    };
    cuts.splice(Math.min(i, j), 2, merged);
    i = Math.max(0, Math.min(i, j) - 1);
  }
  return cuts;
}

/** Neyman allocation with a floor per stratum and a cap at the stratum's size; largest remainders round. */
export function allocate(n: number, tiles: number[], sigma: number[], minPer: number): number[] {
  const H = tiles.length;
  const out = tiles.map((N) => Math.min(N, minPer));
  let left = n - out.reduce((s, v) => s + v, 0);
  if (left < 0)
    throw new TrustError('invalid-request', `a sample of ${n} cannot give ${H} strata ${minPer} labels each`);
  const open = new Set(tiles.map((_, h) => h).filter((h) => out[h] < tiles[h]));
  while (left > 0 && open.size > 0) {
    const weight = [...open].reduce((s, h) => s + tiles[h] * sigma[h], 0);
    const share = new Map<number, number>();
    for (const h of open) share.set(h, weight > 0 ? (left * tiles[h] * sigma[h]) / weight : left / open.size);
    // Strata the share would overfill take what they can hold; the rest is shared again.
    let capped = false;
    for (const h of open) {
      if (out[h] + share.get(h)! >= tiles[h]) {
        left -= tiles[h] - out[h];
        out[h] = tiles[h];
        open.delete(h);
        capped = true;
      }
    }
    if (capped) continue;
    const floors = [...open].map((h) => [h, Math.floor(share.get(h)!), share.get(h)! % 1] as const);
    for (const [h, f] of floors) {
      out[h] += f;
      left -= f;
    }
    floors.sort((a, b) => b[2] - a[2] || a[0] - b[0]);
    for (const [h] of floors) {
      if (left <= 0) break;
      out[h]++;
      left--;
    }
    break;
  }
  return out;
}

function defaultStrata(size: number): number {
  return Math.max(2, Math.min(10, Math.round(size / 25)));
}

/**
 * The smallest sample whose building-tile count, by the model's own p(1 − p), would have a relative
 * half-width of at most `halfWidth` at `level`. A planning figure: the real interval comes from the labels.
 */
export function sampleSizeFor(
  sums: BinSums,
  halfWidth: number,
  level = 0.9,
  options: SampleOptions = {},
): number {
  checkOptions({ ...options, halfWidth, level });
  let expected = 0;
  for (const v of sums.sumP) expected += v;
  if (sums.tiles === 0)
    throw new TrustError('no-tiles', 'no scored tiles to plan a sample for; score the project first');
  if (expected <= 0) {
    throw new TrustError(
      'invalid-request',
      'the model expects no building tile in this region, so no relative width can be planned; give a size instead',
    );
  }
  const z = normalQuantile(1 - (1 - level) / 2);
  const floorRate = options.floorRate ?? 0.35;
  const minPer = options.minPerStratum ?? 2;
  const halfAt = (n: number) => {
    const cuts = cutStrata(sums, options.strata ?? defaultStrata(n), floorRate * (1 - floorRate), minPer);
    const sig = cuts.map((c) => sigmaOf(c, floorRate * (1 - floorRate)));
    const alloc = allocate(
      Math.min(n, sums.tiles),
      cuts.map((c) => c.tiles),
      sig,
      Math.min(minPer, 2),
    );
    let v = 0;
    cuts.forEach((c, h) => {
      if (alloc[h] > 0) v += c.tiles * c.tiles * (1 / alloc[h] - 1 / c.tiles) * (c.sumPQ / c.tiles);
    });
    return (z * Math.sqrt(v)) / expected;
  };
  let lo = 4;
  let hi = sums.tiles;
  if (halfAt(hi) > halfWidth) return hi;
  if (halfAt(lo) <= halfWidth) return lo;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (halfAt(mid) <= halfWidth) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** cyrb53: a 53-bit string hash; the seed makes each draw's keys independent. */
function hashKey(seed: number, text: string): number {
  let h1 = 0xdeadbeef ^ (seed | 0);
  let h2 = 0x41c6ce57 ^ Math.floor(seed / 2 ** 32);
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Strata and allocation from the first pass; no tile is chosen yet. */
export function designSample(sums: BinSums, options: SampleOptions = {}): SampleDesign {
  checkOptions(options);
  if (sums.tiles < 2) {
    throw new TrustError(
      'no-tiles',
      `the project has ${sums.tiles} scored tile(s); a calibration sample needs at least 2 — score it first`,
    );
  }
  const level = options.level ?? 0.9;
  const floorRate = options.floorRate ?? 0.35;
  const floorVar = floorRate * (1 - floorRate);
  const minPer = options.minPerStratum ?? 2;
  let size =
    options.size ??
    (options.halfWidth ? sampleSizeFor(sums, options.halfWidth, level, options) : DEFAULT_SAMPLE_SIZE);
  size = Math.min(size, sums.tiles);
  const wanted = Math.max(1, Math.min(options.strata ?? defaultStrata(size), Math.floor(size / minPer)));
  const cuts = cutStrata(sums, wanted, floorVar, minPer);
  const alloc = allocate(
    size,
    cuts.map((c) => c.tiles),
    cuts.map((c) => sigmaOf(c, floorVar)),
    minPer,
  );
  return {
    method: 'stratified-srswor',
    seed: options.seed ?? 1,
    size,
    priorityBins: PRIORITY_BINS,
    floorRate,
    minPerStratum: minPer,
    tiles: sums.tiles,
    keptApart: sums.keptApart,
    strata: cuts.map((c, h) => ({
      index: h,
      binLow: c.binLow,
      binHigh: c.binHigh,
      low: edgeThreshold(c.binLow),
      high: edgeThreshold(c.binHigh),
      tiles: c.tiles,
      size: alloc[h],
      inclusionProb: alloc[h] / c.tiles,
      meanBuildingProb: c.sumP / c.tiles,
    })),
  };
}

/** Stratum index of every priority bin under a design. */
export function stratumOfBin(design: Pick<SampleDesign, 'strata'>): Int16Array {
  const out = new Int16Array(PRIORITY_BINS).fill(-1);
  for (const s of design.strata) out.fill(s.index, s.binLow, s.binHigh);
  return out;
}

/**
 * Draws the sample: pass one designs it, pass two keeps per stratum the n_h tiles with the smallest keys.
 * Give the tiles as an array or as a function returning a fresh iterable (they are read twice).
 */
export async function drawCalibrationSample(
  source: TileSource,
  options: SampleOptions = {},
): Promise<CalibrationSample> {
  const design = designSample(await binSums(source), options);
  const strata = stratumOfBin(design);
  const kept: Array<Array<{ key: number; tile: SampleTile }>> = design.strata.map(() => []);
  // Keys above a stratum's current n_h-th smallest can never be kept: skip them without allocating.
  const bar = design.strata.map(() => Infinity);
  const trim = (h: number) => {
    const list = kept[h];
    list.sort((a, b) => a.key - b.key || (a.tile.taskId < b.tile.taskId ? -1 : 1));
    list.length = Math.min(list.length, design.strata[h].size);
    if (list.length === design.strata[h].size) bar[h] = list[list.length - 1].key;
  };
  let seen = 0;
  await forEachScored(source, (t, b) => {
    seen++;
    const h = strata[b];
    const s = design.strata[h];
    if (s.size === 0) return;
    const key = hashKey(design.seed, t.taskId);
    if (key > bar[h]) return;
    kept[h].push({
      key,
      tile: {
        taskId: t.taskId,
        priority: t.priority,
        buildingProb: t.buildingProb,
        stratum: h,
        inclusionProb: s.inclusionProb,
      },
    });
    if (kept[h].length >= 2 * s.size + 64) trim(h);
  });
  if (seen !== design.tiles) {
    throw new TrustError(
      'invalid-request',
      `the tiles changed between the two passes of the draw (${design.tiles} then ${seen} scored tiles); ` +
        'pass an array or a function that returns a fresh iterable, and do not draw while the project is being scored',
    );
  }
  kept.forEach((_, h) => trim(h));
  return { design, tiles: kept.flatMap((list) => list.map((k) => k.tile)) };
}
