/**
 * A project's progress through the queue, the same for every engine: chunks by state, tiles handled and
 * failed out of the total, and an ETA from the recent rate summed over every worker. Each chunk's tiles are
 * taken as spread evenly over the time its attempt has run (a chunk lasts seconds, the window a minute), so
 * the tiles handled in the window are summed over all chunks any worker touched in it.
 */
import type { ChunkRecordState } from './chunks.ts';

export interface ChunkActivity {
  /** Tiles the chunk's current attempt has handled. */
  done: number;
  /** When the attempt started and last reported, in ms (one clock for all). */
  startedAt: number;
  updatedAt: number;
  /** The worker of the attempt (host and process), where the engine knows it. */
  worker?: string | null;
}

export interface QueueProgress {
  projectId: number;
  /** 'idle': nothing ever sent; 'active': chunks queued or running; else how the last send ended. */
  state: 'idle' | 'active' | 'done' | 'cancelled';
  chunks: Record<ChunkRecordState, number> & { total: number };
  tiles: { total: number; done: number; failed: number };
  /** Workers that handled a chunk of the project in the recent window. */
  workersActive: number;
  /** Tiles a second over the recent window, summed over workers; null when nothing ran in it. */
  ratePerSecond: number | null;
  /** Seconds until every queued tile is handled at that rate; null when unknown or nothing is left. */
  etaSeconds: number | null;
}

export const RATE_WINDOW_MS = 60_000;

/** Tiles a second handled in the window ending at `now`. */
export function recentRate(
  activity: readonly ChunkActivity[],
  now: number,
  windowMs = RATE_WINDOW_MS,
): number | null {
  const from = now - windowMs;
  let tiles = 0;
  let earliest = Infinity;
  for (const a of activity) {
    if (a.updatedAt <= from || a.done <= 0) continue;
    const span = a.updatedAt - a.startedAt;
    const inWindow = span <= 0 ? 1 : (a.updatedAt - Math.max(a.startedAt, from)) / span;
    tiles += a.done * inWindow;
    earliest = Math.min(earliest, Math.max(a.startedAt, from));
  }
  // A run younger than the window is measured over its own age, not diluted by the empty time before it.
  const seconds = (now - earliest) / 1000;
  if (tiles <= 0 || !(seconds > 0)) return null;
  return tiles / seconds;
}

export function summariseProgress(
  projectId: number,
  counts: { chunks: Record<ChunkRecordState, number>; tiles: number; done: number; failed: number },
  activity: readonly ChunkActivity[],
  now: number,
  windowMs = RATE_WINDOW_MS,
): QueueProgress {
  const c = counts.chunks;
  const total = c.queued + c.running + c.done + c.dead + c.cancelled;
  const active = c.queued + c.running > 0;
  const state = total === 0 ? 'idle' : active ? 'active' : c.cancelled > 0 ? 'cancelled' : 'done';
  const rate = recentRate(activity, now, windowMs);
  const workers = new Set<string>();
  for (const a of activity) if (a.worker && a.updatedAt > now - windowMs) workers.add(a.worker);
  const left = active ? Math.max(0, counts.tiles - counts.done) : 0;
  return {
    projectId,
    state,
    chunks: { ...c, total },
    tiles: { total: counts.tiles, done: counts.done, failed: counts.failed },
    workersActive: workers.size,
    ratePerSecond: rate,
    etaSeconds: active && rate && left > 0 ? left / rate : null,
  };
}
