/**
 * Tiers: priority cut into the lists volunteers get. Priority itself is the upper end of a tile's P(building)
 * without labels from the region (trust/doubt.ts): the model's calibrated probability where the reference run
 * speaks for the tile, widened towards 1 where the tile lies outside what it covered.
 */
import type { Tier } from './scored-tile.ts';

export class PriorityError extends Error {
  override name = 'PriorityError';
}

export interface TierThresholds {
  /** priority ≥ high → 'high' */
  high: number;
  medium: number;
  /** priority < low → 'skip' */
  low: number;
}

/**
 * 'high' holds the tiles that more likely than not hold a building — or may, as far as anyone can tell, because the
 * reference run does not speak for them (at its edge, doubt ½ lifts a tile to at least ½); 'skip' is below a 5 %
 * chance that volunteers find anything.
 */
export const DEFAULT_TIER_THRESHOLDS: TierThresholds = { high: 0.5, medium: 0.15, low: 0.05 };

export function tierOf(priority: number, thresholds: TierThresholds = DEFAULT_TIER_THRESHOLDS): Tier {
  const { high, medium, low } = thresholds;
  if (!(high >= medium && medium >= low)) {
    throw new PriorityError(
      `tier thresholds must satisfy high ≥ medium ≥ low (got ${high}, ${medium}, ${low})`,
    );
  }
  if (priority >= high) return 'high';
  if (priority >= medium) return 'medium';
  if (priority >= low) return 'low';
  return 'skip';
}

/** Tiles whose imagery is missing cannot be judged by volunteers either, so they never go out. */
export function* assignTiers<T extends { priority: number; status?: string }>(
  tiles: Iterable<T>,
  thresholds: TierThresholds = DEFAULT_TIER_THRESHOLDS,
): Generator<T & { tier: Tier }> {
  for (const t of tiles) {
    yield { ...t, tier: t.status === 'missing' ? 'skip' : tierOf(t.priority, thresholds) };
  }
}
