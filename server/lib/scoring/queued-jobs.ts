/**
 * Scoring jobs on the shared store, through the chunk queue: the job's tiles (the project's grid order) are cut
 * into contiguous ranges, sent as chunks, and scored by whichever workers take them, on any host. A chunk is
 * scored through the same path as an in-process job (`score-batch.ts`, a fetch window, one transaction per
 * batch with the job's progress); the look the tiles are read through is decided once by the sender, from
 * the project's seeded sample, and handed to every chunk, so all of a region is read alike.
 *
 * The job row keeps its meaning: `done` / `failed` grow with every batch any worker stores, a chunk run twice
 * (its worker killed, its lease lost) adds nothing (a stored tile keeps its row, and the count is taken from the
 * table then), cancel stops every worker's share at its next batch, and the job ends when its last chunk does —
 * noticed by the worker that ended it, or by the next read of the job when that worker died first.
 *
 * A batch whose every tile's imagery failed stores nothing and fails the chunk's attempt: the host is down or
 * refusing, and the chunk is tried again after its back-off; a chunk out of tries (a poison chunk) ends as
 * recorded failures of its tiles that were not stored, never as an endless loop.
 */
import { getRun } from '../db/analysis-repo.ts';
import * as jobsRepo from '../db/jobs-repo.ts';
import type { ScoringJob } from '../db/schema.ts';
import { RETRYABLE_STATUSES, storedTileStates } from '../db/tile-scores-repo.ts';
import type { Look } from '../analysis/restoration.ts';
import type { TileCoord } from '../geo/tiles.ts';
import { DEFAULT_HOST_CONCURRENCY } from '../imagery/source.ts';
import { tilesCoveringArea, tilesInRange } from '../projects/tile-grid.ts';
import type {
  ChunkHandler,
  ChunkQueue,
  ChunkWorker,
  DeadChunkHandler,
  RetryPolicy,
} from '../queue/chunk-queue.ts';
import { rangeChunks, type Chunk } from '../queue/chunks.ts';
import { logTo, type ScoringContext } from './context.ts';
import { ScoringError } from './errors.ts';
import { fetchAhead } from './fetch-ahead.ts';
import { getImagerySource } from './imagery-registry.ts';
import { buildPipeline, runLatent } from './pipeline.ts';
import { requireProject, setRegionLook, type ProjectRow } from './projects.ts';
import { sampleRegionLook } from './region-look.ts';
import {
  fetchTile,
  scoreFetched,
  unscoredRow,
  type FetchedTile,
  type TileScoreValues,
} from './score-batch.ts';
import { countScoredTiles } from './tiles-repo.ts';

/** What every chunk of one job carries: the job, how it takes its tiles, and the look decided for it. */
export interface ScoringChunkShared {
  scoringJob: number;
  mode: ScoringJob['mode'];
  batchSize: number;
  look: Look;
}

/** How a job is cut and retried on the queue; the queue's defaults unless said. */
export interface QueuedJobOptions {
  /** Tiles per chunk (256 unless said). */
  chunkTiles?: number;
  policy?: Partial<RetryPolicy>;
}

function sharedOf(chunk: Chunk): ScoringChunkShared {
  const s = chunk.shared as Partial<ScoringChunkShared> | undefined;
  if (!s || !Number.isInteger(s.scoringJob) || !Number.isInteger(s.batchSize) || !s.mode || !s.look) {
    throw new ScoringError(
      'invalid-chunk',
      `chunk ${chunk.seq} of project ${chunk.projectId} names no scoring job; it was not sent by a scoring job`,
    );
  }
  return s as ScoringChunkShared;
}

function gridArea(project: ProjectRow) {
  return { polygons: project.area.features.map((f) => f.geometry), bbox: project.bbox };
}

/**
 * Decides the job's look and sends its chunks; the job goes 'running' once they are queued. The look is the
 * in-process runner's decision (the same seeded sample of the project's tiles), made here once for all chunks.
 */
export async function sendJobChunks(
  ctx: ScoringContext,
  queue: ChunkQueue,
  job: ScoringJob,
  options: QueuedJobOptions = {},
  signal?: AbortSignal,
): Promise<void> {
  const project = await requireProject(ctx, job.projectId);
  const run = await getRun(ctx.db, project.runId);
  if (!run) {
    throw new ScoringError(
      'run-not-found',
      `the project's reference run ${project.runId} no longer exists; create the project again with an existing run`,
    );
  }
  const { tileModel } = await runLatent(ctx, run);
  const source = await getImagerySource(ctx, project.imageryId);
  const decided = await sampleRegionLook(
    source,
    tilesCoveringArea(gridArea(project), project.zoom),
    tileModel,
    signal,
  );
  await setRegionLook(ctx, project.id, {
    look: decided.look,
    medians: decided.medians,
    sampled: decided.sampled,
    jobId: job.id,
  });
  const shared: ScoringChunkShared = {
    scoringJob: job.id,
    mode: job.mode,
    batchSize: job.batchSize,
    look: decided.look,
  };
  const chunks = rangeChunks(project.id, project.tileCount, options.chunkTiles).map((c) => ({
    ...c,
    shared: { ...shared },
  }));
  // A send that went out before its process died (the job left 'queued') is not sent twice.
  signal?.throwIfAborted();
  const resent = (await queue.progress(project.id)).state === 'active';
  if (chunks.length > 0 && !resent) await queue.send(project.id, chunks, options.policy);
  const started = { status: 'running' as const, startedAt: new Date(), error: null };
  signal?.throwIfAborted();
  if (!(await jobsRepo.updateJobIf(ctx.db, job.id, ['queued'], started))) {
    // Cancelled while its chunks went out: they go too.
    await queue.cancel(project.id);
    return;
  }
  logTo(
    ctx,
    `job ${job.id}: ${chunks.length} chunks of project ${project.id} queued (${project.tileCount} tiles, read ${decided.look})`,
  );
  // Its workers may have ended every chunk before the job was marked running: it ends now, then.
  await settleJob(ctx, queue, job.id);
}

/** A chunk's tiles still to take: for a score, those without a row; for a retry, failed ones it did not write. */
async function tilesToTake(
  ctx: ScoringContext,
  project: ProjectRow,
  chunk: Chunk,
  shared: ScoringChunkShared,
): Promise<{ all: number; todo: TileCoord[] }> {
  if (chunk.spec.kind !== 'range') {
    throw new ScoringError('invalid-chunk', `a scoring chunk is a range of the grid, got ${chunk.spec.kind}`);
  }
  const tiles = [...tilesInRange(gridArea(project), project.zoom, chunk.spec.start, chunk.spec.end)];
  const stored = await storedTileStates(ctx.db, project.id, tiles);
  const retryable: readonly string[] = RETRYABLE_STATUSES;
  const todo = tiles.filter((t) => {
    const s = stored.get(`${t.z}/${t.x}/${t.y}`);
    if (shared.mode === 'score') return !s;
    return s !== undefined && retryable.includes(s.status) && s.jobId !== shared.scoringJob;
  });
  return { all: tiles.length, todo };
}

/** The handler a worker scores chunks with: the chunk's tiles fetched a window ahead, stored batch by batch. */
export function scoreChunkHandler(ctx: ScoringContext): ChunkHandler {
  return async (chunk, q) => {
    const shared = sharedOf(chunk);
    const project = await requireProject(ctx, chunk.projectId);
    const pipeline = { ...(await buildPipeline(ctx, project)), look: shared.look };
    const source = await getImagerySource(ctx, project.imageryId);
    const { all, todo } = await tilesToTake(ctx, project, chunk, shared);
    // Tiles already stored were handled by an earlier attempt or job: they count as done at once.
    let done = all - todo.length;
    let failed = 0;
    await q.checkpoint({ done, failed });
    const store = async (batch: FetchedTile[]) => {
      if (batch.every((f) => !f.ok && f.status === 'failed')) {
        const first = batch[0] as Extract<FetchedTile, { ok: false }>;
        throw new ScoringError(
          'imagery-failing',
          `every tile of a batch of chunk ${chunk.seq} failed to load (${first.error}); the chunk is tried again later`,
        );
      }
      const rows = await scoreFetched(batch, pipeline);
      await storeRows(ctx, shared.scoringJob, project.id, rows);
      done += rows.length;
      failed += rows.filter((r) => r.status !== 'scored').length;
      await q.checkpoint({ done, failed });
    };
    const ahead = Math.max(2 * shared.batchSize, 2 * (ctx.imageryConcurrency ?? DEFAULT_HOST_CONCURRENCY));
    let batch: FetchedTile[] = [];
    for await (const fetched of fetchAhead(todo, (tile) => fetchTile(source, tile, q.signal), ahead)) {
      batch.push(fetched);
      if (batch.length === shared.batchSize) {
        await store(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await store(batch);
    return { done, failed };
  };
}

async function storeRows(
  ctx: ScoringContext,
  jobId: number,
  projectId: number,
  rows: TileScoreValues[],
): Promise<void> {
  const scoredAt = new Date();
  await jobsRepo.storeBatch(
    ctx.db,
    jobId,
    rows.map((r) => ({ ...r, projectId, jobId, scoredAt })),
  );
}

const DEAD_BATCH = 256;

/** Records a dead chunk's tiles that were not stored as failures, with the error of its last try. */
export function deadChunkHandler(ctx: ScoringContext): DeadChunkHandler {
  return async (chunk, error) => {
    const shared = sharedOf(chunk);
    const project = await requireProject(ctx, chunk.projectId);
    const run = await getRun(ctx.db, project.runId);
    if (!run) throw new ScoringError('run-not-found', `the project's reference run ${project.runId} is gone`);
    const ids = { runId: run.id, modelId: run.modelId };
    const { todo } = await tilesToTake(ctx, project, chunk, shared);
    const why = `the tiles' chunk failed on every try: ${error}`;
    for (let i = 0; i < todo.length; i += DEAD_BATCH) {
      const rows = todo.slice(i, i + DEAD_BATCH).map((t) => unscoredRow(ids, t, 'failed', why));
      await storeRows(ctx, shared.scoringJob, project.id, rows);
    }
    logTo(ctx, `job ${shared.scoringJob}: chunk ${chunk.seq} dead after its tries (${error})`);
  };
}

/**
 * Ends the job when its chunks have all ended (done, dead or cancelled): a score's counts from the table, like
 * the in-process runner's. Safe to call by any number of workers at once, and more than once.
 */
export async function settleJob(ctx: ScoringContext, queue: ChunkQueue, jobId: number): Promise<void> {
  const job = await jobsRepo.getJob(ctx.db, jobId);
  // 'queued': its chunks are not sent yet (the look is being decided); a later job may have taken over.
  if (!job || job.status !== 'running') return;
  const latest = await jobsRepo.latestJobOf(ctx.db, job.projectId);
  if (latest?.id !== job.id) return;
  const progress = await queue.progress(job.projectId);
  if (progress.state === 'active') return;
  if (progress.state === 'cancelled') {
    await jobsRepo.updateJobIf(ctx.db, jobId, ['running'], { status: 'cancelled', finishedAt: new Date() });
    return;
  }
  const counts = await countScoredTiles(ctx, job.projectId);
  const ended = await jobsRepo.updateJobIf(ctx.db, jobId, ['running'], {
    status: 'done',
    ...(job.mode === 'retry' ? {} : { done: counts.total, failed: counts.total - counts.scored }),
    finishedAt: new Date(),
  });
  if (ended)
    logTo(
      ctx,
      `job ${jobId} done through the queue: ${counts.total} tiles stored (${counts.scored} scored, ${progress.chunks.dead} chunks dead)`,
    );
}

export interface WorkScoringOptions {
  /** Chunks this worker scores at once; 1 unless said. */
  concurrency?: number;
  pollMs?: number;
  /** Its name in progress (host and process unless said). */
  name?: string;
  onError?: (err: unknown) => void;
}

/** Takes scoring chunks from the queue and scores them until stopped; the worker that ends a job's last chunk ends the job. */
export async function workScoringChunks(
  ctx: ScoringContext,
  queue: ChunkQueue,
  options: WorkScoringOptions = {},
): Promise<ChunkWorker> {
  return await queue.work(scoreChunkHandler(ctx), {
    ...options,
    onDead: deadChunkHandler(ctx),
    onSettled: async (chunk) => await settleJob(ctx, queue, sharedOf(chunk).scoringJob),
  });
}
