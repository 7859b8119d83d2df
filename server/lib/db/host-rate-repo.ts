/**
 * One token bucket per imagery host in the shared Postgres, taken by every worker on every host: tile servers
 * ban clients that flood them, and the limit is theirs per client, not per worker. A row holds the bucket's
 * tokens and when they were last refilled; a take is one statement that locks the row, refills it for the time
 * passed, and takes the tokens when there are enough — so two workers taking at once are serialised by the
 * row lock and the sum of their grants keeps to the rate. A worker asks once for all its requests waiting at
 * that moment, so the row's lock is taken once per round of a worker's requests, not once per tile. The database's clock is the only clock.
 */
import { HOST_RATE_TABLE, openQueueStore, QUEUE_SCHEMA, type QueueStore } from './chunk-ledger-repo.ts';

export type QueueStoreHandle = QueueStore;

/** A connection for the buckets (the queue's own, when the caller has one, serves as well). */
export function openHostRateStore(url: string): QueueStore {
  return openQueueStore(url, { max: 2 });
}

export interface HostTake {
  /** Tokens granted: one of the totals asked for, or 0. */
  granted: number;
  /** When granted: 0. Otherwise how long until the first request's tokens will be there, at the bucket's rate. */
  waitMs: number;
  /** The database clock at the take, in ms since the epoch. */
  at: number;
}

type Queryable = { query(text: string, values?: unknown[]): Promise<{ rows: any[] }> };

function poolOf(store: QueueStore): Queryable {
  return (store as unknown as { pool: Queryable }).pool;
}

export async function installHostRates(store: QueueStore): Promise<void> {
  // One string, one implicit transaction: the advisory lock keeps two workers starting at once from racing.
  await poolOf(store).query(`
    SELECT pg_advisory_xact_lock(hashtext('${QUEUE_SCHEMA}'));
    CREATE SCHEMA IF NOT EXISTS ${QUEUE_SCHEMA};
    ${HOST_RATE_TABLE}`);
}

/** Sets the host's rate (tokens a second) and burst; a new bucket starts full, an existing one keeps its tokens. */
export async function configureHostRate(
  store: QueueStore,
  host: string,
  rate: number,
  burst: number,
): Promise<void> {
  await poolOf(store).query(
    `INSERT INTO ${QUEUE_SCHEMA}.host_rate (host, rate, burst, tokens, refilled_at)
     VALUES ($1, $2, $3, $3, clock_timestamp())
     ON CONFLICT (host) DO UPDATE SET rate = EXCLUDED.rate, burst = EXCLUDED.burst,
       tokens = LEAST(${QUEUE_SCHEMA}.host_rate.tokens, EXCLUDED.burst)`,
    [host, rate, burst],
  );
}

/**
 * Takes tokens from the host's bucket for requests waiting in turn: `wanted` holds the running totals of their
 * tokens (each request's tokens added to those before it), and the take grants the largest total the bucket
 * holds, or nothing. One statement serves as many waiting requests as the bucket allows; never waits inside the
 * database.
 */
export async function takeHostTokens(
  store: QueueStore,
  host: string,
  wanted: readonly number[],
): Promise<HostTake | null> {
  // The refill time never moves backwards: a clock read before the row lock was granted must not hand out
  // the same interval twice.
  const { rows } = await poolOf(store).query(
    `WITH cur AS (
       SELECT host, rate, t,
              LEAST(burst, tokens + extract(epoch FROM (t - refilled_at)) * rate) AS avail
       FROM (SELECT *, GREATEST(clock_timestamp(), refilled_at) AS t
             FROM ${QUEUE_SCHEMA}.host_rate WHERE host = $1 FOR UPDATE) locked
     ), take AS (
       SELECT cur.*, COALESCE((SELECT max(w) FROM unnest($2::float8[]) w WHERE w <= cur.avail), 0) AS k
       FROM cur
     )
     UPDATE ${QUEUE_SCHEMA}.host_rate h
     SET tokens = take.avail - take.k, refilled_at = take.t
     FROM take WHERE h.host = take.host
     RETURNING take.k AS granted, take.avail, take.rate, (extract(epoch FROM take.t) * 1000)::float8 AS at`,
    [host, wanted],
  );
  if (!rows.length) return null;
  const r = rows[0];
  const granted = Number(r.granted);
  return {
    granted,
    waitMs: granted > 0 ? 0 : Math.ceil(((wanted[0] - r.avail) / r.rate) * 1000),
    at: r.at,
  };
}
