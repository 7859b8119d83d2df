/**
 * The shared store with its chunk queue, opened as the server, a command or a worker needs them. The server (and
 * a command) installs or upgrades the queue's tables as it migrates the store; a worker changes neither: it
 * refuses, with the reason and nothing written, a database that is not a tilelens one, a schema behind or ahead
 * of its code, queue tables of another version, or a server it cannot reach.
 */
import { describeStore, isSharedStore, openDatabase, type DatabaseHandle } from '../db/client.ts';
import { closeImagerySources } from './imagery-registry.ts';
import type { OutboundPolicy } from '../imagery/outbound.ts';
import type { ChunkQueue, ChunkWorker, StopMode } from '../queue/chunk-queue.ts';
import { openPgBossQueue } from '../queue/pg-boss-queue.ts';
import { QueueError } from '../queue/chunks.ts';
import {
  DEFAULT_IMAGERY_RATE,
  parseHostRates,
  PostgresHostRateLimiter,
  type HostRates,
} from '../queue/host-rate-limit.ts';
import type { ScoringContext } from './context.ts';
import { workScoringChunks, type WorkScoringOptions } from './queued-jobs.ts';

export interface SharedStore {
  db: DatabaseHandle;
  queue: ChunkQueue;
  /** One token bucket per imagery host in the store, shared with every worker that fetches from it. */
  imageryRates: PostgresHostRateLimiter;
  close(): Promise<void>;
}

/**
 * Opens the `postgres://` store and its queue. `migrate: false` (a worker) refuses what it would have to change;
 * the queue's maintenance interval is pg-boss's (how soon a dead worker's chunk comes back, at most).
 */
export async function openSharedStore(
  url: string,
  options: { migrate: boolean; maintenanceIntervalSeconds?: number; imageryRates?: HostRates },
): Promise<SharedStore> {
  if (!isSharedStore(url)) {
    throw new QueueError(
      'not-shared-store',
      `${describeStore(url)} is not a shared store: workers take chunks from a postgres://… database the server runs on (the embedded SQLite store scores in the server's own process)`,
      { status: 400 },
    );
  }
  const db = await openDatabase(url, { migrate: options.migrate });
  let queue: ChunkQueue;
  try {
    queue = await openPgBossQueue({
      url,
      migrate: options.migrate,
      ...(options.maintenanceIntervalSeconds !== undefined
        ? { maintenanceIntervalSeconds: options.maintenanceIntervalSeconds }
        : {}),
    });
  } catch (err) {
    await db.close();
    throw err;
  }
  let imageryRates: PostgresHostRateLimiter;
  try {
    imageryRates = await PostgresHostRateLimiter.open(
      url,
      options.imageryRates ?? parseHostRates(DEFAULT_IMAGERY_RATE),
    );
  } catch (err) {
    await queue.close();
    await db.close();
    throw err;
  }
  return {
    db,
    queue,
    imageryRates,
    close: async () => {
      await queue.close();
      await imageryRates.close();
      await db.close();
    },
  };
}

export interface ScoringWorkerOptions extends WorkScoringOptions {
  url: string;
  dataDir: string;
  outbound?: OutboundPolicy;
  imageryConcurrency?: number;
  /** Each imagery host's rate limit (`--imagery-rate`); the buckets are the store's, shared with every worker. */
  imageryRates?: HostRates;
  maintenanceIntervalSeconds?: number;
  log?: (msg: string) => void;
}

export interface ScoringWorker {
  ctx: ScoringContext;
  /**
   * Stops taking chunks, lets the running ones finish (`finish`, unless said) or hands them back to the queue
   * after the batch in hand (`release`), and closes the store. A `release` during a `finish` stop turns it into one.
   */
  stop(mode?: StopMode): Promise<void>;
}

/** `tilelens worker`: checks the shared store without changing it, then scores chunks until stopped. */
export async function startScoringWorker(options: ScoringWorkerOptions): Promise<ScoringWorker> {
  const store = await openSharedStore(options.url, {
    migrate: false,
    ...(options.imageryRates ? { imageryRates: options.imageryRates } : {}),
    ...(options.maintenanceIntervalSeconds !== undefined
      ? { maintenanceIntervalSeconds: options.maintenanceIntervalSeconds }
      : {}),
  });
  const ctx: ScoringContext = {
    db: store.db,
    dataDir: options.dataDir,
    queue: store.queue,
    imageryRates: store.imageryRates,
    ...(options.outbound ? { outbound: options.outbound } : {}),
    ...(options.imageryConcurrency !== undefined ? { imageryConcurrency: options.imageryConcurrency } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  let worker: ChunkWorker;
  try {
    worker = await workScoringChunks(ctx, store.queue, options);
  } catch (err) {
    await store.close();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    ctx,
    stop(mode: StopMode = 'finish') {
      const ending = worker.stop(mode);
      stopped ??= (async () => {
        await ending;
        await closeImagerySources(ctx);
        await store.close();
      })();
      return stopped;
    },
  };
}
