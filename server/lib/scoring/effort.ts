/**
 * Effort curves: what a priority threshold saves volunteers, and what it costs in missed buildings.
 *
 * Tiles stream through once; all state is a histogram over the threshold steps, so a region of any size
 * costs O(steps) memory. The expected number of missed building tiles at a threshold is the sum, over
 * the tiles it skips, of P(tile holds a building) — the model's buildingProb, or, when the reference
 * analysis supplies a calibration table, the share of training tiles in that buildingProb bin that
 * really held buildings (models are rarely calibrated out of the box).
 */
import { TilelensError } from '../errors.ts';

export class EffortError extends TilelensError {
  override name = 'EffortError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('effort', message, { status: 409, cause: options?.cause });
  }
}

/** Observed building share per buildingProb bin: bin i covers [edges[i], edges[i+1]). */
export interface BuildingCalibration {
  edges: number[];
  share: number[];
  counts?: number[];
}

export interface EffortPoint {
  threshold: number;
  /** Tiles with priority ≥ threshold: volunteers see them. */
  sent: number;
  skipped: number;
  expectedMissedBuildingTiles: number;
  /** Expected share of all building tiles that the sent tiles hold. */
  expectedRecall: number;
}

export interface EffortTile {
  priority: number;
  buildingProb: number;
  iouHat?: number;
  predFraction?: number;
}

function check01(name: string, v: number, i: number): void {
  if (!Number.isFinite(v) || v < 0 || v > 1) {
    throw new EffortError(
      `tile #${i} has ${name} = ${v}, outside 0..1; re-score it or leave it out of the curve`,
    );
  }
}

export function checkCalibration(cal: BuildingCalibration): void {
  const { edges, share } = cal;
  if (edges.length < 2 || share.length !== edges.length - 1) {
    throw new EffortError(
      `calibration needs n+1 bin edges for n shares (got ${edges.length} edges, ${share.length} shares)`,
    );
  }
  if (edges[0] !== 0 || edges[edges.length - 1] !== 1 || edges.some((e, i) => i > 0 && !(e > edges[i - 1]))) {
    throw new EffortError('calibration edges must rise strictly from 0 to 1');
  }
  if (share.some((s) => !(s >= 0 && s <= 1))) throw new EffortError('calibration shares must lie in 0..1');
}

export function calibratedBuildingProb(p: number, cal?: BuildingCalibration): number {
  if (!cal) return p;
  const { edges, share } = cal;
  let lo = 0;
  let hi = share.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (edges[mid] <= p) lo = mid;
    else hi = mid - 1;
  }
  return share[lo];
}

/** Builds the table from the reference analysis: training tiles with their buildingProb and their truth. */
export function fitCalibration(
  tiles: Iterable<{ buildingProb: number; holdsBuilding: boolean }>,
  bins = 10,
): BuildingCalibration {
  const edges = Array.from({ length: bins + 1 }, (_, i) => i / bins);
  const counts = new Array<number>(bins).fill(0);
  const positives = new Array<number>(bins).fill(0);
  let i = 0;
  for (const t of tiles) {
    check01('buildingProb', t.buildingProb, i++);
    const b = Math.min(bins - 1, Math.floor(t.buildingProb * bins));
    counts[b]++;
    if (t.holdsBuilding) positives[b]++;
  }
  // An empty bin keeps the model's own word: its mid-point.
  const share = counts.map((c, b) => (c > 0 ? positives[b] / c : (edges[b] + edges[b + 1]) / 2));
  return { edges, share, counts };
}

export interface EffortOptions {
  steps?: number;
  calibration?: BuildingCalibration;
}

/** The second argument is either the options or, as a shorthand, the calibration table alone. */
export function effortCurve(
  tiles: Iterable<EffortTile>,
  optionsOrCalibration: EffortOptions | BuildingCalibration = {},
): EffortPoint[] {
  const options: EffortOptions =
    'edges' in optionsOrCalibration ? { calibration: optionsOrCalibration } : optionsOrCalibration;
  const steps = options.steps ?? 101;
  if (!Number.isInteger(steps) || steps < 2)
    throw new EffortError(`steps = ${steps}; use an integer ≥ 2 (101 gives thresholds 0, 0.01, …, 1)`);
  if (options.calibration) checkCalibration(options.calibration);
  const thresholds = Array.from({ length: steps }, (_, i) => i / (steps - 1));
  // bin j counts tiles whose priority lies in [thresholds[j], thresholds[j+1]): skipped from step j+1 on.
  const count = new Float64Array(steps);
  const prob = new Float64Array(steps);
  let i = 0;
  for (const t of tiles) {
    check01('priority', t.priority, i);
    check01('buildingProb', t.buildingProb, i);
    i++;
    let j = Math.min(steps - 1, Math.floor(t.priority * (steps - 1)));
    // i / (steps − 1) is not always exact in floating point; settle ties the way `priority < threshold` reads.
    while (j + 1 < steps && thresholds[j + 1] <= t.priority) j++;
    while (j > 0 && thresholds[j] > t.priority) j--;
    count[j]++;
    prob[j] += calibratedBuildingProb(t.buildingProb, options.calibration);
  }
  const total = i;
  let totalProb = 0;
  for (const p of prob) totalProb += p;
  const out: EffortPoint[] = [];
  let skipped = 0;
  let missed = 0;
  for (let s = 0; s < steps; s++) {
    if (s > 0) {
      skipped += count[s - 1];
      missed += prob[s - 1];
    }
    out.push({
      threshold: thresholds[s],
      sent: total - skipped,
      skipped,
      expectedMissedBuildingTiles: missed,
      expectedRecall: totalProb > 0 ? 1 - missed / totalProb : 1,
    });
  }
  return out;
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

/** Score resolution of skippedAtRecall: ties within one bin go out together. */
const RECALL_BINS = 10_000;

/**
 * Share of tiles volunteers can skip while still seeing `recall` of the building tiles, when tiles are
 * sent in descending `order` (for the demo world, whose truth is known). Streams into a histogram of
 * RECALL_BINS score bins, so ties and near-ties are sent or skipped together, as a threshold would.
 * Sending tiles in random order skips 1 − recall of them; that is the baseline to beat.
 */
export function skippedAtRecall(
  tiles: Iterable<TruthTile>,
  recall = 0.95,
  order: RecallOrder = 'priority',
): RecallResult {
  if (!(recall > 0 && recall <= 1))
    throw new EffortError(`recall = ${recall}; pass a share in (0, 1], e.g. 0.95`);
  const score = typeof order === 'function' ? order : (t: TruthTile) => t[order];
  const all = new Float64Array(RECALL_BINS + 1);
  const pos = new Float64Array(RECALL_BINS + 1);
  let n = 0;
  let buildings = 0;
  for (const t of tiles) {
    const s = score(t);
    check01('order score', s, n);
    const b = Math.floor(s * RECALL_BINS);
    all[b]++;
    n++;
    if (t.holdsBuilding) {
      pos[b]++;
      buildings++;
    }
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
  const needed = recall * buildings;
  let seen = 0;
  let sent = 0;
  let b = RECALL_BINS;
  for (; b >= 0; b--) {
    seen += pos[b];
    sent += all[b];
    if (seen >= needed - 1e-9) break;
  }
  return {
    recall,
    threshold: b / RECALL_BINS,
    sent,
    skipped: n - sent,
    skippedShare: (n - sent) / n,
    buildingTiles: buildings,
    achievedRecall: seen / buildings,
  };
}
