/**
 * Priority tiers: the few buckets a manager sends to volunteers ('high' first) or skips. A leaf module, so that
 * scoring (which assigns tiers) and exports (which group tiles by them) both read the same rule.
 */
import { TilelensError } from '../errors.ts';
import type { ScoredTile, Tier } from './scored-tile.ts';

export interface TierThresholds {
  /** priority ≥ high → 'high' */
  high: number;
  medium: number;
  /** priority < low → 'skip' */
  low: number;
}

/**
 * 'high' holds the tiles the model says likely hold buildings; a wholly untrusted empty tile scores the
 * prior (0.5 at most, about 0.25 at the training tiles' typical distance from a settlement), so it lands in
 * 'medium'; 'skip' is below a 5 % chance that volunteers find anything.
 */
export const DEFAULT_TIER_THRESHOLDS: TierThresholds = { high: 0.5, medium: 0.15, low: 0.05 };

export class TierError extends TilelensError {
  override name = 'TierError';
  constructor(message: string) {
    super('invalid-thresholds', message, { status: 400 });
  }
}

export function tierOf(priority: number, thresholds: TierThresholds = DEFAULT_TIER_THRESHOLDS): Tier {
  const { high, medium, low } = thresholds;
  if (!(high >= medium && medium >= low)) {
    throw new TierError(`tier thresholds must satisfy high ≥ medium ≥ low (got ${high}, ${medium}, ${low})`);
  }
  if (priority >= high) return 'high';
  if (priority >= medium) return 'medium';
  if (priority >= low) return 'low';
  return 'skip';
}

/**
 * The stored tier, or the one its priority earns. Tiles whose imagery is missing cannot be judged by
 * volunteers either, so they never go out.
 */
export function tierFor(
  tile: Pick<ScoredTile, 'tier' | 'priority' | 'status'>,
  thresholds: TierThresholds = DEFAULT_TIER_THRESHOLDS,
): Tier {
  if (tile.status === 'missing') return 'skip';
  return tile.tier ?? tierOf(tile.priority, thresholds);
}
