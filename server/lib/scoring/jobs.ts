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
import { existsSync } from 'node:fs';
import { getModel, getRun } from '../db/analysis-repo.ts';
import * as jobsRepo from '../db/jobs-repo.ts';
import type { AnalysisRun, Model, ScoringJob } from '../db/schema.ts';
import { isTileStored, retryableTiles } from '../db/tile-scores-repo.ts';
import { loadIntervalModel } from '../analysis/conformal.ts';
import { pooledDims } from '../analysis/pooling.ts';
import { defaultReferenceOptions } from '../analysis/reference.ts';
import { DEFAULT_HOST_CONCURRENCY } from '../imagery/source.ts';
import { loadModel, type SegmentationModel } from '../model/runtime.ts';
import { tilesCoveringArea } from '../projects/tile-grid.ts';
import { TileModel, type TileModelState } from '../analysis/tile-model.ts';
import { logTo, perDatabase, type ScoringContext } from './context.ts';
import { JobCancelledError, ScoringError } from './errors.ts';
import { getImagerySource } from './imagery-registry.ts';
import { loadLatentProjector, type LatentProjector } from './latent-projection.ts';
import { requireProject, setRegionLook, type ProjectRow } from './projects.ts';
import { fetchAhead } from './fetch-ahead.ts';
import { sampleRegionLook } from './region-look.ts';
import { fetchTile, scoreFetched, type FetchedTile, type ScoringPipeline } from './score-batch.ts';
import { countScoredTiles } from './tiles-repo.ts';

export type JobStatus = jobsRepo.JobStatus;

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
}

const runningJobs = perDatabase(() => new Map<number, RunningJob>());
const runPipelines = perDatabase(
  () => new Map<number, Promise<{ projector: LatentProjector; tileModel: TileModel }>>(),
);
/** Models are shared by every database and job in the process: one session per (file, layer). */
const modelCache = new Map<string, Promise<SegmentationModel>>();

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
  const j = await jobsRepo.getJob(ctx.db, jobId);
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

/** Queues a job for the project and starts it on the next tick; returns the queued job. */
export async function startScoring(
  ctx: ScoringContext,
  projectId: number,
  options: StartScoringOptions = {},
): Promise<JobRow> {
  const project = await requireProject(ctx, projectId);
  const batchSize = checkBatchSize(options.batchSize);
  const running = runningJobs(ctx);
  const active = await jobsRepo.activeJobsOf(ctx.db, projectId);
  for (const j of active) {
    if (running.has(j.id)) {
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
  launch(ctx, job.id, options.onBatch);
  logTo(
    ctx,
    options.retryFailed
      ? `job ${job.id} queued for project ${projectId}: retrying ${retrying} failed tiles`
      : `job ${job.id} queued for project ${projectId} (${project.tileCount} tiles, ${job.done} already stored)`,
  );
  return toJobRow(job);
}

function launch(ctx: ScoringContext, jobId: number, onBatch?: StartScoringOptions['onBatch']): void {
  const entry: RunningJob = {
    controller: new AbortController(),
    cancelled: false,
    promise: Promise.resolve(),
  };
  // Every tile in flight (a window of them) listens for the job's cancel: many listeners, none leaked.
  setMaxListeners(0, entry.controller.signal);
  const running = runningJobs(ctx);
  running.set(jobId, entry);
  entry.promise = runJob(ctx, jobId, entry, onBatch).finally(() => running.delete(jobId));
}

/** Resolves with the job once it has stopped (done, cancelled or failed); at once if it is not running here. */
export async function waitForJob(ctx: ScoringContext, jobId: number): Promise<JobRow> {
  const entry = runningJobs(ctx).get(jobId);
  if (entry) await entry.promise;
  return await requireJob(ctx, jobId);
}

/**
 * Asks a job to stop: it finishes the batch in flight (its fetches are aborted), stores nothing more
 * and ends 'cancelled'. A job no live process runs is marked at once; a finished job is left as it is.
 */
export async function cancelJob(ctx: ScoringContext, jobId: number): Promise<JobRow> {
  const job = await requireJob(ctx, jobId);
  const entry = runningJobs(ctx).get(jobId);
  if (entry) {
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
    logTo(ctx, `resuming job ${j.id} of project ${j.projectId} at ${j.done}/${j.total} tiles`);
    launch(ctx, j.id, options.onBatch);
    resumed.push(toJobRow(j));
  }
  return resumed;
}

function cachedModel(ctx: ScoringContext, model: Model): Promise<SegmentationModel> {
  const key = `${model.path}\u0000${model.layer}`;
  let loaded = modelCache.get(key);
  if (!loaded) {
    loaded = loadModel(model.path, { layer: model.layer });
    loaded.catch(() => modelCache.delete(key));
    modelCache.set(key, loaded);
    logTo(ctx, `loading model ${model.id} "${model.name}" (layer ${model.layer})`);
  }
  return loaded;
}

/** Releases the models this process loaded for scoring; for shutdown and tests. */
export async function disposeScoringModels(): Promise<void> {
  const all = [...modelCache.values()];
  modelCache.clear();
  await Promise.all(all.map(async (m) => (await m.catch(() => null))?.dispose()));
}

function runLatent(ctx: ScoringContext, run: AnalysisRun) {
  const cache = runPipelines(ctx);
  let p = cache.get(run.id);
  if (!p) {
    p = (async () => ({
      projector: await loadLatentProjector(ctx.db, run),
      tileModel: loadTileModel(run),
    }))();
    p.catch(() => cache.delete(run.id));
    cache.set(run.id, p);
  }
  return p;
}

function loadTileModel(run: AnalysisRun): TileModel {
  if (!run.tileModel) {
    throw new ScoringError(
      'run-unusable',
      `reference run ${run.id} has no tile-level trust (it predates it); re-run the reference analysis with this tilelens version`,
    );
  }
  return TileModel.fromState(run.tileModel as unknown as TileModelState);
}

async function buildPipeline(ctx: ScoringContext, project: ProjectRow): Promise<ScoringPipeline> {
  const run = await getRun(ctx.db, project.runId);
  if (!run) {
    throw new ScoringError(
      'run-not-found',
      `the project's reference run ${project.runId} no longer exists; create the project again with an existing run`,
    );
  }
  const model = await getModel(ctx.db, run.modelId);
  if (!model)
    throw new ScoringError(
      'model-not-found',
      `run ${run.id}'s model ${run.modelId} is not registered any more`,
    );
  if (!existsSync(model.path)) {
    // The path stays in the server log: job errors are shown in the browser.
    logTo(ctx, `model ${model.id} "${model.name}": no file at ${model.path}`);
    throw new ScoringError(
      'model-file-missing',
      `the weights of model ${model.id} "${model.name}" are not where they were registered; restore the file or register the model again`,
    );
  }
  const [segmentation, latent] = await Promise.all([cachedModel(ctx, model), runLatent(ctx, run)]);
  const pooling = run.settings.pooling;
  const dims = pooledDims(segmentation.info.layerShape[0], pooling);
  if (dims !== latent.projector.dims) {
    throw new ScoringError(
      'run-unusable',
      `model ${model.id} gives ${dims} pooled values at layer ${model.layer} but run ${run.id}'s PCA expects ${latent.projector.dims}; the run was made with another model or layer`,
    );
  }
  return {
    runId: run.id,
    modelId: model.id,
    model: segmentation,
    projector: latent.projector,
    tileModel: latent.tileModel,
    pooling,
    threshold: run.settings.threshold ?? defaultReferenceOptions.threshold,
    intervals: await loadIntervalModel(ctx.db, run.id),
  };
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
