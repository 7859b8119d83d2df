/**
 * Priority: the order in which volunteers should see tiles.
 *
 * A manager wants volunteers on two kinds of tile: those that probably hold buildings, and those where
 * the model's "no building" cannot be believed. Priority is the chance that a volunteer finds something
 * on the tile: either the building the model sees, or — where the model cannot be trusted — one it may
 * have missed:
 *
 *   trust     = min(1, iouHat / trustedIou) · (1 − noveltyDiscount · max(0, novelty − noveltyFloor) / (100 − noveltyFloor))
 *   prior     = untrustedPrior / (1 + urbanDistance / urbanScale)      (untrustedPrior without urbanScale)
 *   priority  = buildingProb + (1 − buildingProb) · (1 − trust) · prior
 *
 * Why these pieces:
 * - iouHat (the smoothed IoU of the paper's latent-space surface) says how well the model segmented
 *   training tiles that looked like this one inside the network. IoU is harsh on small objects — a tile
 *   whose buildings are all found with slightly loose outlines still scores well below 1 — so an iouHat of
 *   `trustedIou` (0.8 by default) already counts as full trust.
 * - The surface is fitted on the training set; where a tile lies outside it, the surface extrapolates
 *   and its iouHat is itself untrustworthy. novelty is the percentile of the tile's distance among the
 *   training set's own distances, so half the training tiles sit above 50 by construction: only the
 *   part beyond `noveltyFloor` erodes the trust, fully (by noveltyDiscount) at the 100th percentile.
 * - Where the model is not trusted, a building it missed is as likely as the prior says: 0.5 without other
 *   information, lowered by the latent distance to the urbanised clusters when the caller gives a scale for
 *   that distance (the median distance of the training tiles): tiles that look nothing like a settlement
 *   to the network are less likely to hold one.
 * - The "either … or" form (1 − (1 − p)(1 − (1 − trust)·prior)) keeps the model's own ranking wherever
 *   trust is alike: a region the model has never seen is ordered by buildingProb (the benchmark
 *   measured that a trust-weighted average instead flattened such a region and lost a fifth of the
 *   skippable tiles), while doubt still lifts an empty tile above the confidently empty ones.
 *
 * The properties the ordering keeps (tested): priority rises with buildingProb; an untrusted empty tile
 * outranks a trusted empty one; a confidently empty tile (buildingProb 0, iouHat ≥ trustedIou, novelty ≤
 * noveltyFloor) gets 0 and ranks last.
 */
import { TilelensError } from '../errors.ts';

// The map UI's inspector reads the default thresholds beside modelTrust.
export { DEFAULT_TIER_THRESHOLDS } from '../scored-tiles/tiers.ts';

export interface PriorityInputs {
  buildingProb: number;
  iouHat: number;
  /** 0..100 */
  novelty: number;
  urbanDistance: number;
}

export interface PriorityWeights {
  /** Smoothed IoU at and above which the model counts as fully trusted. */
  trustedIou: number;
  /** Novelty percentile below which a tile counts as typical of the training set. */
  noveltyFloor: number;
  /** How much full novelty (100) erodes trust, 0..1. */
  noveltyDiscount: number;
  /** Probability of a building assumed where the model cannot be trusted, 0..1. */
  untrustedPrior: number;
  /** Latent distance at which the prior halves; leave out to ignore urbanDistance. */
  urbanScale?: number;
}

export const DEFAULT_PRIORITY_WEIGHTS: PriorityWeights = {
  trustedIou: 0.8,
  noveltyFloor: 50,
  noveltyDiscount: 0.8,
  untrustedPrior: 0.5,
};

export class PriorityError extends TilelensError {
  override name = 'PriorityError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('priority', message, { status: 500, cause: options?.cause });
  }
}

function unit(name: string, v: number, max = 1): number {
  if (!Number.isFinite(v) || v < 0 || v > max) {
    throw new PriorityError(
      `${name} = ${v} is outside 0..${max}; score the tile again or fix the stored value`,
    );
  }
  return v;
}

export function modelTrust(
  iouHat: number,
  novelty: number,
  weights: PriorityWeights = DEFAULT_PRIORITY_WEIGHTS,
): number {
  const { trustedIou, noveltyFloor, noveltyDiscount } = weights;
  if (!(trustedIou > 0 && trustedIou <= 1))
    throw new PriorityError(`trustedIou = ${trustedIou} must lie in (0, 1]`);
  if (!(noveltyFloor >= 0 && noveltyFloor < 100))
    throw new PriorityError(`noveltyFloor = ${noveltyFloor} must lie in [0, 100)`);
  unit('noveltyDiscount', noveltyDiscount);
  const beyond = Math.max(0, unit('novelty', novelty, 100) - noveltyFloor) / (100 - noveltyFloor);
  return Math.min(1, unit('iouHat', iouHat) / trustedIou) * (1 - noveltyDiscount * beyond);
}

export function computePriority(inputs: PriorityInputs, weights: Partial<PriorityWeights> = {}): number {
  const w = { ...DEFAULT_PRIORITY_WEIGHTS, ...weights };
  unit('untrustedPrior', w.untrustedPrior);
  const p = unit('buildingProb', inputs.buildingProb);
  const trust = modelTrust(inputs.iouHat, inputs.novelty, w);
  let prior = w.untrustedPrior;
  if (w.urbanScale !== undefined) {
    if (!(w.urbanScale > 0))
      throw new PriorityError(`urbanScale = ${w.urbanScale} must be a positive latent distance`);
    if (!(inputs.urbanDistance >= 0)) {
      throw new PriorityError(
        `urbanDistance = ${inputs.urbanDistance} must be a non-negative latent distance`,
      );
    }
    prior = w.untrustedPrior / (1 + inputs.urbanDistance / w.urbanScale);
  }
  return Math.min(1, Math.max(0, p + (1 - p) * (1 - trust) * prior));
}
