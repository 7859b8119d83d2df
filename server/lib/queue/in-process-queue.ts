/**
 * The chunk queue of the embedded store: no queue server, chunks held in this process's memory, worked by
 * loops of this process. It keeps the rules of `chunk-queue.ts` exactly as the pg-boss engine does — leases,
 * retries with the same back-off, dead letters, cancellation at the next checkpoint — so the scoring code
 * above it cannot tell the two apart. What it cannot give is durability: its chunks end with the process
 * (the embedded store's jobs resume from the tiles already stored instead).
 */
import { setMaxListeners } from 'node:events';
import {
  ChunkStoppedError,
  defaultWorkerName,
  errorText,
  leaseDueForRenewal,
  retryDelayMs,
  retryPolicy,
  type ChunkHandler,
  type ChunkQueue,
  type ChunkRecord,
  type ChunkWorker,
  type RetryPolicy,
  type StopMode,
  type WorkOptions,
} from './chunk-queue.ts';
import { ACTIVE_CHUNK_STATES } from '../db/chunk-ledger-repo.ts';
import { checkChunks, chunkTileCount, QueueError, type Chunk } from './chunks.ts';
import { summariseProgress, type ChunkActivity, type QueueProgress } from './progress.ts';

interface Entry extends ChunkRecord {
  chunk: Chunk;
  policy: RetryPolicy;
  startedAt: number | null;
  updatedAt: number;
  /** Deliveries of its dead letter so far (a failing `onDead` is tried again like a chunk). */
  deadTries: number;
  /** The worker of the latest attempt. */
  worker: string | null;
  /** Attempts handed back by a stopping worker: tries that do not count against the retry limit. */
  handedBack: number;
}

/** A worker's loops, as its attempts see it: its name, and whether it is stopping with its chunks handed back. */
interface WorkerState {
  name: string;
  releasing: boolean;
}

interface Ready {
  entry: Entry;
  kind: 'chunk' | 'dead';
  notBefore: number;
}

export class InProcessChunkQueue implements ChunkQueue {
  private readonly projects = new Map<number, Entry[]>();
  private ready: Ready[] = [];
  private readonly sleepers = new Set<() => void>();
  private closed = false;

  async send(projectId: number, chunks: Chunk[], policy: Partial<RetryPolicy> = {}): Promise<void> {
    if (this.closed) throw new QueueError('queue-closed', 'the queue is closed', { status: 503 });
    checkChunks(projectId, chunks);
    const p = retryPolicy(policy);
    const current = this.projects.get(projectId) ?? [];
    if (current.some((e) => ACTIVE_CHUNK_STATES.includes(e.state))) {
      throw new QueueError(
        'project-queued',
        `project ${projectId} still has chunks queued or running; wait for them or cancel the project first`,
        { status: 409 },
      );
    }
    const now = Date.now();
    const entries = chunks.map((chunk): Entry => ({
      chunk,
      policy: p,
      seq: chunk.seq,
      state: 'queued',
      tiles: chunkTileCount(chunk.spec),
      attempt: 0,
      done: 0,
      failed: 0,
      output: null,
      error: null,
      startedAt: null,
      updatedAt: now,
      deadTries: 0,
      worker: null,
      handedBack: 0,
    }));
    this.projects.set(projectId, entries);
    for (const entry of entries) this.ready.push({ entry, kind: 'chunk', notBefore: now });
    this.wakeAll();
  }

  async cancel(projectId: number): Promise<number> {
    let n = 0;
    for (const e of this.projects.get(projectId) ?? []) {
      if (ACTIVE_CHUNK_STATES.includes(e.state)) {
        e.state = 'cancelled';
        e.updatedAt = Date.now();
        n++;
      }
    }
    this.ready = this.ready.filter((r) => r.entry.state !== 'cancelled');
    return n;
  }

  async progress(projectId: number): Promise<QueueProgress> {
    const entries = this.projects.get(projectId) ?? [];
    const counts = {
      chunks: { queued: 0, running: 0, done: 0, dead: 0, cancelled: 0 },
      tiles: 0,
      done: 0,
      failed: 0,
    };
    const activity: ChunkActivity[] = [];
    for (const e of entries) {
      counts.chunks[e.state]++;
      counts.tiles += e.tiles;
      counts.done += e.done;
      counts.failed += e.failed;
      if ((e.state === 'running' || e.state === 'done') && e.startedAt !== null) {
        activity.push({ done: e.done, startedAt: e.startedAt, updatedAt: e.updatedAt, worker: e.worker });
      }
    }
    return summariseProgress(projectId, counts, activity, Date.now());
  }

  async *records(projectId: number): AsyncGenerator<ChunkRecord> {
    for (const e of this.projects.get(projectId) ?? []) {
      const { seq, state, tiles, attempt, done, failed, output, error } = e;
      yield { seq, state, tiles, attempt, done, failed, output, error };
    }
  }

  async work(handler: ChunkHandler, options: WorkOptions): Promise<ChunkWorker> {
    if (this.closed) throw new QueueError('queue-closed', 'the queue is closed', { status: 503 });
    const concurrency = options.concurrency ?? 1;
    const pollMs = options.pollMs ?? 1000;
    const onError = options.onError ?? ((err: unknown) => console.error(`chunk queue: ${errorText(err)}`));
    const state: WorkerState = { name: options.name ?? defaultWorkerName(), releasing: false };
    let stopping = false;
    const loop = async () => {
      while (!stopping && !this.closed) {
        const next = this.take();
        if (!next) {
          await this.sleep(pollMs);
          continue;
        }
        try {
          const ended =
            next.kind === 'dead'
              ? await this.deliverDead(next.entry, options)
              : await this.runAttempt(next.entry, handler, state);
          if (ended) await options.onSettled?.(next.entry.chunk);
        } catch (err) {
          onError(err);
          // Buried without its failures recorded: still an end the sender must hear of.
          if (err instanceof QueueError && err.code === 'dead-letter-failed')
            await options.onSettled?.(next.entry.chunk).catch(onError);
        }
      }
    };
    const loops = Array.from({ length: concurrency }, loop);
    return {
      stop: async (mode: StopMode = 'finish') => {
        stopping = true;
        if (mode === 'release') state.releasing = true;
        this.wakeAll();
        await Promise.all(loops);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
  }

  /** The first chunk whose time has come, in the order sent (retries wait their back-off in the line). */
  private take(): Ready | undefined {
    const now = Date.now();
    const i = this.ready.findIndex((r) => r.notBefore <= now && r.entry.state === 'queued');
    if (i < 0) return undefined;
    return this.ready.splice(i, 1)[0];
  }

  private sleep(pollMs: number): Promise<void> {
    const now = Date.now();
    const soonest = this.ready.reduce((m, r) => Math.min(m, r.notBefore), Infinity);
    const ms = Math.max(1, Math.min(pollMs, soonest - now));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  /** Runs one attempt of the chunk; true when it ended the chunk (done). */
  private async runAttempt(entry: Entry, handler: ChunkHandler, worker: WorkerState): Promise<boolean> {
    const attempt = ++entry.attempt;
    entry.worker = worker.name;
    entry.state = 'running';
    entry.done = 0;
    entry.failed = 0;
    entry.error = null;
    entry.startedAt = entry.updatedAt = Date.now();
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const owns = () => entry.attempt === attempt && entry.state === 'running';
    const stop = (reason: ChunkStoppedError['reason']) => {
      const err = new ChunkStoppedError(entry.chunk, reason);
      controller.abort(err);
      return err;
    };
    // The lease: past it the attempt no longer owns the chunk, which goes the way of a failed attempt. Each
    // checkpoint a third of a lease after the last renewal arms it again, a whole lease from then.
    const expire = () => {
      if (!owns()) return;
      stop('lease-lost');
      this.failAttempt(entry, `the attempt held the chunk past its ${entry.policy.leaseSeconds} s lease`);
    };
    let renewedAt = Date.now();
    let lease = setTimeout(expire, entry.policy.leaseSeconds * 1000);
    let handingBack = false;
    try {
      if (worker.releasing) {
        handingBack = true;
        throw stop('released');
      }
      const result = await handler(entry.chunk, {
        attempt,
        signal: controller.signal,
        checkpoint: async (counts) => {
          if (!owns()) throw stop(entry.state === 'cancelled' ? 'cancelled' : 'lease-lost');
          if (worker.releasing) {
            handingBack = true;
            throw stop('released');
          }
          const now = Date.now();
          entry.done = counts.done;
          entry.failed = counts.failed;
          entry.updatedAt = now;
          if (leaseDueForRenewal(now - renewedAt, entry.policy.leaseSeconds)) {
            clearTimeout(lease);
            lease = setTimeout(expire, entry.policy.leaseSeconds * 1000);
            renewedAt = now;
          }
        },
      });
      if (!owns()) return false;
      entry.state = 'done';
      entry.done = result.done;
      entry.failed = result.failed;
      entry.output = result.output ?? null;
      entry.updatedAt = Date.now();
      return true;
    } catch (err) {
      if (handingBack && owns()) this.handBack(entry);
      if (err instanceof ChunkStoppedError || !owns()) return false;
      this.failAttempt(entry, errorText(err));
      return false;
    } finally {
      clearTimeout(lease);
    }
  }

  /** A stopping worker's attempt hands its chunk back: taken again at once, the attempt not counted as a try. */
  private handBack(entry: Entry): void {
    entry.state = 'queued';
    entry.done = 0;
    entry.failed = 0;
    entry.handedBack++;
    entry.updatedAt = Date.now();
    this.ready.push({ entry, kind: 'chunk', notBefore: entry.updatedAt });
    this.wakeAll();
  }

  /** Tries the chunk again after its back-off, or, its tries used up, hands it to the dead-letter line. */
  private failAttempt(entry: Entry, error: string): void {
    entry.state = 'queued';
    entry.error = error;
    entry.done = 0;
    entry.failed = 0;
    entry.updatedAt = Date.now();
    // Attempts handed back do not use up a try; the back-off counts every attempt, as pg-boss's does.
    const retriesUsed = entry.attempt - 1 - entry.handedBack;
    if (retriesUsed < entry.policy.retryLimit) {
      const notBefore = Date.now() + retryDelayMs(entry.policy, entry.attempt);
      this.ready.push({ entry, kind: 'chunk', notBefore });
    } else {
      this.ready.push({ entry, kind: 'dead', notBefore: Date.now() });
    }
    this.wakeAll();
  }

  /** Records a dead chunk's failures and buries it; true when it ended the chunk (false: cancelled meanwhile). */
  private async deliverDead(entry: Entry, options: WorkOptions): Promise<boolean> {
    entry.deadTries++;
    try {
      await options.onDead(entry.chunk, entry.error ?? 'failed');
    } catch (err) {
      if (entry.deadTries <= entry.policy.retryLimit) {
        const notBefore = Date.now() + retryDelayMs(entry.policy, entry.deadTries);
        this.ready.push({ entry, kind: 'dead', notBefore });
        throw err;
      }
      // Its tries used up too: the chunk ends dead all the same (never an endless loop), and the error says
      // its failures are not recorded.
      this.bury(entry);
      throw new QueueError(
        'dead-letter-failed',
        `chunk ${entry.seq} of project ${entry.chunk.projectId} is dead but its failures could not be recorded: ${errorText(err)}`,
        { cause: err },
      );
    }
    return this.bury(entry);
  }

  private bury(entry: Entry): boolean {
    if (entry.state !== 'queued') return false; // cancelled meanwhile
    entry.state = 'dead';
    entry.done = entry.tiles;
    entry.failed = entry.tiles;
    entry.updatedAt = Date.now();
    return true;
  }
}
