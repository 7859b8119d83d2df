/**
 * Two changes to pg-boss's own job rows that pg-boss 10 has no call for: renewing an active job's lease (it has
 * no heartbeat) and handing an active job back to its queue without using up one of its tries (its `fail`
 * counts a try and waits the back-off). Each runs on the executor the ledger hands the engine, so it commits
 * with the ledger's statement for the same attempt, and each is fenced by the attempt: the job must be active
 * in that attempt's try (`retry_count` = attempt − 1), so an attempt whose job expired and went to another
 * worker changes nothing.
 *
 * pg-boss's maintenance expires an active job once `started_on + expire_in` has passed, and a retry copies the
 * job's `expire_in`. A renewal therefore moves `started_on` to now and leaves `expire_in` at the lease the job
 * was sent with: the maintenance sees the new deadline, and a later try of the chunk holds it for that lease,
 * not for one stretched by the renewals of the try before. `started_on` then reads as the start of the current
 * lease; the ledger keeps when the attempt started (`chunk.started_at`).
 */
import type { QueueSqlExecutor } from './chunk-ledger-repo.ts';

/** pg-boss's tables, in a schema of their own beside the store's. */
export const PGBOSS_SCHEMA = 'tilelens_pgboss';

/** One attempt's job: its id and queue, and the try it is in (1 for the first). */
export interface PgBossJobAttempt {
  queue: string;
  jobId: string;
  attempt: number;
}

const ACTIVE_IN_ATTEMPT = `id = $1 AND name = $2 AND state = 'active' AND retry_count = $3`;

function values(job: PgBossJobAttempt): unknown[] {
  return [job.jobId, job.queue, job.attempt - 1];
}

/** Starts the job's lease again from now (the database's clock); false when the attempt's job is no longer active. */
export async function renewJobLease(engine: QueueSqlExecutor, job: PgBossJobAttempt): Promise<boolean> {
  const { rows } = await engine.executeSql(
    `UPDATE ${PGBOSS_SCHEMA}.job SET started_on = now() WHERE ${ACTIVE_IN_ATTEMPT} RETURNING 1`,
    values(job),
  );
  return rows.length === 1;
}

/**
 * Puts the attempt's active job back in its queue, to be fetched again at once. The next fetch counts a try, as
 * every fetch of a job that ran does, so its retry limit is raised by one (as pg-boss's own `retry` of a failed
 * job does): the hand-back uses none of the chunk's tries. False when the attempt's job is no longer active.
 */
export async function handBackJob(
  engine: QueueSqlExecutor,
  job: PgBossJobAttempt,
  message: string,
): Promise<boolean> {
  const { rows } = await engine.executeSql(
    `UPDATE ${PGBOSS_SCHEMA}.job
     SET state = 'retry', start_after = now(), retry_limit = retry_limit + 1,
         output = jsonb_build_object('message', $4::text)
     WHERE ${ACTIVE_IN_ATTEMPT} RETURNING 1`,
    [...values(job), message],
  );
  return rows.length === 1;
}
