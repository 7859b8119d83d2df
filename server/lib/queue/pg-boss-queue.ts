/**
 * The chunk queue on the shared Postgres, with pg-boss as the engine (its tables in their own schema of the
 * same database; see docs/scale-out.md for why pg-boss). A chunk is a pg-boss job: taken with
 * `FOR UPDATE SKIP LOCKED`, retried with pg-boss's back-off, expired by its maintenance when it outlives its
 * lease (`expireInSeconds`: the chunk of a killed worker comes back), and copied to a dead-letter queue when
 * its tries are used up. Beside each job the chunk ledger (`server/lib/db/chunk-ledger-repo.ts`) keeps the
 * chunk's counts, output and owning attempt; every change that must agree with the job runs in one
 * transaction with pg-boss's own statement (pg-boss takes the connection through its `db` option).
 *
 * Workers do not use pg-boss's `work()`: its handler cannot be told to stop when the lease runs out (it is
 * failed but runs on). This loop fetches, checkpoints through the ledger after every batch and aborts the
 * attempt the moment its lease or its project is gone. pg-boss 10 has no heartbeat: a checkpoint renews the
 * lease in pg-boss's job row itself (`server/lib/db/pgboss-job-repo.ts`), in the ledger's transaction, and a
 * stopping worker hands its chunks back there too (pg-boss's `fail` would use up a try and wait a back-off).
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import PgBoss from 'pg-boss';
import * as ledger from '../db/chunk-ledger-repo.ts';
import { handBackJob, PGBOSS_SCHEMA, renewJobLease, type PgBossJobAttempt } from '../db/pgboss-job-repo.ts';
import {
  ChunkStoppedError,
  defaultWorkerName,
  errorText,
  leaseDueForRenewal,
  retryPolicy,
  type ChunkHandler,
  type ChunkQueue,
  type ChunkRecord,
  type ChunkWorker,
  type RetryPolicy,
  type StopMode,
  type WorkOptions,
} from './chunk-queue.ts';
import { checkChunks, chunkTileCount, QueueError, type Chunk, type ChunkSpec } from './chunks.ts';
import { RATE_WINDOW_MS, summariseProgress, type QueueProgress } from './progress.ts';

export { PGBOSS_SCHEMA };
export const CHUNK_QUEUE = 'tilelens-chunks';
export const DEAD_CHUNK_QUEUE = 'tilelens-chunks-dead';

export interface PgBossQueueOptions {
  /** `postgres://…` of the shared store. */
  url: string;
  /** How often pg-boss's maintenance expires lost leases, in seconds (one instance runs it per interval); 30 unless said. */
  maintenanceIntervalSeconds?: number;
  /**
   * Install or upgrade the queue's tables (pg-boss's and the ledger's) where they are missing or older: true
   * for the server; a worker passes false and refuses tables that are not at this code's version.
   */
  migrate?: boolean;
}

/** A worker's loops, as its attempts see it: its name, and whether it is stopping with its chunks handed back. */
interface WorkerState {
  name: string;
  releasing: boolean;
}

interface JobData {
  projectId: number;
  seq: number;
  spec: ChunkSpec;
  /** The chunk's own job: pg-boss gives its dead letter another id, and the ledger row names this one. */
  jobId: string;
  shared?: Record<string, unknown>;
}

/**
 * A job id that sorts by the chunk's place: pg-boss takes jobs by creation time, then id, and one send's
 * jobs share their creation time — random ids would hand out a project's chunks in random order.
 */
export function chunkJobId(seq: number): string {
  const head = seq.toString(16).padStart(8, '0');
  const tail = randomUUID().slice(8);
  return `${head}${tail}`;
}

function chunkOf(data: JobData): Chunk {
  const chunk: Chunk = { projectId: data.projectId, seq: data.seq, spec: data.spec };
  if (data.shared) chunk.shared = data.shared;
  return chunk;
}

/** Connects to the shared Postgres, installs pg-boss's schema and the ledger when missing, and opens the queues. */
export async function openPgBossQueue(options: PgBossQueueOptions): Promise<PgBossChunkQueue> {
  const migrate = options.migrate ?? true;
  const store = ledger.openQueueStore(options.url);
  const boss = new PgBoss({
    connectionString: options.url,
    schema: PGBOSS_SCHEMA,
    max: 4,
    schedule: false,
    supervise: true,
    migrate,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 30,
  });
  const errors: unknown[] = [];
  boss.on('error', (err) => errors.push(err));
  try {
    await ledger.installChunkLedger(store, { migrate });
    await boss.start();
    await boss.createQueue(DEAD_CHUNK_QUEUE, { name: DEAD_CHUNK_QUEUE });
    await boss.createQueue(CHUNK_QUEUE, { name: CHUNK_QUEUE, deadLetter: DEAD_CHUNK_QUEUE });
  } catch (err) {
    await boss.stop({ graceful: false }).catch(() => undefined);
    await store.close().catch(() => undefined);
    if (err instanceof ledger.QueueSchemaError) throw err;
    const message = errorText(err);
    if (/not installed|requires migrations/.test(message)) {
      throw new ledger.QueueSchemaError(
        null,
        `pg-boss's tables (schema ${PGBOSS_SCHEMA}) are not at this tilelens's version (${message}): start the tilelens server of this version on the database first`,
      );
    }
    throw new QueueError('queue-unreachable', `cannot open the chunk queue: ${message}`, {
      status: 503,
      cause: err,
    });
  }
  return new PgBossChunkQueue(store, boss, errors);
}

export class PgBossChunkQueue implements ChunkQueue {
  private readonly workers = new Set<ChunkWorker>();
  private closed = false;

  constructor(
    private readonly store: ledger.QueueStore,
    private readonly boss: PgBoss,
    /** pg-boss's own errors (maintenance that could not reach the database) until a worker takes them. */
    private readonly bossErrors: unknown[],
  ) {}

  async send(projectId: number, chunks: Chunk[], policy: Partial<RetryPolicy> = {}): Promise<void> {
    checkChunks(projectId, chunks);
    const p = retryPolicy(policy);
    const rows = chunks.map((c) => ({
      shared: c.shared,
      seq: c.seq,
      jobId: chunkJobId(c.seq),
      spec: c.spec,
      tiles: chunkTileCount(c.spec),
    }));
    const jobs: PgBoss.JobInsert<JobData>[] = rows.map((r) => ({
      id: r.jobId,
      name: CHUNK_QUEUE,
      data: {
        projectId,
        seq: r.seq,
        spec: r.spec,
        jobId: r.jobId,
        ...(r.shared ? { shared: r.shared } : {}),
      },
      retryLimit: p.retryLimit,
      retryDelay: p.retryDelaySeconds,
      retryBackoff: p.retryBackoff,
      expireInSeconds: p.leaseSeconds,
      deadLetter: DEAD_CHUNK_QUEUE,
    }));
    const queued = await ledger.queueChunks(this.store, projectId, rows, async (db) => {
      await this.boss.insert(jobs, { db });
    });
    if (!queued) {
      throw new QueueError(
        'project-queued',
        `project ${projectId} still has chunks queued or running; wait for them or cancel the project first`,
        { status: 409 },
      );
    }
  }

  async cancel(projectId: number): Promise<number> {
    return await ledger.cancelChunks(this.store, projectId, async (db, ids) => {
      await this.boss.cancel(CHUNK_QUEUE, ids, { db });
    });
  }

  async progress(projectId: number): Promise<QueueProgress> {
    const counts = await ledger.chunkCounts(this.store, projectId);
    const activity = await ledger.recentChunkActivity(this.store, projectId, counts.now - RATE_WINDOW_MS);
    return summariseProgress(projectId, counts, activity, counts.now);
  }

  async *records(projectId: number): AsyncGenerator<ChunkRecord> {
    yield* ledger.chunkRecords(this.store, projectId);
  }

  async work(handler: ChunkHandler, options: WorkOptions): Promise<ChunkWorker> {
    if (this.closed) throw new QueueError('queue-closed', 'the queue is closed', { status: 503 });
    const pollMs = options.pollMs ?? 1000;
    const onError = options.onError ?? ((err: unknown) => console.error(`chunk queue: ${errorText(err)}`));
    const state: WorkerState = { name: options.name ?? defaultWorkerName(), releasing: false };
    const settle = async (chunk: Chunk) => {
      try {
        await options.onSettled?.(chunk);
      } catch (err) {
        onError(err);
      }
    };
    let stopping = false;
    const wakers = new Set<() => void>();
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        wakers.add(wake);
      });
    const loop = async () => {
      while (!stopping) {
        try {
          for (const err of this.bossErrors.splice(0)) onError(err);
          // Taken before the fetch: the job's lease (started by the fetch) runs out no earlier than this clock's.
          const fetchedAt = Date.now();
          const [job] = await this.boss.fetch<JobData>(CHUNK_QUEUE, { batchSize: 1, includeMetadata: true });
          if (job) {
            if (await this.runAttempt(job, handler, state, fetchedAt)) await settle(chunkOf(job.data));
            continue;
          }
          const [dead] = await this.boss.fetch<JobData>(DEAD_CHUNK_QUEUE, {
            batchSize: 1,
            includeMetadata: true,
          });
          if (dead) {
            const buried = await this.deliverDead(dead, options).catch(async (err: unknown) => {
              // Buried without its failures recorded: still an end the sender must hear of.
              if (err instanceof QueueError && err.code === 'dead-letter-failed')
                await settle(chunkOf(dead.data));
              throw err;
            });
            if (buried) await settle(chunkOf(dead.data));
            continue;
          }
        } catch (err) {
          onError(err);
        }
        await sleep(pollMs);
      }
    };
    const loops = Array.from({ length: options.concurrency ?? 1 }, loop);
    const worker: ChunkWorker = {
      stop: async (mode: StopMode = 'finish') => {
        stopping = true;
        if (mode === 'release') state.releasing = true;
        for (const wake of [...wakers]) wake();
        await Promise.all(loops);
        this.workers.delete(worker);
      },
    };
    this.workers.add(worker);
    return worker;
  }

  /**
   * Runs one attempt of the job's chunk; true when it ended the chunk (done). `leaseFrom` is this process's
   * clock when the job's lease began, or before.
   */
  private async runAttempt(
    job: PgBoss.JobWithMetadata<JobData>,
    handler: ChunkHandler,
    worker: WorkerState,
    leaseFrom: number,
  ): Promise<boolean> {
    const { projectId, seq } = job.data;
    const chunk = chunkOf(job.data);
    const attempt = job.retryCount + 1;
    const ref: ledger.ChunkAttemptRef = { projectId, seq, jobId: job.id, attempt };
    const own: PgBossJobAttempt = { queue: CHUNK_QUEUE, jobId: job.id, attempt };
    if ((await ledger.startChunk(this.store, ref, worker.name)) === null) {
      // Cancelled, dead or done already (a job delivered again): nothing to do but end the job.
      await this.boss.complete(CHUNK_QUEUE, job.id);
      return false;
    }
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    let leaseLost = false;
    const stop = (reason: ChunkStoppedError['reason']) => {
      const err = new ChunkStoppedError(chunk, reason);
      controller.abort(err);
      return err;
    };
    // pg-boss's maintenance expires the job at its lease and retries it elsewhere; this attempt stops first. A
    // checkpoint a third of a lease after the last renewal renews it in the job's row, and the timer with it.
    const leaseSeconds = job.expireInSeconds;
    const expire = () => {
      leaseLost = true;
      stop('lease-lost');
    };
    const armLease = (from: number) =>
      setTimeout(expire, Math.max(0, from + leaseSeconds * 1000 - Date.now()));
    let renewedAt = leaseFrom;
    let lease = armLease(leaseFrom);
    let handingBack = false;
    const release = () => {
      handingBack = true;
      return stop('released');
    };
    try {
      if (worker.releasing) throw release();
      const result = await handler(chunk, {
        attempt,
        signal: controller.signal,
        checkpoint: async (counts) => {
          if (leaseLost) throw stop('lease-lost');
          if (worker.releasing) throw release();
          // This clock before the renewal: the database's deadline (its now() in the transaction) is no earlier.
          const now = Date.now();
          const renew = leaseDueForRenewal(now - renewedAt, leaseSeconds);
          const recorded = await ledger.checkpointChunk(
            this.store,
            ref,
            counts,
            renew ? (db) => renewJobLease(db, own) : undefined,
          );
          if (!recorded) {
            const active = await ledger.isChunkActive(this.store, ref);
            throw stop(active ? 'lease-lost' : 'cancelled');
          }
          if (renew && !leaseLost) {
            clearTimeout(lease);
            lease = armLease(now);
            renewedAt = now;
          }
        },
      });
      if (leaseLost) return false;
      return await ledger.finishChunk(
        this.store,
        ref,
        { done: result.done, failed: result.failed, output: result.output },
        async (db) => {
          await this.boss.complete(CHUNK_QUEUE, job.id, { done: result.done, failed: result.failed }, { db });
        },
      );
    } catch (err) {
      if (handingBack && !leaseLost) {
        // Back in the queue for any worker at once; a hand-back that finds the chunk gone (cancelled, or its
        // lease lost meanwhile) leaves it to that.
        await ledger.handBackChunk(this.store, ref, (db) =>
          handBackJob(db, own, `handed back by worker ${worker.name}, which is stopping`),
        );
        return false;
      }
      if (err instanceof ChunkStoppedError || leaseLost) return false;
      const message = errorText(err);
      await ledger.failChunkAttempt(this.store, ref, message, async (db) => {
        await this.boss.fail(CHUNK_QUEUE, job.id, { message }, { db });
      });
      return false;
    } finally {
      clearTimeout(lease);
    }
  }

  /** Records a dead chunk's failures and buries it; true when it ended the chunk (false: it had ended already). */
  private async deliverDead(dead: PgBoss.JobWithMetadata<JobData>, options: WorkOptions): Promise<boolean> {
    const { projectId, seq } = dead.data;
    const ref = { projectId, seq, jobId: dead.data.jobId };
    const complete = async (db: ledger.QueueSqlExecutor) => {
      await this.boss.complete(DEAD_CHUNK_QUEUE, dead.id, {}, { db });
    };
    if (!(await ledger.isChunkActive(this.store, ref))) {
      await this.boss.complete(DEAD_CHUNK_QUEUE, dead.id);
      return false;
    }
    const output = dead.output as { message?: string; value?: string } | null;
    const error = output?.message ?? output?.value ?? 'the chunk failed on every try';
    try {
      await options.onDead(chunkOf(dead.data), error);
    } catch (err) {
      if (dead.retryCount < dead.retryLimit) {
        await this.boss.fail(DEAD_CHUNK_QUEUE, dead.id, { message: errorText(err) });
        throw err;
      }
      // Its tries used up too: the chunk ends dead all the same (never an endless loop), and the error says
      // its failures are not recorded.
      await ledger.buryChunk(this.store, ref, error, complete);
      throw new QueueError(
        'dead-letter-failed',
        `chunk ${seq} of project ${projectId} is dead but its failures could not be recorded: ${errorText(err)}`,
        { cause: err },
      );
    }
    return await ledger.buryChunk(this.store, ref, error, complete);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workers].map((w) => w.stop()));
    await this.boss.stop({ graceful: false, wait: true });
    await this.store.close();
  }
}
