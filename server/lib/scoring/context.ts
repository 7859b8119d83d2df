/**
 * What every scoring call needs: the database, the folder for server-side files (imagery caches), and
 * where to say what happened. Sources, models and running jobs are cached per database handle, so two
 * contexts over the same handle share them and a test's fresh database starts with none.
 */
import type { DatabaseHandle } from '../db/client.ts';
import type { OutboundPolicy } from '../imagery/outbound.ts';
import type { ChunkQueue, RetryPolicy } from '../queue/chunk-queue.ts';

export interface ScoringContext {
  db: DatabaseHandle;
  /** Server-side folder for imagery caches and other per-source files; never named to a browser. */
  dataDir: string;
  /** Where XYZ imagery requests may go; without one, only to public addresses. */
  outbound?: OutboundPolicy;
  /** Requests in flight per XYZ imagery source (its host) when its spec does not say. */
  imageryConcurrency?: number;
  log?: (msg: string) => void;
  /**
   * The chunk queue of a shared store: scoring jobs are sent to it as chunks for workers on any host. Without
   * one (the embedded store), jobs run in this process.
   */
  queue?: ChunkQueue;
  /** How jobs are cut into chunks and retried on the queue. */
  queueOptions?: { chunkTiles?: number; policy?: Partial<RetryPolicy> };
}

export function logTo(ctx: ScoringContext, msg: string): void {
  ctx.log?.(`[scoring] ${msg}`);
}

/** One value per database handle, created on first use and dropped with the handle. */
export function perDatabase<T>(create: () => T): (ctx: ScoringContext) => T {
  const values = new WeakMap<DatabaseHandle, T>();
  return (ctx) => {
    let v = values.get(ctx.db);
    if (v === undefined) {
      v = create();
      values.set(ctx.db, v);
    }
    return v;
  };
}
