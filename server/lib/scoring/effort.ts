/**
 * Effort curves: what a priority threshold saves volunteers, and what it costs in missed building tiles — with
 * an interval, and with the word "unverified" where the reference run does not cover the region.
 *
 * Tiles stream through once into a histogram over the threshold steps, so a region of any size costs O(steps)
 * memory. Each tile brings its tile-level P(building) and, without labels from the region, the interval that
 * probability widens to where the tile lies outside what the reference run covered (see analysis/doubt.ts). At a
 * threshold the sent tiles hold T building tiles and the skipped ones M; recall is T / (T + M). The point estimate
 * uses the probabilities; the interval takes the low end of the sent tiles' probabilities against the high end of
 * the skipped ones' (and the other way round), plus the binomial spread of the counts themselves.
 */
import { TilelensError } from '../errors.ts';

import { normalQuantile } from '../analysis/special-functions.ts';

export class EffortError extends TilelensError {
  override name = 'EffortError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('effort', message, { status: 409, cause: options?.cause });
  }
}

export interface EffortTile {
  priority: number;
  /** P(the tile holds a building). */
  buildingProb: number;
  /** The no-label interval of buildingProb; both default to buildingProb (no widening). */
  buildingProbLow?: number | null;
  buildingProbHigh?: number | null;
  /** False where the tile lies outside what the reference run covered (novelty beyond its own range). */
  covered?: boolean | null;
  /** True where the model's own output paints nothing on the tile: a building there is one the model misses. */
  modelEmpty?: boolean | null;
}

export interface EffortPoint {
  threshold: number;
  /** Tiles with priority ≥ threshold: volunteers see them. */
  sent: number;
  skipped: number;
  expectedMissedBuildingTiles: number;
  /** Expected share of all building tiles that the sent tiles hold. */
  expectedRecall: number;
  /** The interval of that recall at the curve's confidence. */
  recallLow: number;
  recallHigh: number;
  missedLow: number;
  missedHigh: number;
}

export interface EffortCoverage {
  tiles: number;
  /** Tiles outside what the reference run covered. */
  uncovered: number;
  uncoveredShare: number;
  /**
   * Whether the reference run's figures can be taken as they are: false when more than `UNVERIFIED_SHARE` of the
   * tiles lie outside its coverage (then the figures are estimates the region's labels must confirm).
   */
  verified: boolean;
}

/**
 * What the model alone would miss: the building tiles among those it paints nothing on. A tile's P(the model
 * misses a building here) is its P(building) where the model's output is empty and 0 elsewhere (the model's
 * output is part of the classifier's evidence), so the expected count and its interval are sums over the empty
 * tiles — the number that says whether volunteers are needed at all.
 */
export interface ModelAloneMisses {
  /** Tiles the model paints nothing on. */
  emptyTiles: number;
  expectedMissedBuildingTiles: number;
  missedLow: number;
  missedHigh: number;
  /** Expected share of the region's building tiles those are. */
  expectedMissShare: number;
}

export interface EffortCurve {
  points: EffortPoint[];
  coverage: EffortCoverage;
  /** Absent where the tiles did not say whether the model's output was empty (older rows). */
  modelAlone?: ModelAloneMisses;
  /** Two-sided confidence of recallLow / recallHigh. */
  confidence: number;
}

export interface EffortOptions {
  steps?: number;
  /** Two-sided confidence of the interval (default 0.9). */
  confidence?: number;
}

/** Above this share of uncovered tiles the figures say "unverified". */
export const UNVERIFIED_SHARE = 0.1;

function check01(name: string, v: number, i: number): void {
  if (!Number.isFinite(v) || v < 0 || v > 1) {
    throw new EffortError(
      `tile #${i} has ${name} = ${v}, outside 0..1; re-score it or leave it out of the curve`,
    );
  }
}

/** Sums one histogram bin keeps. */
const FIELDS = 7;
const [COUNT, P, LO, HI, VAR_LO, VAR_HI, UNCOVERED] = [0, 1, 2, 3, 4, 5, 6];
/** Sums over the tiles the model paints nothing on. */
const [EMPTY, EMPTY_P, EMPTY_LO, EMPTY_HI, EMPTY_VAR_LO, EMPTY_VAR_HI] = [0, 1, 2, 3, 4, 5];

export async function effortCurve(
  tiles: AsyncIterable<EffortTile> | Iterable<EffortTile>,
  options: EffortOptions = {},
): Promise<EffortCurve> {
  const steps = options.steps ?? 101;
  const confidence = options.confidence ?? 0.9;
  if (!Number.isInteger(steps) || steps < 2)
    throw new EffortError(`steps = ${steps}; use an integer ≥ 2 (101 gives thresholds 0, 0.01, …, 1)`);
  if (!(confidence > 0 && confidence < 1))
    throw new EffortError(`confidence = ${confidence}; use a share in (0, 1)`);
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const thresholds = Array.from({ length: steps }, (_, i) => i / (steps - 1));
  // bin j holds tiles whose priority lies in [thresholds[j], thresholds[j+1]): skipped from step j+1 on.
  const bins = new Float64Array(steps * FIELDS);
  const empty = new Float64Array(6);
  let told = 0;
  let n = 0;
  for await (const t of tiles) {
    check01('priority', t.priority, n);
    check01('buildingProb', t.buildingProb, n);
    const lo = t.buildingProbLow ?? t.buildingProb;
    const hi = t.buildingProbHigh ?? t.buildingProb;
    check01('buildingProbLow', lo, n);
    check01('buildingProbHigh', hi, n);
    if (!(lo <= t.buildingProb + 1e-9 && t.buildingProb <= hi + 1e-9))
      throw new EffortError(
        `tile #${n} has buildingProb ${t.buildingProb} outside its interval [${lo}, ${hi}]`,
      );
    n++;
    let j = Math.min(steps - 1, Math.floor(t.priority * (steps - 1)));
    // i / (steps − 1) is not always exact in floating point; settle ties the way `priority < threshold` reads.
    while (j + 1 < steps && thresholds[j + 1] <= t.priority) j++;
    while (j > 0 && thresholds[j] > t.priority) j--;
    const o = j * FIELDS;
    bins[o + COUNT]++;
    bins[o + P] += t.buildingProb;
    bins[o + LO] += lo;
    bins[o + HI] += hi;
    bins[o + VAR_LO] += lo * (1 - lo);
    bins[o + VAR_HI] += hi * (1 - hi);
    if (t.covered === false) bins[o + UNCOVERED]++;
    if (t.modelEmpty !== undefined && t.modelEmpty !== null) told++;
    if (t.modelEmpty) {
      empty[EMPTY]++;
      empty[EMPTY_P] += t.buildingProb;
      empty[EMPTY_LO] += lo;
      empty[EMPTY_HI] += hi;
      empty[EMPTY_VAR_LO] += lo * (1 - lo);
      empty[EMPTY_VAR_HI] += hi * (1 - hi);
    }
  }
  const total = new Float64Array(FIELDS);
  for (let j = 0; j < steps; j++) for (let f = 0; f < FIELDS; f++) total[f] += bins[j * FIELDS + f];
  const skippedSums = new Float64Array(FIELDS);
  const points: EffortPoint[] = [];
  for (let s = 0; s < steps; s++) {
    if (s > 0) for (let f = 0; f < FIELDS; f++) skippedSums[f] += bins[(s - 1) * FIELDS + f];
    const sent = (f: number) => total[f] - skippedSums[f];
    const missed = skippedSums[P];
    const held = sent(P);
    // Low recall: the sent tiles hold as few as their low ends allow, the skipped as many as their high ends.
    const heldLow = Math.max(0, sent(LO) - z * Math.sqrt(sent(VAR_LO)));
    const missedHigh = skippedSums[HI] + z * Math.sqrt(skippedSums[VAR_HI]);
    const heldHigh = sent(HI) + z * Math.sqrt(sent(VAR_HI));
    const missedLow = Math.max(0, skippedSums[LO] - z * Math.sqrt(skippedSums[VAR_LO]));
    const ratio = (a: number, b: number) => (a + b > 0 ? a / (a + b) : 1);
    points.push({
      threshold: thresholds[s],
      sent: n - skippedSums[COUNT],
      skipped: skippedSums[COUNT],
      expectedMissedBuildingTiles: missed,
      expectedRecall: ratio(held, missed),
      recallLow: Math.min(ratio(held, missed), ratio(heldLow, missedHigh)),
      recallHigh: Math.max(ratio(held, missed), ratio(heldHigh, missedLow)),
      missedLow: Math.min(missed, missedLow),
      missedHigh: Math.max(missed, missedHigh),
    });
  }
  const uncovered = total[UNCOVERED];
  const uncoveredShare = n > 0 ? uncovered / n : 0;
  const missed = empty[EMPTY_P];
  const modelAlone: ModelAloneMisses = {
    emptyTiles: empty[EMPTY],
    expectedMissedBuildingTiles: missed,
    missedLow: Math.min(missed, Math.max(0, empty[EMPTY_LO] - z * Math.sqrt(empty[EMPTY_VAR_LO]))),
    missedHigh: Math.max(missed, empty[EMPTY_HI] + z * Math.sqrt(empty[EMPTY_VAR_HI])),
    expectedMissShare: total[P] > 0 ? missed / total[P] : 0,
  };
  return {
    points,
    confidence,
    coverage: { tiles: n, uncovered, uncoveredShare, verified: uncoveredShare <= UNVERIFIED_SHARE },
    // Every tile must say whether the model's output was empty, or the sums would silently undercount.
    ...(n > 0 && told === n ? { modelAlone } : {}),
  };
}

/** The highest threshold whose expected recall still reaches `target` (the fewest tiles sent); null if none. */
export function thresholdForRecall(curve: EffortCurve, target: number): EffortPoint | null {
  if (!(target > 0 && target <= 1))
    throw new EffortError(`target recall = ${target}; pass a share in (0, 1]`);
  let best: EffortPoint | null = null;
  for (const p of curve.points) if (p.expectedRecall >= target - 1e-12) best = p;
  return best;
}

export type RecallOrder = 'priority' | 'buildingProb' | ((tile: TruthTile) => number);

export interface TruthTile {
  priority: number;
  buildingProb: number;
  holdsBuilding: boolean;
}

export interface RecallResult {
  recall: number;
  /** Score at or above which tiles go to volunteers. */
  threshold: number;
  sent: number;
  skipped: number;
  skippedShare: number;
  buildingTiles: number;
  /** Share of building tiles the sent tiles actually hold (≥ recall). */
  achievedRecall: number;
}

/**
 * Share of tiles volunteers can skip while still seeing `recall` of the building tiles, when tiles are sent in
 * descending `order` with an exact threshold: tiles that tie with the last one needed go out together, as a
 * threshold would send them. For benchmarks, where the truth is known. Holds one score per tile (8 bytes), so it
 * sorts rather than bins: binning would send near-ties together and hide differences between rankings. Sending
 * tiles in random order skips 1 − recall of them; that is the baseline to beat.
 */
export async function skippedAtRecall(
  tiles: AsyncIterable<TruthTile> | Iterable<TruthTile>,
  recall = 0.95,
  order: RecallOrder = 'priority',
): Promise<RecallResult> {
  if (!(recall > 0 && recall <= 1))
    throw new EffortError(`recall = ${recall}; pass a share in (0, 1], e.g. 0.95`);
  const score = typeof order === 'function' ? order : (t: TruthTile) => t[order];
  let scores = new Float64Array(1024);
  let holds = new Uint8Array(1024);
  let n = 0;
  let buildings = 0;
  for await (const t of tiles) {
    const s = score(t);
    check01('order score', s, n);
    if (n === scores.length) {
      const grown = new Float64Array(n * 2);
      grown.set(scores);
      scores = grown;
      const h = new Uint8Array(n * 2);
      h.set(holds);
      holds = h;
    }
    scores[n] = s;
    holds[n] = t.holdsBuilding ? 1 : 0;
    if (t.holdsBuilding) buildings++;
    n++;
  }
  if (n === 0) throw new EffortError('no tiles to rank; score the region first');
  if (buildings === 0) {
    return {
      recall,
      threshold: 1,
      sent: 0,
      skipped: n,
      skippedShare: 1,
      buildingTiles: 0,
      achievedRecall: 1,
    };
  }
  const idx = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const needed = recall * buildings;
  let seen = 0;
  let sent = 0;
  let threshold = 1;
  for (let i = 0; i < n;) {
    // One group of tied scores at a time.
    const s = scores[idx[i]];
    let j = i;
    while (j < n && scores[idx[j]] === s) {
      seen += holds[idx[j]];
      j++;
    }
    sent = j;
    threshold = s;
    i = j;
    if (seen >= needed - 1e-9) break;
  }
  return {
    recall,
    threshold,
    sent,
    skipped: n - sent,
    skippedShare: (n - sent) / n,
    buildingTiles: buildings,
    achievedRecall: seen / buildings,
  };
}
