/**
 * Scoring jobs (table `scoring_jobs`): one row per job with its progress. A batch of tiles and the job's
 * progress are written in one transaction (`storeBatch`), so a killed process loses at most the batch in
 * flight and the job row never claims tiles that are not there.
 */
import { desc, eq, inArray } from 'drizzle-orm';
import { NotFoundError } from '../errors.ts';
import type { DatabaseHandle } from './client.ts';
import { scoringJobs, type NewTileScore, type ScoringJob } from './schema.ts';
import { insertTileScoreRows, replaceFailedTileScoreRows, tileStatusCounts } from './tile-scores-repo.ts';

export type JobStatus = ScoringJob['status'];
export type JobUpdate = Partial<Omit<typeof scoringJobs.$inferInsert, 'id' | 'projectId' | 'createdAt'>>;

/** Statuses of a job some process still means to run. */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['queued', 'running'];

export async function getJob(handle: DatabaseHandle, jobId: number): Promise<ScoringJob | undefined> {
  return jobRow(handle, jobId);
}

const jobRow = (handle: DatabaseHandle, jobId: number) =>
  handle.db.select().from(scoringJobs).where(eq(scoringJobs.id, jobId)).get();

export async function latestJobOf(
  handle: DatabaseHandle,
  projectId: number,
): Promise<ScoringJob | undefined> {
  return handle.db
    .select()
    .from(scoringJobs)
    .where(eq(scoringJobs.projectId, projectId))
    .orderBy(desc(scoringJobs.id))
    .limit(1)
    .get();
}

export async function activeJobsOf(handle: DatabaseHandle, projectId: number): Promise<ScoringJob[]> {
  return handle.db
    .select()
    .from(scoringJobs)
    .where(eq(scoringJobs.projectId, projectId))
    .all()
    .filter((j) => ACTIVE_JOB_STATUSES.includes(j.status));
}

/** Every job left queued or running, newest first. */
export async function activeJobs(handle: DatabaseHandle): Promise<ScoringJob[]> {
  return handle.db
    .select()
    .from(scoringJobs)
    .where(inArray(scoringJobs.status, [...ACTIVE_JOB_STATUSES]))
    .orderBy(desc(scoringJobs.id))
    .all();
}

/** A job row as given, for callers that write a job's history themselves (imports, fixtures). */
export async function insertJob(
  handle: DatabaseHandle,
  job: typeof scoringJobs.$inferInsert,
): Promise<ScoringJob> {
  return handle.db.insert(scoringJobs).values(job).returning().get();
}

export async function updateJob(handle: DatabaseHandle, jobId: number, values: JobUpdate): Promise<void> {
  setJob(handle, jobId, values);
}

function setJob(handle: DatabaseHandle, jobId: number, values: JobUpdate): void {
  handle.db
    .update(scoringJobs)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(scoringJobs.id, jobId))
    .run();
}

const SUPERSEDED: JobUpdate = { status: 'failed', error: 'interrupted; a newer job took over the project' };

/** Closes a job a newer one takes over (left by a process that died and was never resumed). */
export async function supersedeJob(handle: DatabaseHandle, jobId: number): Promise<void> {
  setJob(handle, jobId, { ...SUPERSEDED, finishedAt: new Date() });
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
  return handle.sqlite.transaction(() => {
    for (const id of superseded) setJob(handle, id, { ...SUPERSEDED, finishedAt: new Date() });
    let progress = { done: 0, failed: 0 };
    if (job.mode === 'score') {
      const { total: stored, scored } = storedCounts(handle, job.projectId);
      progress = { done: stored, failed: stored - scored };
    }
    return handle.db
      .insert(scoringJobs)
      .values({ ...job, status: 'queued', ...progress, updatedAt: new Date() })
      .returning()
      .get();
  })();
}

function storedCounts(handle: DatabaseHandle, projectId: number): { total: number; scored: number } {
  const byStatus = tileStatusCounts(handle, projectId);
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
  return handle.sqlite
    .transaction(() => {
      const current = jobRow(handle, jobId);
      if (!current) throw new NotFoundError(`scoring job ${jobId}`);
      const retry = current.mode === 'retry';
      // A retry counts every tile it took up, whether or not a row was left to replace.
      const whole = retry
        ? (replaceFailedTileScoreRows(handle, rows), true)
        : insertTileScoreRows(handle, rows) === rows.length;
      let { done, failed } = current;
      if (whole) {
        done += rows.length;
        failed += rows.filter((r) => r.status !== 'scored').length;
      } else {
        const counts = storedCounts(handle, current.projectId);
        done = counts.total;
        failed = counts.total - counts.scored;
      }
      setJob(handle, jobId, { done, failed });
      return { ...current, done, failed };
    })
    .immediate();
}
