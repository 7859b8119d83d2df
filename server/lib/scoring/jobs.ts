/**
 * The in-process job runner: one scoring job per project at a time, tiles streamed from the project's
 * grid in a fixed order (north to south, west to east), their imagery fetched a window ahead and scored
 * in batches as it arrives, so a stalled request holds up one tile and not the job. A retry job takes the
 * project's failed tiles instead and replaces their rows.
 *
 * Each batch is stored in one transaction with the job's progress, so a killed process loses at most
 * the batch in flight, and the job row never claims tiles that are not there. A job left 'running' by
 * a killed process is picked up by `resumeInterruptedJobs`, which walks the same grid and skips every
 * tile already stored (the table's primary key would refuse a second row anyway): no tile is scored
 * twice and none is lost. Every way out of the loop — done, cancelled, any error — ends in a final
 * status, so a job is never left 'running' by a live process.
 */
import { setMaxListeners } from 'node:events';
import * as jobsRepo from '../db/jobs-repo.ts';
import type { ScoringJob } from '../db/schema.ts';
import { isTileStored, retryableTiles } from '../db/tile-scores-repo.ts';
import { DEFAULT_HOST_CONCURRENCY } from '../imagery/source.ts';
import { tilesCoveringArea } from '../projects/tile-grid.ts';
import { logTo, perDatabase, type ScoringContext } from './context.ts';
import { JobCancelledError, ScoringError } from './errors.ts';
import { getImagerySource } from './imagery-registry.ts';
import type { ChunkQueue } from '../queue/chunk-queue.ts';
import { sendJobChunks, settleJob } from './queued-jobs.ts';
import { buildPipeline } from './pipeline.ts';
import { requireProject, setRegionLook } from './projects.ts';
import { fetchAhead } from './fetch-ahead.ts';
import { sampleRegionLook } from './region-look.ts';
import { fetchTile, scoreFetched, type FetchedTile } from './score-batch.ts';
import { countScoredTiles } from './tiles-repo.ts';

export type JobStatus = jobsRepo.JobStatus;
export { disposeScoringModels } from './pipeline.ts';

export interface JobRow {
  id: number;
  projectId: number;
  status: JobStatus;
  /** 'score': the project's grid (done / failed / total count it); 'retry': its failed tiles again. */
  mode: ScoringJob['mode'];
  done: number;
  failed: number;
  total: number;
  error?: string;
  batchSize: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
}

export interface StartScoringOptions {
  /** Tiles per model call and per transaction. */
  batchSize?: number;
  /** Score again the tiles whose imagery failed or did not decode, instead of the tiles without a row. */
  retryFailed?: boolean;
  /** Called after each batch is stored, with the job's progress; awaited, so it can also pace the job. */
  onBatch?: (job: JobRow) => void | Promise<void>;
}

export const DEFAULT_BATCH_SIZE = 16;
export const MAX_BATCH_SIZE = 256;

interface RunningJob {
  controller: AbortController;
  cancelled: boolean;
  promise: Promise<void>;
  /** When this process began scoring the job, and the tiles it had then: its rate is measured from there. */
  began?: { at: number; done: number };
}

/** A job's progress as a manager follows it, summed over every worker that scores it. */
export interface JobProgress {
  /** The job's chunks on the queue by state (null: it runs in one process, not in chunks). */
  chunks: {
    total: number;
    queued: number;
    running: number;
    done: number;
    dead: number;
    cancelled: number;
  } | null;
  tiles: { total: number; done: number; failed: number };
  /** Processes that scored a tile of it lately (the queue's rate window), or 1 while this process runs it. */
  workersActive: number;
  /** Tiles a second over the recent window, summed over workers; null until known. */
  ratePerSecond: number | null;
  /** Seconds until every tile is handled at that rate; null when unknown or ended. */
  etaSeconds: number | null;
}

const runningJobs = perDatabase(() => new Map<number, RunningJob>());
/** A queued job's `onBatch`: called by a wait for the job whenever its workers' progress moved. */
const queuedWatchers = perDatabase(() => new Map<number, NonNullable<StartScoringOptions['onBatch']>>());

function toJobRow(j: ScoringJob): JobRow {
  const row: JobRow = {
    id: j.id,
    projectId: j.projectId,
    status: j.status,
    mode: j.mode,
    done: j.done,
    failed: j.failed,
    total: j.total,
    batchSize: j.batchSize,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    updatedAt: j.updatedAt,
  };
  if (j.error) row.error = j.error;
  return row;
}

export async function getJob(ctx: ScoringContext, jobId: number): Promise<JobRow | undefined> {
  let j = await jobsRepo.getJob(ctx.db, jobId);
  // A queued job whose last chunk's worker died before it could end the job ends at this read.
  if (j && ctx.queue && j.status === 'running' && !runningJobs(ctx).has(jobId)) {
    await settleJob(ctx, ctx.queue, jobId);
    j = await jobsRepo.getJob(ctx.db, jobId);
  }
  return j ? toJobRow(j) : undefined;
}

async function requireJob(ctx: ScoringContext, jobId: number): Promise<JobRow> {
  const job = await getJob(ctx, jobId);
  if (!job) throw new ScoringError('job-not-found', `no scoring job with id ${jobId}`);
  return job;
}

export async function latestJob(ctx: ScoringContext, projectId: number): Promise<JobRow | undefined> {
  const j = await jobsRepo.latestJobOf(ctx.db, projectId);
  return j ? toJobRow(j) : undefined;
}

async function setJob(ctx: ScoringContext, jobId: number, values: jobsRepo.JobUpdate): Promise<void> {
  await jobsRepo.updateJob(ctx.db, jobId, values);
}

function checkBatchSize(batchSize: number | undefined): number {
  const b = batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(b) || b < 1 || b > MAX_BATCH_SIZE) {
    throw new ScoringError(
      'invalid-request',
      `batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${batchSize}`,
    );
  }
  return b;
}

/**
 * The job's progress: on the shared store the queue's chunks, workers, rate and ETA summed over every worker (for
 * the project's latest job; an older one has no chunks any more); in one process its own rate since it began here.
 */
export async function jobProgress(ctx: ScoringContext, job: JobRow): Promise<JobProgress> {
  const tiles = { total: job.total, done: job.done, failed: job.failed };
  const active = jobsRepo.ACTIVE_JOB_STATUSES.includes(job.status);
  if (ctx.queue) {
    const latest = await jobsRepo.latestJobOf(ctx.db, job.projectId);
    if (latest?.id !== job.id || job.status === 'queued') {
      return { chunks: null, tiles, workersActive: 0, ratePerSecond: null, etaSeconds: null };
    }
    const q = await ctx.queue.progress(job.projectId);
    const { total, queued, running, done, dead, cancelled } = q.chunks;
    return {
      chunks: { total, queued, running, done, dead, cancelled },
      tiles,
      workersActive: active ? q.workersActive : 0,
      ratePerSecond: active ? q.ratePerSecond : null,
      etaSeconds: active ? q.etaSeconds : null,
    };
  }
  const began = runningJobs(ctx).get(job.id)?.began;
  const seconds = began ? (performance.now() - began.at) / 1000 : 0;
  const rate = began && seconds > 0 && job.done > began.done ? (job.done - began.done) / seconds : null;
  const left = job.total - job.done;
  return {
    chunks: null,
    tiles,
    workersActive: began && active ? 1 : 0,
    ratePerSecond: active ? rate : null,
    etaSeconds: active && rate && left > 0 ? left / rate : null,
  };
}

/** Queues a job for the project and starts it on the next tick; returns the queued job. */
export async function startScoring(
  ctx: ScoringContext,
  projectId: number,
  options: StartScoringOptions = {},
): Promise<JobRow> {
  const project = await requireProject(ctx, projectId);
  const batchSize = checkBatchSize(options.batchSize);
  const running = runningJobs(ctx);
  // A queued job whose chunks all ended while no worker could end it ends now, rather than being superseded.
  if (ctx.queue) {
    for (const j of await jobsRepo.activeJobsOf(ctx.db, projectId))
      if (j.status === 'running' && !running.has(j.id)) await settleJob(ctx, ctx.queue, j.id);
  }
  const active = await jobsRepo.activeJobsOf(ctx.db, projectId);
  for (const j of active) {
    if (running.has(j.id) || (ctx.queue && (await isQueuedJobLive(ctx, ctx.queue, j)))) {
      throw new ScoringError(
        'job-active',
        `project ${projectId} is already being scored by job ${j.id} (${j.done}/${j.total} tiles); wait for it or cancel it first`,
      );
    }
  }
  const counts = await countScoredTiles(ctx, projectId);
  const retrying = counts.failed + counts.undecodable;
  if (options.retryFailed && retrying === 0) {
    throw new ScoringError(
      'nothing-to-retry',
      `project ${projectId} has no failed tiles to retry (${counts.scored} scored, ${counts.missing} without imagery, ${project.tileCount - counts.total} not yet scored)`,
    );
  }
  // Jobs left active by a process that died and was never resumed: the new job takes over their tiles.
  const job = await jobsRepo.queueJob(
    ctx.db,
    options.retryFailed
      ? { projectId, mode: 'retry', total: retrying, batchSize }
      : { projectId, mode: 'score', total: project.tileCount, batchSize },
    active.map((j) => j.id),
  );
  if (ctx.queue) {
    if (options.onBatch) queuedWatchers(ctx).set(job.id, options.onBatch);
    launchSend(ctx, ctx.queue, job);
  } else launch(ctx, job.id, options.onBatch);
  logTo(
    ctx,
    options.retryFailed
      ? `job ${job.id} queued for project ${projectId}: retrying ${retrying} failed tiles`
      : `job ${job.id} queued for project ${projectId} (${project.tileCount} tiles, ${job.done} already stored)`,
  );
  return toJobRow(job);
}

/** Runs `work` as the job's entry in this process: cancellable, awaited by `waitForJob`, gone when it ends. */
function track(ctx: ScoringContext, jobId: number, work: (entry: RunningJob) => Promise<void>): void {
  const entry: RunningJob = {
    controller: new AbortController(),
    cancelled: false,
    promise: Promise.resolve(),
  };
  // Every tile in flight (a window of them) listens for the job's cancel: many listeners, none leaked.
  setMaxListeners(0, entry.controller.signal);
  const running = runningJobs(ctx);
  running.set(jobId, entry);
  entry.promise = work(entry).finally(() => running.delete(jobId));
}

function launch(ctx: ScoringContext, jobId: number, onBatch?: StartScoringOptions['onBatch']): void {
  track(ctx, jobId, (entry) => runJob(ctx, jobId, entry, onBatch));
}

/**
 * Sends a queued job's chunks (deciding its look first) on the next tick; the job fails with the reason when
 * they cannot be sent. Cancel aborts the look's sample.
 */
function launchSend(ctx: ScoringContext, queue: ChunkQueue, job: ScoringJob): void {
  track(ctx, job.id, async (entry) => {
    await new Promise((resolve) => setImmediate(resolve));
    try {
      if (entry.cancelled) throw new JobCancelledError(job.id);
      await sendJobChunks(ctx, queue, job, ctx.queueOptions, entry.controller.signal);
    } catch (err) {
      const cancelled = entry.cancelled || err instanceof JobCancelledError;
      const message = err instanceof Error ? err.message : String(err);
      // Only a job still active: a cancel recorded meanwhile stays.
      await jobsRepo
        .updateJobIf(
          ctx.db,
          job.id,
          jobsRepo.ACTIVE_JOB_STATUSES,
          cancelled
            ? { status: 'cancelled', finishedAt: new Date() }
            : { status: 'failed', error: message, finishedAt: new Date() },
        )
        .catch((writeErr: Error) =>
          logTo(ctx, `job ${job.id}: could not record its end (${writeErr.message})`),
        );
      logTo(ctx, cancelled ? `job ${job.id} cancelled` : `job ${job.id} could not be queued: ${message}`);
    }
  });
}

/** Whether a job of the shared store is still being sent here or has chunks queued or running on the queue. */
async function isQueuedJobLive(ctx: ScoringContext, queue: ChunkQueue, job: ScoringJob): Promise<boolean> {
  if (runningJobs(ctx).has(job.id)) return true;
  if (job.status !== 'running') return false;
  return (await queue.progress(job.projectId)).state === 'active';
}

/** How often a wait for a job run by queue workers looks at it. */
const QUEUED_JOB_POLL_MS = 250;

/**
 * Resolves with the job once it has stopped (done, cancelled or failed); at once if it is not running here. A job
 * of the shared store runs on the queue's workers: the wait follows it until it ends.
 */
export async function waitForJob(ctx: ScoringContext, jobId: number): Promise<JobRow> {
  const entry = runningJobs(ctx).get(jobId);
  if (entry) await entry.promise;
  if (ctx.queue) {
    const watcher = queuedWatchers(ctx).get(jobId);
    let seen = -1;
    try {
      for (;;) {
        const job = await requireJob(ctx, jobId);
        if (watcher && job.done !== seen) await watcher(job);
        seen = job.done;
        if (!jobsRepo.ACTIVE_JOB_STATUSES.includes(job.status)) return job;
        await new Promise((resolve) => setTimeout(resolve, QUEUED_JOB_POLL_MS));
      }
    } finally {
      queuedWatchers(ctx).delete(jobId);
    }
  }
  return await requireJob(ctx, jobId);
}

/**
 * Asks a job to stop: it finishes the batch in flight (its fetches are aborted), stores nothing more
 * and ends 'cancelled'. A job no live process runs is marked at once; a finished job is left as it is.
 */
export async function cancelJob(ctx: ScoringContext, jobId: number): Promise<JobRow> {
  const job = await requireJob(ctx, jobId);
  const entry = runningJobs(ctx).get(jobId);
  if (ctx.queue && jobsRepo.ACTIVE_JOB_STATUSES.includes(job.status)) {
    // Every worker's share stops at its next batch; a send still deciding its look stops too.
    if (entry) {
      entry.cancelled = true;
      entry.controller.abort(new JobCancelledError(jobId));
    }
    const latest = await jobsRepo.latestJobOf(ctx.db, job.projectId);
    if (latest?.id === jobId) await ctx.queue.cancel(job.projectId);
    await setJob(ctx, jobId, { status: 'cancelled', finishedAt: new Date() });
  } else if (entry) {
    entry.cancelled = true;
    entry.controller.abort(new JobCancelledError(jobId));
  } else if (jobsRepo.ACTIVE_JOB_STATUSES.includes(job.status)) {
    await setJob(ctx, jobId, { status: 'cancelled', finishedAt: new Date() });
  }
  return await requireJob(ctx, jobId);
}

/**
 * At start-up: continues every job a previous process left queued or running (newest per project;
 * older ones are closed as superseded). Returns the jobs it restarted.
 */
export async function resumeInterruptedJobs(
  ctx: ScoringContext,
  options: Pick<StartScoringOptions, 'onBatch'> = {},
): Promise<JobRow[]> {
  const running = runningJobs(ctx);
  const stale = (await jobsRepo.activeJobs(ctx.db)).filter((j) => !running.has(j.id));
  const resumed: JobRow[] = [];
  const seen = new Set<number>();
  const runningProjects = new Set<number>();
  for (const id of running.keys()) {
    const job = await getJob(ctx, id);
    if (job) runningProjects.add(job.projectId);
  }
  for (const j of stale) {
    if (seen.has(j.projectId) || runningProjects.has(j.projectId)) {
      await jobsRepo.supersedeJob(ctx.db, j.id);
      continue;
    }
    seen.add(j.projectId);
    if (ctx.queue) {
      // The queue holds a sent job's chunks across restarts: only a job whose send did not finish is sent
      // again, and a running one is ended if its chunks all ended meanwhile.
      if (j.status === 'queued') launchSend(ctx, ctx.queue, j);
      else await settleJob(ctx, ctx.queue, j.id);
      resumed.push(toJobRow(j));
      continue;
    }
    logTo(ctx, `resuming job ${j.id} of project ${j.projectId} at ${j.done}/${j.total} tiles`);
    launch(ctx, j.id, options.onBatch);
    resumed.push(toJobRow(j));
  }
  return resumed;
}

async function runJob(
  ctx: ScoringContext,
  jobId: number,
  entry: RunningJob,
  onBatch?: StartScoringOptions['onBatch'],
): Promise<void> {
  // Lets the caller of startScoring see the job 'queued' before any work starts.
  await new Promise((resolve) => setImmediate(resolve));
  const started = performance.now();
  try {
    const job = await requireJob(ctx, jobId);
    if (entry.cancelled) throw new JobCancelledError(jobId);
    await setJob(ctx, jobId, { status: 'running', startedAt: job.startedAt ?? new Date(), error: null });
    entry.began = { at: performance.now(), done: job.done };
    const project = await requireProject(ctx, job.projectId);
    const pipeline = await buildPipeline(ctx, project);
    const source = await getImagerySource(ctx, project.imageryId);
    const area = { polygons: project.area.features.map((f) => f.geometry), bbox: project.bbox };
    const retrying = job.mode === 'retry';
    // Hazy or coarse imagery is read through a restored look, decided once for the whole project.
    const decided = await sampleRegionLook(
      source,
      tilesCoveringArea(area, project.zoom),
      pipeline.tileModel,
      entry.controller.signal,
    );
    const scoring = { ...pipeline, look: decided.look };
    await setRegionLook(ctx, project.id, {
      look: decided.look,
      medians: decided.medians,
      sampled: decided.sampled,
      jobId,
    });
    if (decided.look !== 'original')
      logTo(
        ctx,
        `job ${jobId}: the imagery reads as ${decided.look === 'dehazed' ? 'hazy' : 'coarse'}; the tile model reads it ${decided.look} (median image novelty ${decided.medians.original.toFixed(2)} as served, ${decided.medians[decided.look].toFixed(2)} ${decided.look}, ${decided.sampled} tiles sampled)`,
      );

    const store = async (fetched: FetchedTile[]) => {
      if (entry.cancelled) throw new JobCancelledError(jobId);
      const rows = await scoreFetched(fetched, scoring);
      const scoredAt = new Date();
      const after = await jobsRepo.storeBatch(
        ctx.db,
        jobId,
        rows.map((r) => ({ ...r, projectId: project.id, jobId, scoredAt })),
      );
      await onBatch?.(toJobRow(after));
    };

    // Tiles come in as their imagery arrives, not in grid order: a stalled fetch holds up its own tile only.
    const todo = retrying
      ? retryableTiles(ctx.db, project.id, jobId)
      : (async function* () {
          for (const tile of tilesCoveringArea(area, project.zoom))
            if (!(await isTileStored(ctx.db, project.id, tile.z, tile.x, tile.y))) yield tile;
        })();
    const ahead = Math.max(2 * job.batchSize, 2 * (ctx.imageryConcurrency ?? DEFAULT_HOST_CONCURRENCY));
    let batch: FetchedTile[] = [];
    for await (const fetched of fetchAhead(
      todo,
      (tile) => Promise.resolve(decided.take(tile) ?? fetchTile(source, tile, entry.controller.signal)),
      ahead,
    )) {
      batch.push(fetched);
      if (batch.length === job.batchSize) {
        await store(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await store(batch);
    if (entry.cancelled) throw new JobCancelledError(jobId);
    const counts = await countScoredTiles(ctx, project.id);
    const final = await requireJob(ctx, jobId);
    await setJob(ctx, jobId, {
      status: 'done',
      ...(retrying ? {} : { done: counts.total, failed: counts.total - counts.scored }),
      finishedAt: new Date(),
    });
    logTo(
      ctx,
      retrying
        ? `job ${jobId} done: retried ${final.done} tiles, ${final.done - final.failed} healed, ${final.failed} still failing, in ${((performance.now() - started) / 1000).toFixed(1)} s`
        : `job ${jobId} done: ${counts.total} tiles (${counts.scored} scored) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } catch (err) {
    const cancelled = entry.cancelled || err instanceof JobCancelledError;
    const message = err instanceof Error ? err.message : String(err);
    try {
      if (cancelled) await setJob(ctx, jobId, { status: 'cancelled', finishedAt: new Date() });
      else await setJob(ctx, jobId, { status: 'failed', error: message, finishedAt: new Date() });
    } catch (writeErr) {
      // The database itself is gone (closed or broken): the next start's resumeInterruptedJobs takes the job up.
      logTo(ctx, `job ${jobId}: could not record its end (${(writeErr as Error).message})`);
    }
    logTo(ctx, cancelled ? `job ${jobId} cancelled` : `job ${jobId} failed: ${message}`);
  }
}
