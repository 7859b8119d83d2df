/**
 * The scoring queue's ledger in the shared Postgres: one row per chunk of a project's tiles, beside the queue
 * engine's own job rows (pg-boss, in its schema of the same database). The engine knows jobs by id only; the
 * ledger is what makes a project's chunks answerable as a whole — progress with tiles done and failed, the
 * recent rate summed over every worker (each worker writes its chunk's count at every batch), and cancellation
 * that reaches a chunk a worker is in the middle of.
 *
 * A chunk row carries the attempt that owns it: a worker's checkpoint and its finish only count while the row
 * names its attempt, so a worker that lost its lease (paused, cut off, killed and replaced) writes nothing
 * more. Every change that must agree with the engine (queueing, finishing, cancelling) runs in one
 * transaction with the engine's own statement, through the `QueueSqlExecutor` the engine is given.
 *
 * The tables live in a schema of their own (`tilelens_queue`), installed by the queue at start like the
 * engine installs its own: they exist only where the queue runs (the shared Postgres), never in the embedded
 * store, which keeps the same ledger in memory.
 */
import pg from 'pg';
import { TilelensError } from '../errors.ts';

export const QUEUE_SCHEMA = 'tilelens_queue';

/** A connection to the shared Postgres for the queue's own tables. */
export interface QueueStore {
  readonly url: string;
  close(): Promise<void>;
}

interface PoolStore extends QueueStore {
  pool: pg.Pool;
}

/** The shape a queue engine runs its own SQL through (pg-boss's `db` option): one connection, one transaction. */
export interface QueueSqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

/** Where a chunk stands: waiting (first try or a retry), with a worker, or ended one of three ways. */
export type ChunkState = 'queued' | 'running' | 'done' | 'dead' | 'cancelled';
export const ACTIVE_CHUNK_STATES: readonly ChunkState[] = ['queued', 'running'];

export interface LedgerChunk {
  seq: number;
  jobId: string;
  /** The chunk as the queue describes it (range or explicit tiles), kept as JSON. */
  spec: unknown;
  tiles: number;
}

/** A chunk as the queue reports it (the engine-independent record of `server/lib/queue/chunk-queue.ts`). */
export interface ChunkRecordRow {
  seq: number;
  state: ChunkState;
  tiles: number;
  /** The attempt that ran it last (0: never started). */
  attempt: number;
  done: number;
  failed: number;
  output: unknown;
  error: string | null;
}

/** One attempt of one chunk: the job it came as (a later send of the project has other jobs) and its try. */
export interface ChunkAttemptRef {
  projectId: number;
  seq: number;
  jobId: string;
  attempt: number;
}

export interface ChunkCountsRow {
  chunks: Record<ChunkState, number>;
  tiles: number;
  done: number;
  failed: number;
}

export interface ChunkActivityRow {
  done: number;
  startedAt: number;
  updatedAt: number;
  /** The worker of the attempt (its name: host and process). */
  worker: string | null;
}

export function openQueueStore(url: string, options: { max?: number } = {}): QueueStore {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 4 });
  // An idle connection dropped by a restarting server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const store: PoolStore = {
    url,
    pool,
    close: async () => {
      await pool.end();
    },
  };
  return store;
}

function poolOf(store: QueueStore): pg.Pool {
  return (store as PoolStore).pool;
}

/** Runs `body` in one transaction on one connection; the executor hands the same connection to the engine. */
async function inTransaction<T>(
  store: QueueStore,
  body: (client: pg.PoolClient, engine: QueueSqlExecutor) => Promise<T>,
): Promise<T> {
  const client = await poolOf(store).connect();
  // The pool listens for errors of idle connections only (see client.ts): a restart must not crash a worker.
  const lost = () => undefined;
  client.on('error', lost);
  const engine: QueueSqlExecutor = {
    executeSql: async (text, values) => ({ rows: (await client.query(text, values)).rows }),
  };
  let broken: unknown;
  try {
    await client.query('BEGIN');
    const result = await body(client, engine);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
    throw err;
  } finally {
    // A connection whose rollback failed (the server went away) is not handed to the next caller.
    client.off('error', lost);
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/** The imagery hosts' token buckets (`host-rate-repo.ts`), one row per host. */
export const HOST_RATE_TABLE = `
  CREATE TABLE IF NOT EXISTS ${QUEUE_SCHEMA}.host_rate (
    host text PRIMARY KEY,
    rate double precision NOT NULL CHECK (rate > 0),
    burst double precision NOT NULL CHECK (burst >= 1),
    tokens double precision NOT NULL,
    refilled_at timestamptz NOT NULL
  )`;

/**
 * The version of the queue's own tables this code reads and writes. 1: the chunk table as first installed (no
 * version row); 2: a version row, the worker that runs a chunk's attempt, the imagery hosts' buckets.
 */
export const QUEUE_SCHEMA_VERSION = 2;

/** The queue's tables cannot be used by this code: missing, older or newer; nothing was changed. */
export class QueueSchemaError extends TilelensError {
  override name = 'QueueSchemaError';
  constructor(
    readonly found: number | null,
    message: string,
  ) {
    super('queue-schema', message, { status: 503 });
  }
}

async function installedVersion(client: pg.PoolClient): Promise<number | null> {
  const { rows } = await client.query(
    `SELECT to_regclass('${QUEUE_SCHEMA}.chunk') IS NOT NULL AS chunk,
            to_regclass('${QUEUE_SCHEMA}.version') IS NOT NULL AS version`,
  );
  if (!rows[0].chunk) return null;
  if (!rows[0].version) return 1;
  const { rows: v } = await client.query(`SELECT version FROM ${QUEUE_SCHEMA}.version`);
  return v.length ? Number(v[0].version) : 1;
}

/**
 * Brings the queue's tables to this code's version: creates them where missing and upgrades an older version,
 * one step at a time, under an advisory lock (two processes starting at once do it once). With
 * `{ migrate: false }` (a worker) it only checks, and refuses tables that are missing or older; tables of a
 * newer tilelens are refused either way. A refusal changes nothing.
 */
export async function installChunkLedger(
  store: QueueStore,
  options: { migrate?: boolean } = {},
): Promise<void> {
  const migrate = options.migrate ?? true;
  await inTransaction(store, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('${QUEUE_SCHEMA}'))`);
    const found = await installedVersion(client);
    if (found !== null && found > QUEUE_SCHEMA_VERSION) {
      throw new QueueSchemaError(
        found,
        `the queue's tables (schema ${QUEUE_SCHEMA}) are at version ${found}, newer than this tilelens's ${QUEUE_SCHEMA_VERSION}: run the tilelens version that made them`,
      );
    }
    if (found === QUEUE_SCHEMA_VERSION) return;
    if (!migrate) {
      throw new QueueSchemaError(
        found,
        found === null
          ? `the queue's tables (schema ${QUEUE_SCHEMA}) are not installed: start the tilelens server on this database first, it installs them`
          : `the queue's tables (schema ${QUEUE_SCHEMA}) are at version ${found}, older than this tilelens's ${QUEUE_SCHEMA_VERSION}: start the tilelens server of this version on the database first, it upgrades them`,
      );
    }
    if (found === null) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${QUEUE_SCHEMA}`);
      await client.query(`
        CREATE TABLE ${QUEUE_SCHEMA}.chunk (
          project_id integer NOT NULL,
          seq integer NOT NULL,
          job_id uuid NOT NULL,
          spec jsonb NOT NULL,
          tiles integer NOT NULL CHECK (tiles > 0),
          state text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead', 'cancelled')),
          attempt integer NOT NULL DEFAULT 0,
          done integer NOT NULL DEFAULT 0,
          failed integer NOT NULL DEFAULT 0,
          output jsonb,
          error text,
          started_at timestamptz,
          updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
          PRIMARY KEY (project_id, seq)
        )`);
      await client.query(`CREATE INDEX chunk_recent ON ${QUEUE_SCHEMA}.chunk (project_id, updated_at)`);
    }
    // 1 → 2.
    await client.query(`ALTER TABLE ${QUEUE_SCHEMA}.chunk ADD COLUMN IF NOT EXISTS worker text`);
    await client.query(HOST_RATE_TABLE);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${QUEUE_SCHEMA}.version (
         one boolean PRIMARY KEY DEFAULT true CHECK (one),
         version integer NOT NULL
       )`,
    );
    await client.query(
      `INSERT INTO ${QUEUE_SCHEMA}.version (one, version) VALUES (true, $1)
       ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version`,
      [QUEUE_SCHEMA_VERSION],
    );
  });
}

/** The version of the queue's tables in the store (null: not installed); reads only. */
export async function queueSchemaVersion(store: QueueStore): Promise<number | null> {
  const client = await poolOf(store).connect();
  try {
    return await installedVersion(client);
  } finally {
    client.release();
  }
}

/** Sets the version row (for tests of a newer or older queue schema; nothing else writes it). */
export async function setQueueSchemaVersion(store: QueueStore, version: number): Promise<void> {
  await poolOf(store).query(`UPDATE ${QUEUE_SCHEMA}.version SET version = $1`, [version]);
}

/**
 * Replaces the project's chunks with `chunks` and lets the engine queue their jobs in the same transaction.
 * Returns false, changing nothing, when the project still has chunks queued or running.
 */
export async function queueChunks(
  store: QueueStore,
  projectId: number,
  chunks: LedgerChunk[],
  queueJobs: (engine: QueueSqlExecutor) => Promise<void>,
): Promise<boolean> {
  return await inTransaction(store, async (client, engine) => {
    // Two senders of one project queue one after the other: the second sees the first's chunks as active.
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [hashKey('project'), projectId]);
    const active = await client.query(
      `SELECT 1 FROM ${QUEUE_SCHEMA}.chunk WHERE project_id = $1 AND state = ANY($2) LIMIT 1`,
      [projectId, ACTIVE_CHUNK_STATES],
    );
    if (active.rowCount) return false;
    await client.query(`DELETE FROM ${QUEUE_SCHEMA}.chunk WHERE project_id = $1`, [projectId]);
    await client.query(
      `INSERT INTO ${QUEUE_SCHEMA}.chunk (project_id, seq, job_id, spec, tiles, state)
       SELECT $1, s, j, p, t, 'queued'
       FROM unnest($2::int[], $3::uuid[], $4::jsonb[], $5::int[]) AS c(s, j, p, t)`,
      [
        projectId,
        chunks.map((c) => c.seq),
        chunks.map((c) => c.jobId),
        chunks.map((c) => JSON.stringify(c.spec)),
        chunks.map((c) => c.tiles),
      ],
    );
    await queueJobs(engine);
    return true;
  });
}

/** A fixed key space for the advisory locks this module takes, apart from any other user's. */
function hashKey(name: string): number {
  let h = 0x7411e5;
  for (const ch of `${QUEUE_SCHEMA}.${name}`) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
  return h;
}

/** The row an attempt owns: its job's chunk, running, claimed by this try ($1–$4 of every statement using it). */
const OWNED = `project_id = $1 AND seq = $2 AND job_id = $3 AND attempt = $4 AND state = 'running'`;

/**
 * Claims the chunk for `attempt`: its counts start again (the attempt handles every tile of the chunk; writes
 * are idempotent). Returns the chunk's spec, or null when the chunk is not to run (cancelled, dead or done).
 */
export async function startChunk(
  store: QueueStore,
  ref: ChunkAttemptRef,
  worker: string,
): Promise<unknown | null> {
  const { rows } = await poolOf(store).query(
    `UPDATE ${QUEUE_SCHEMA}.chunk
     SET state = 'running', attempt = $4, done = 0, failed = 0, error = NULL, worker = $6,
         started_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE project_id = $1 AND seq = $2 AND job_id = $3 AND state = ANY($5)
     RETURNING spec`,
    [ref.projectId, ref.seq, ref.jobId, ref.attempt, ACTIVE_CHUNK_STATES, worker],
  );
  return rows.length ? rows[0].spec : null;
}

/** The engine's job no longer holds the attempt's lease: what was written with it is rolled back. */
class LeaseGone extends Error {}

/**
 * Records the attempt's counts so far; false when the attempt no longer owns a running chunk (stop). With
 * `renewLease`, the engine renews the job's lease in the same transaction; when it cannot (the job is no longer
 * the attempt's), nothing is written and the answer is false as well.
 */
export async function checkpointChunk(
  store: QueueStore,
  ref: ChunkAttemptRef,
  counts: { done: number; failed: number },
  renewLease?: (engine: QueueSqlExecutor) => Promise<boolean>,
): Promise<boolean> {
  const text = `UPDATE ${QUEUE_SCHEMA}.chunk SET done = $5, failed = $6, updated_at = clock_timestamp()
     WHERE ${OWNED}`;
  const values = [ref.projectId, ref.seq, ref.jobId, ref.attempt, counts.done, counts.failed];
  if (!renewLease) return (await poolOf(store).query(text, values)).rowCount === 1;
  return await updateOwnedWithEngine(store, text, values, renewLease);
}

/**
 * Runs the update of an attempt's own chunk row and then the engine's step on its job in one transaction; false,
 * with nothing written, when the attempt no longer owns the row or the engine's job is no longer the attempt's.
 */
async function updateOwnedWithEngine(
  store: QueueStore,
  text: string,
  values: unknown[],
  engineStep: (engine: QueueSqlExecutor) => Promise<boolean>,
): Promise<boolean> {
  try {
    return await inTransaction(store, async (client, engine) => {
      if ((await client.query(text, values)).rowCount !== 1) return false;
      if (!(await engineStep(engine))) throw new LeaseGone();
      return true;
    });
  } catch (err) {
    if (err instanceof LeaseGone) return false;
    throw err;
  }
}

/**
 * A stopping worker hands the attempt's chunk back: it waits for its next try with its counts cleared, and the
 * engine puts its job back in the same transaction. False, changing nothing, when the attempt no longer owns a
 * running chunk (cancelled, or its lease lost meanwhile).
 */
export async function handBackChunk(
  store: QueueStore,
  ref: ChunkAttemptRef,
  handBackJob: (engine: QueueSqlExecutor) => Promise<boolean>,
): Promise<boolean> {
  return await updateOwnedWithEngine(
    store,
    `UPDATE ${QUEUE_SCHEMA}.chunk SET state = 'queued', done = 0, failed = 0, updated_at = clock_timestamp()
     WHERE ${OWNED}`,
    [ref.projectId, ref.seq, ref.jobId, ref.attempt],
    handBackJob,
  );
}

/** Marks the attempt's chunk done with its output and completes the engine's job in the same transaction. */
export async function finishChunk(
  store: QueueStore,
  ref: ChunkAttemptRef,
  result: { done: number; failed: number; output: unknown },
  completeJob: (engine: QueueSqlExecutor) => Promise<void>,
): Promise<boolean> {
  return await inTransaction(store, async (client, engine) => {
    const { rowCount } = await client.query(
      `UPDATE ${QUEUE_SCHEMA}.chunk
       SET state = 'done', done = $5, failed = $6, output = $7, error = NULL, updated_at = clock_timestamp()
       WHERE ${OWNED}`,
      [
        ref.projectId,
        ref.seq,
        ref.jobId,
        ref.attempt,
        result.done,
        result.failed,
        JSON.stringify(result.output ?? null),
      ],
    );
    if (rowCount !== 1) return false;
    await completeJob(engine);
    return true;
  });
}

/**
 * The attempt failed: the chunk waits for its next try (or its dead letter) with the error kept, and the
 * engine's job is failed in the same transaction (the engine decides between retry and dead letter).
 */
export async function failChunkAttempt(
  store: QueueStore,
  ref: ChunkAttemptRef,
  error: string,
  failJob: (engine: QueueSqlExecutor) => Promise<void>,
): Promise<void> {
  await inTransaction(store, async (client, engine) => {
    const { rowCount } = await client.query(
      `UPDATE ${QUEUE_SCHEMA}.chunk SET state = 'queued', done = 0, failed = 0, error = $5, updated_at = clock_timestamp()
       WHERE ${OWNED}`,
      [ref.projectId, ref.seq, ref.jobId, ref.attempt, error],
    );
    if (rowCount === 1) await failJob(engine);
  });
}

/**
 * The chunk exhausted its tries: every tile counts as failed, the last error is kept, and the engine's
 * dead-letter job is completed in the same transaction. False (and the job completed all the same) when the
 * chunk had ended otherwise meanwhile (cancelled).
 */
export async function buryChunk(
  store: QueueStore,
  ref: Omit<ChunkAttemptRef, 'attempt'>,
  error: string,
  completeJob: (engine: QueueSqlExecutor) => Promise<void>,
): Promise<boolean> {
  return await inTransaction(store, async (client, engine) => {
    const { rowCount } = await client.query(
      `UPDATE ${QUEUE_SCHEMA}.chunk
       SET state = 'dead', done = tiles, failed = tiles, error = $4, updated_at = clock_timestamp()
       WHERE project_id = $1 AND seq = $2 AND job_id = $3 AND state = ANY($5)`,
      [ref.projectId, ref.seq, ref.jobId, error, ACTIVE_CHUNK_STATES],
    );
    await completeJob(engine);
    return rowCount === 1;
  });
}

/** Whether the job's chunk is still to be handled (queued or running): a dead letter of a cancelled chunk is not. */
export async function isChunkActive(
  store: QueueStore,
  ref: Omit<ChunkAttemptRef, 'attempt'>,
): Promise<boolean> {
  const { rowCount } = await poolOf(store).query(
    `SELECT 1 FROM ${QUEUE_SCHEMA}.chunk WHERE project_id = $1 AND seq = $2 AND job_id = $3 AND state = ANY($4)`,
    [ref.projectId, ref.seq, ref.jobId, ACTIVE_CHUNK_STATES],
  );
  return rowCount === 1;
}

/** Cancels the project's queued and running chunks and lets the engine cancel their jobs, in one transaction. */
export async function cancelChunks(
  store: QueueStore,
  projectId: number,
  cancelJobs: (engine: QueueSqlExecutor, jobIds: string[]) => Promise<void>,
): Promise<number> {
  return await inTransaction(store, async (client, engine) => {
    const { rows } = await client.query(
      `UPDATE ${QUEUE_SCHEMA}.chunk SET state = 'cancelled', updated_at = clock_timestamp()
       WHERE project_id = $1 AND state = ANY($2) RETURNING job_id`,
      [projectId, ACTIVE_CHUNK_STATES],
    );
    if (rows.length)
      await cancelJobs(
        engine,
        rows.map((r) => r.job_id as string),
      );
    return rows.length;
  });
}

/** The project's chunk counts by state and tile sums, and the database's clock for the rate beside it. */
export async function chunkCounts(
  store: QueueStore,
  projectId: number,
): Promise<ChunkCountsRow & { now: number }> {
  const { rows } = await poolOf(store).query(
    `SELECT state, count(*)::int AS chunks, sum(tiles)::int AS tiles, sum(done)::int AS done,
            sum(failed)::int AS failed, (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now
     FROM ${QUEUE_SCHEMA}.chunk WHERE project_id = $1 GROUP BY state`,
    [projectId],
  );
  const out: ChunkCountsRow & { now: number } = {
    chunks: { queued: 0, running: 0, done: 0, dead: 0, cancelled: 0 },
    tiles: 0,
    done: 0,
    failed: 0,
    now: Date.now(),
  };
  for (const r of rows) {
    out.chunks[r.state as ChunkState] = r.chunks;
    out.tiles += r.tiles;
    out.done += r.done;
    out.failed += r.failed;
    out.now = r.now;
  }
  if (!rows.length) {
    const { rows: clock } = await poolOf(store).query(
      `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now`,
    );
    out.now = clock[0].now;
  }
  return out;
}

/** The chunks worked on since `sinceMs` (database clock): what the recent rate is read from. */
export async function recentChunkActivity(
  store: QueueStore,
  projectId: number,
  sinceMs: number,
): Promise<ChunkActivityRow[]> {
  const { rows } = await poolOf(store).query(
    `SELECT done, worker, (extract(epoch FROM started_at) * 1000)::float8 AS started,
            (extract(epoch FROM updated_at) * 1000)::float8 AS updated
     FROM ${QUEUE_SCHEMA}.chunk
     WHERE project_id = $1 AND updated_at > to_timestamp($2 / 1000.0) AND started_at IS NOT NULL
       AND state IN ('running', 'done')`,
    [projectId, sinceMs],
  );
  return rows.map((r) => ({ done: r.done, startedAt: r.started, updatedAt: r.updated, worker: r.worker }));
}

/** The project's chunk records in chunk order, a page at a time. */
export async function* chunkRecords(
  store: QueueStore,
  projectId: number,
  pageSize = 500,
): AsyncGenerator<ChunkRecordRow> {
  let after = -1;
  for (;;) {
    const { rows } = await poolOf(store).query(
      `SELECT seq, state, tiles, attempt, done, failed, output, error FROM ${QUEUE_SCHEMA}.chunk
       WHERE project_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [projectId, after, pageSize],
    );
    for (const r of rows) yield r as ChunkRecordRow;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1].seq;
  }
}
