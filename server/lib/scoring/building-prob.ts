/**
 * building_prob: P(the tile holds a building | the share of its pixels the model marks as building).
 *
 * The model's pixel probabilities are not a tile-level probability, and a handful of stray pixels on a
 * roof-coloured field means little. So the tile-level number is the predicted building share passed
 * through a monotone (isotonic, pool-adjacent-violators) calibration fitted on the reference run's own
 * patches, where the truth is known: `holds a building` = the patch's ground truth has a building pixel
 * (tp + fn > 0). The patches table stores exactly these two things, so any stored run can be
 * calibrated without re-running the model. Each block is shrunk towards the overall share by a couple
 * of pseudo-observations, so a block of three patches never claims certainty.
 */
import { getPatches } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';

export interface BuildingProbCalibration {
  kind: 'isotonic-pred-fraction';
  /** Ascending predicted-share values at which each block starts. */
  starts: number[];
  /** Calibrated probability of each block, non-decreasing. */
  probs: number[];
  /** Reference patches the calibration was fitted on, and how many held a building. */
  patches: number;
  positives: number;
}

/** Pseudo-observations at the overall share added to each block. */
const SHRINK = 2;

export function fitBuildingProb(
  samples: Iterable<{ predFraction: number; holdsBuilding: boolean }>,
): BuildingProbCalibration {
  const byValue = new Map<number, { n: number; pos: number }>();
  let patches = 0;
  let positives = 0;
  for (const s of samples) {
    if (!Number.isFinite(s.predFraction)) continue;
    const v = Math.min(1, Math.max(0, s.predFraction));
    const cell = byValue.get(v) ?? { n: 0, pos: 0 };
    cell.n++;
    patches++;
    if (s.holdsBuilding) {
      cell.pos++;
      positives++;
    }
    byValue.set(v, cell);
  }
  if (patches === 0) {
    throw new RangeError(
      'building_prob calibration needs at least one reference patch with a predicted share',
    );
  }
  const overall = positives / patches;
  const value = (b: { n: number; pos: number }) => (b.pos + SHRINK * overall) / (b.n + SHRINK);
  const values = [...byValue.keys()].sort((a, b) => a - b);
  // Pool adjacent violators on the shrunk shares (shrinking after pooling would break monotonicity, since
  // small blocks move further towards the overall share than large ones).
  const blocks: { start: number; n: number; pos: number }[] = [];
  for (const v of values) {
    const c = byValue.get(v)!;
    blocks.push({ start: v, n: c.n, pos: c.pos });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (value(a) <= value(b)) break;
      a.n += b.n;
      a.pos += b.pos;
      blocks.pop();
    }
  }
  const probs = blocks.map(value);
  return { kind: 'isotonic-pred-fraction', starts: blocks.map((b) => b.start), probs, patches, positives };
}

/**
 * Inside a calibration block every share gets the same probability, so tiles would tie and their order
 * would be arbitrary; a thousandth of the raw share breaks the tie the model's way (the benchmark on the demo
 * world's new region lost 2–3 points of skippable tiles to such ties). Still non-decreasing across blocks.
 */
const TIE_BREAK = 1e-3;

/** The calibrated probability of a predicted share: the block it falls in (the first block below the first start). */
export function buildingProbability(cal: BuildingProbCalibration, predFraction: number): number {
  const { starts, probs } = cal;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= predFraction) lo = mid;
    else hi = mid - 1;
  }
  return Math.min(1, probs[lo] + TIE_BREAK * Math.min(1, Math.max(0, predFraction)));
}

const PAGE = 10_000;

/** Fits the calibration on a stored run's patches, reading them a page at a time. */
export function loadBuildingProb(handle: DatabaseHandle, runId: number): BuildingProbCalibration {
  function* samples() {
    for (let offset = 0; ; offset += PAGE) {
      const page = getPatches(handle, runId, {
        columns: ['predFraction', 'tp', 'fn'],
        limit: PAGE,
        offset,
      });
      for (const p of page) yield { predFraction: p.predFraction, holdsBuilding: p.tp + p.fn > 0 };
      if (page.length < PAGE) return;
    }
  }
  return fitBuildingProb(samples());
}
