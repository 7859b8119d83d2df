/**
 * What the labelled side reads of a scored tile, and the priority bins every estimate folds tiles into.
 *
 * A region may hold 220,000 tiles, so nothing here keeps tiles: samples, designs and estimates stream
 * them into PRIORITY_BINS bins (thresholds resolve to 1 / PRIORITY_BINS = 0.0001) and keep per-bin sums.
 */
import { TrustError } from './errors.ts';

export interface TrustTile {
  /** `z-x-y`, MapSwipe's task id. */
  taskId: string;
  /** The score a threshold cuts: a tile is sent to volunteers iff priority ≥ threshold. */
  priority: number;
  /** The model's calibrated P(the tile holds a building), from the reference run. */
  buildingProb: number;
  /** Tiles whose status is not 'scored' (missing imagery…) are kept apart from every figure. */
  status?: string;
}

/** Tiles as a list, or as a function that streams them afresh (a sample draw reads them twice). */
export type TileSource =
  AsyncIterable<TrustTile> | Iterable<TrustTile> | (() => AsyncIterable<TrustTile> | Iterable<TrustTile>);

export const PRIORITY_BINS = 10_000;

export function tilesOf(source: TileSource): AsyncIterable<TrustTile> | Iterable<TrustTile> {
  return typeof source === 'function' ? source() : source;
}

/** Bin of a priority; the epsilon keeps k / PRIORITY_BINS, computed in floating point, in bin k. */
export function priorityBin(priority: number): number {
  return Math.min(PRIORITY_BINS - 1, Math.floor(priority * PRIORITY_BINS + 1e-7));
}

/** First bin sent at a threshold (tiles in bins ≥ it have priority ≥ threshold, to 0.0001). */
export function thresholdEdge(threshold: number): number {
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
    throw new TrustError('invalid-request', `threshold = ${threshold}; give a priority threshold in 0..1`);
  }
  return Math.min(PRIORITY_BINS, Math.ceil(threshold * PRIORITY_BINS - 1e-7));
}

export const edgeThreshold = (edge: number) => edge / PRIORITY_BINS;

export function isScored(tile: TrustTile): boolean {
  return tile.status === undefined || tile.status === 'scored';
}

/**
 * Calls `each` with every scored tile (checked) and its priority bin; returns how many tiles were kept
 * apart (not scored).
 */
export async function forEachScored(
  source: TileSource,
  each: (tile: TrustTile, bin: number) => void,
): Promise<number> {
  let keptApart = 0;
  let i = 0;
  for await (const t of tilesOf(source)) {
    if (!isScored(t)) {
      keptApart++;
      i++;
      continue;
    }
    checkTile(t, i++);
    each(t, priorityBin(t.priority));
  }
  return keptApart;
}

/** Throws for a tile an estimate cannot use, naming it. */
export function checkTile(tile: TrustTile, i: number): void {
  if (
    typeof tile?.taskId === 'string' &&
    tile.priority >= 0 &&
    tile.priority <= 1 &&
    tile.buildingProb >= 0 &&
    tile.buildingProb <= 1
  ) {
    return;
  }
  const [what, v] =
    typeof tile?.taskId !== 'string'
      ? ['taskId', tile?.taskId]
      : !(tile.priority >= 0 && tile.priority <= 1)
        ? ['priority', tile.priority]
        : ['buildingProb', tile.buildingProb];
  throw new TrustError(
    'invalid-request',
    `tile #${i} (${String(tile?.taskId)}) has ${what} = ${String(v)}; scores must be numbers in 0..1 — re-score the project`,
  );
}
