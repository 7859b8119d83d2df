/**
 * Scoring jobs (table `scoring_jobs`): one row per job with its progress. A batch of tiles and the job's
 * progress are written in one transaction (`storeBatch`), so a killed process loses at most the batch in
 * flight and the job row never claims tiles that are not there.
 */
import { and, desc, eq, inArray } from 'drizzle-orm';
import { NotFoundError } from '../errors.ts';
import { inTransaction, type DatabaseHandle } from './client.ts';
import type { NewTileScore, ScoringJob, scoringJobs } from './schema.ts';
import { countTileStatuses, insertTileScores, replaceFailedTileScores } from './tile-scores-repo.ts';

export type JobStatus = ScoringJob['status'];
export type JobUpdate = Partial<Omit<typeof scoringJobs.$inferInsert, 'id' | 'projectId' | 'createdAt'>>;

/** Statuses of a job some process still means to run. */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['queued', 'running'];

export async function getJob(handle: DatabaseHandle, jobId: number): Promise<ScoringJob | undefined> {
  const { scoringJobs } = handle.t;
  const [row] = await handle.db.select().from(scoringJobs).where(eq(scoringJobs.id, jobId));
  return row;
}

export async function latestJobOf(
  handle: DatabaseHandle,
  projectId: number,
): Promise<ScoringJob | undefined> {
  const { scoringJobs } = handle.t;
  const [row] = await handle.db
    .select()
    .from(scoringJobs)
    .where(eq(scoringJobs.projectId, projectId))
    .orderBy(desc(scoringJobs.id))
    .limit(1);
  return row;
}

export async function activeJobsOf(handle: DatabaseHandle, projectId: number): Promise<ScoringJob[]> {
  const { scoringJobs } = handle.t;
  const rows = await handle.db
    .select()
    .from(scoringJobs)
    .where(eq(scoringJobs.projectId, projectId))
    .orderBy(scoringJobs.id);
  return rows.filter((j) => ACTIVE_JOB_STATUSES.includes(j.status));
}

/** Every job left queued or running, newest first. */
export async function activeJobs(handle: DatabaseHandle): Promise<ScoringJob[]> {
  const { scoringJobs } = handle.t;
  return handle.db
    .select()
    .from(scoringJobs)
    .where(inArray(scoringJobs.status, [...ACTIVE_JOB_STATUSES]))
    .orderBy(desc(scoringJobs.id));
}

/** A job row as given, for callers that write a job's history themselves (imports, fixtures). */
export async function insertJob(
  handle: DatabaseHandle,
  job: typeof scoringJobs.$inferInsert,
): Promise<ScoringJob> {
  const [row] = await handle.db.insert(handle.t.scoringJobs).values(job).returning();
  return row;
}

export async function updateJob(handle: DatabaseHandle, jobId: number, values: JobUpdate): Promise<void> {
  const { scoringJobs } = handle.t;
  await handle.db
    .update(scoringJobs)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(scoringJobs.id, jobId));
}

/** Updates the job only while its status is one of `from` (a cancel is never undone by a late writer); true when it did. */
export async function updateJobIf(
  handle: DatabaseHandle,
  jobId: number,
  from: readonly JobStatus[],
  values: JobUpdate,
): Promise<boolean> {
  const { scoringJobs } = handle.t;
  const rows = await handle.db
    .update(scoringJobs)
    .set({ ...values, updatedAt: new Date() })
    .where(and(eq(scoringJobs.id, jobId), inArray(scoringJobs.status, [...from])))
    .returning({ id: scoringJobs.id });
  return rows.length === 1;
}

const SUPERSEDED: JobUpdate = { status: 'failed', error: 'interrupted; a newer job took over the project' };

/** Closes a job a newer one takes over (left by a process that died and was never resumed). */
export async function supersedeJob(handle: DatabaseHandle, jobId: number): Promise<void> {
  await updateJob(handle, jobId, { ...SUPERSEDED, finishedAt: new Date() });
}

/**
 * Queues a job for a project in one transaction with closing the project's `superseded` jobs. A scoring
 * job's progress starts at the tiles already stored, which it will skip; a retry's at none of the `total`
 * tiles it takes up again.
 */
export async function queueJob(
  handle: DatabaseHandle,
  job: { projectId: number; mode: ScoringJob['mode']; total: number; batchSize: number },
  superseded: readonly number[],
): Promise<ScoringJob> {
  return inTransaction(handle, async (tx) => {
    for (const id of superseded) await supersedeJob(tx, id);
    let progress = { done: 0, failed: 0 };
    if (job.mode === 'score') {
      const { total: stored, scored } = await storedCounts(tx, job.projectId);
      progress = { done: stored, failed: stored - scored };
    }
    const [row] = await tx.db
      .insert(tx.t.scoringJobs)
      .values({ ...job, status: 'queued', ...progress, updatedAt: new Date() })
      .returning();
    return row;
  });
}

async function storedCounts(
  handle: DatabaseHandle,
  projectId: number,
): Promise<{ total: number; scored: number }> {
  const byStatus = await countTileStatuses(handle, projectId);
  let total = 0;
  for (const n of byStatus.values()) total += n;
  return { total, scored: byStatus.get('scored') ?? 0 };
}

/**
 * Stores a batch's rows and the job's progress in one transaction. A scoring job's rows never replace one
 * already stored (first write wins; when some were, the progress is recounted from the table instead of
 * added up); a retry job's rows replace the tiles' failed rows.
 */
export async function storeBatch(
  handle: DatabaseHandle,
  jobId: number,
  rows: NewTileScore[],
): Promise<ScoringJob> {
  return inTransaction(handle, async (tx) => {
    const { scoringJobs } = tx.t;
    // Touching the job row first takes its lock (Postgres; SQLite's transaction holds the write lock
    // already), so two writers of the same job add their batches one after the other, never both to the
    // same count.
    const [current] = await tx.db
      .update(scoringJobs)
      .set({ updatedAt: new Date() })
      .where(eq(scoringJobs.id, jobId))
      .returning();
    if (!current) throw new NotFoundError(`scoring job ${jobId}`);
    const retry = current.mode === 'retry';
    // A retry counts every tile it took up, whether or not a row was left to replace.
    const whole = retry
      ? (await replaceFailedTileScores(tx, rows), true)
      : (await insertTileScores(tx, rows)) === rows.length;
    let { done, failed } = current;
    if (whole) {
      done += rows.length;
      failed += rows.filter((r) => r.status !== 'scored').length;
    } else {
      const counts = await storedCounts(tx, current.projectId);
      done = counts.total;
      failed = counts.total - counts.scored;
    }
    await updateJob(tx, jobId, { done, failed });
    return { ...current, done, failed };
  });
}
