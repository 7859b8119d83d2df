/**
 * The scoring library's queue: what a project's chunks go through, whichever engine runs them. `send` queues
 * a project's chunks, `work` takes them with a lease, `cancel` ends a project's share on every worker, and
 * `progress` sums the chunks' counts and their recent rate over every worker. Two engines implement it with
 * the same behaviour (one conformance suite runs over both): pg-boss on the shared Postgres
 * (`pg-boss-queue.ts`) and an in-process one for the embedded store (`in-process-queue.ts`).
 *
 * The rules both keep:
 *  - a chunk is handled by one attempt at a time; an attempt that throws, or that outlives its lease (its
 *    worker died, hung or was cut off), is tried again after a back-off, up to `retryLimit` times more;
 *  - the lease runs `leaseSeconds` from the attempt's start, and each checkpoint that comes a third of a lease
 *    or more after the last renewal renews it for `leaseSeconds` from then: an attempt that keeps reporting
 *    keeps its chunk however long it runs, one that stops reporting loses it a lease after its last renewal;
 *  - a worker that stops with `release` hands its running chunks back after the batch in hand: each is taken
 *    again at once, by any worker, and the hand-back does not count as one of its tries;
 *  - a chunk that used up its tries ends as a dead letter: the worker's `onDead` records its tiles as
 *    failures, and it counts as failed — never an endless loop;
 *  - an attempt reports its counts at `checkpoint` (after each batch); the checkpoint throws
 *    `ChunkStoppedError` once the attempt must stop (project cancelled, lease lost), so a running chunk stops
 *    at its next batch and an attempt that lost its lease writes nothing more to the queue;
 *  - writes of a handler are idempotent on project + z/x/y: a chunk that runs twice changes nothing more.
 */
import { hostname } from 'node:os';
import type { ChunkRecordRow } from '../db/chunk-ledger-repo.ts';
import type { Chunk } from './chunks.ts';
import { QueueError } from './chunks.ts';
import type { QueueProgress } from './progress.ts';

export interface RetryPolicy {
  /** Tries after the first; a chunk is tried at most retryLimit + 1 times. */
  retryLimit: number;
  /** The wait before a retry, in whole seconds (the engine's unit); doubled per retry with jitter when backing off. */
  retryDelaySeconds: number;
  retryBackoff: boolean;
  /** How long an attempt may hold its chunk, in whole seconds: past it the chunk is another worker's to try. */
  leaseSeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retryLimit: 3,
  retryDelaySeconds: 5,
  retryBackoff: true,
  leaseSeconds: 15 * 60,
};

export interface ChunkContext {
  /** 1 for the first try. */
  readonly attempt: number;
  /** Aborted once the attempt must stop (cancelled, lease lost): pass it to fetches. */
  readonly signal: AbortSignal;
  /**
   * Records the attempt's counts so far and renews its lease when a third of it has passed since the last
   * renewal; throws ChunkStoppedError when the attempt must stop.
   */
  checkpoint(counts: { done: number; failed: number }): Promise<void>;
}

export interface ChunkResult {
  /** Tiles handled (failed ones included). */
  done: number;
  /** Of them, tiles that failed (their failure recorded by the handler). */
  failed: number;
  /** Kept with the chunk's record (JSON). */
  output?: unknown;
}

export type ChunkHandler = (chunk: Chunk, ctx: ChunkContext) => Promise<ChunkResult>;
/** Records a dead chunk's tiles as failures (idempotently: a dead letter may be delivered twice). */
export type DeadChunkHandler = (chunk: Chunk, error: string) => Promise<void>;

export interface WorkOptions {
  /** Chunks this worker handles at once; 1 unless said. */
  concurrency?: number;
  onDead: DeadChunkHandler;
  /** How often an idle worker looks for chunks, in ms; 1,000 unless said. */
  pollMs?: number;
  /**
   * Called by the worker that ended a chunk (done, or dead with its failures recorded), after the queue recorded
   * it: where the last chunk of a send is noticed. An error is the engine's (`onError`), the chunk stays ended.
   */
  onSettled?: (chunk: Chunk) => Promise<void>;
  /** This worker's name in progress (which workers are active): host and process unless said. */
  name?: string;
  /** Errors of the engine itself (a lost connection): the worker carries on; logged unless said. */
  onError?: (err: unknown) => void;
}

/**
 * How a worker stops with chunks running: `finish` lets each run to its end; `release` stops each at its next
 * checkpoint (the batch in hand is finished and stored) and hands it back to the queue.
 */
export type StopMode = 'finish' | 'release';

export interface ChunkWorker {
  /**
   * Stops taking chunks and waits for the running ones to end, as `mode` says (`finish` unless said). A later
   * call with `release` turns a stop that was finishing its chunks into one that hands them back.
   */
  stop(mode?: StopMode): Promise<void>;
}

/** The queue's record of a chunk: the ledger's row on Postgres, the same shape in memory. */
export type ChunkRecord = ChunkRecordRow;

export interface ChunkQueue {
  /** Queues the project's chunks; refuses while the project still has chunks queued or running. */
  send(projectId: number, chunks: Chunk[], policy?: Partial<RetryPolicy>): Promise<void>;
  work(handler: ChunkHandler, options: WorkOptions): Promise<ChunkWorker>;
  /** Queued chunks never start, running ones stop at their next checkpoint; returns the chunks cancelled. */
  cancel(projectId: number): Promise<number>;
  progress(projectId: number): Promise<QueueProgress>;
  /** The project's chunk records (of its latest send) in chunk order. */
  records(projectId: number): AsyncIterable<ChunkRecord>;
  close(): Promise<void>;
}

export class ChunkStoppedError extends QueueError {
  override name = 'ChunkStoppedError';
  constructor(
    readonly chunk: Chunk,
    readonly reason: 'cancelled' | 'lease-lost' | 'released',
  ) {
    super(
      'chunk-stopped',
      `chunk ${chunk.seq} of project ${chunk.projectId} stopped: ${STOP_REASONS[reason]}`,
      {
        status: 409,
      },
    );
  }
}

const STOP_REASONS: Record<ChunkStoppedError['reason'], string> = {
  cancelled: 'the project was cancelled',
  'lease-lost': 'its lease ran out and the chunk is another attempt’s',
  released: 'its worker is stopping and hands the chunk back to the queue',
};

/** Whether an attempt that reports now, `sinceRenewalMs` after its lease was last renewed, renews it. */
export function leaseDueForRenewal(sinceRenewalMs: number, leaseSeconds: number): boolean {
  return sinceRenewalMs * 3 >= leaseSeconds * 1000;
}

export function retryPolicy(policy: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY_POLICY, ...policy };
  const checks: [keyof RetryPolicy, number][] = [
    ['retryLimit', 0],
    ['retryDelaySeconds', 0],
    ['leaseSeconds', 1],
  ];
  for (const [key, min] of checks) {
    const v = p[key] as number;
    if (!Number.isInteger(v) || v < min) {
      throw new QueueError('invalid-policy', `${key} must be an integer of at least ${min}, got ${v}`, {
        status: 400,
      });
    }
  }
  return p;
}

/**
 * The wait before retry number `retry` (1 for the first), as pg-boss computes it: the delay, or with back-off
 * delay × 2^retry / 2 plus as much again at random, so retries of many chunks that failed together spread out.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number, random = Math.random): number {
  const d = policy.retryDelaySeconds * 1000;
  if (!policy.retryBackoff) return d;
  const base = (d * 2 ** Math.min(16, retry)) / 2;
  return base + base * random();
}

/** A worker's name unless one is given: its host and process. */
export function defaultWorkerName(): string {
  return `${hostname()}:${process.pid}`;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
