/**
 * Scoring through the queue on the shared store: a job is sent as chunks of the project's tile order and scored
 * by `tilelens worker` processes into the scores the in-process runner gives; the job row's progress, cancel and
 * end keep their meaning; a worker refuses a store it would have to change.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openQueueStore,
  queueSchemaVersion,
  setQueueSchemaVersion,
} from '../../server/lib/db/chunk-ledger-repo.ts';
import { cancelJob, getJob, startScoring, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { startScoringWorker } from '../../server/lib/scoring/shared-store.ts';
import { countScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { useLocalPostgres } from '../fixtures/local-postgres-suite.ts';
import {
  inProcessScores,
  newProject,
  queuedScoringWorld,
  scoresOf,
  spawnWorker,
  until,
  type QueuedScoringWorld,
  type WorkerProcess,
} from '../fixtures/queued-scoring.ts';

const server = useLocalPostgres('scoring-queue');
let w: QueuedScoringWorld;
const workers: WorkerProcess[] = [];
let reference: Map<string, unknown>;

beforeAll(async () => {
  w = await queuedScoringWorld(server().url);
  // The uninterrupted reference: the same store, the in-process runner (a context without the queue).
  reference = await inProcessScores(w, 8);
}, 300_000);

afterAll(async () => {
  for (const p of workers) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await w?.close();
});

describe('a scoring job on the shared store', () => {
  it('goes out as chunks, two worker processes score them, and the scores are the in-process ones', async () => {
    const project = await newProject(w, 'two workers');
    w.ctx.queueOptions = { chunkTiles: 16 };
    const queued = await startScoring(w.ctx, project.id, { batchSize: 4 });
    expect(queued).toMatchObject({ status: 'queued', total: project.tileCount, done: 0 });
    for (let i = 0; i < 2; i++) workers.push(spawnWorker(server().url, ['--name', `w${i}`]));
    await Promise.all(workers.map((p) => p.ready));
    const job = await waitForJob(w.ctx, queued.id);
    expect(job).toMatchObject({ status: 'done', done: project.tileCount, failed: 0 });
    const progress = await w.ctx.queue!.progress(project.id);
    expect(progress).toMatchObject({
      state: 'done',
      chunks: { total: Math.ceil(project.tileCount / 16), done: Math.ceil(project.tileCount / 16) },
      tiles: { total: project.tileCount, done: project.tileCount, failed: 0 },
    });
    const scores = await scoresOf(w, project.id);
    expect(scores.size).toBe(project.tileCount);
    expect(scores).toEqual(reference);
  }, 300_000);

  it('`tilelens score --db postgres://…` sends its job through the queue, works it itself, and stores the same scores', async () => {
    const areaFile = join(w.dir, 'area.geojson');
    writeFileSync(areaFile, JSON.stringify(w.area));
    // prettier-ignore
    const args = ['score', '--db', server().url, '--run', String(w.runId), '--imagery', join(w.dir, 'world', 'imagery.pmtiles'),
      '--area', areaFile, '--zoom', '18', '--name', 'from the command line', '--batch', '8'];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'server/cli.ts', ...args],
      {
        cwd: join(import.meta.dirname, '../..'),
        env: { ...process.env, TILELENS_DATA_DIR: join(w.dir, 'cli-data') },
      },
    );
    const line = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(line).toMatchObject({ tiles: reference.size, scored: reference.size, failed: 0, missing: 0 });
    // Its chunks went through the queue, every one done.
    const progress = await w.ctx.queue!.progress(line.projectId);
    expect(progress.state).toBe('done');
    expect(progress.chunks.done).toBe(progress.chunks.total);
    expect(progress.chunks.total).toBeGreaterThan(0);
    expect(await scoresOf(w, line.projectId)).toEqual(reference);
  }, 300_000);

  it('a job sent again skips every tile already stored; cancel stops every worker’s share', async () => {
    const project = await newProject(w, 'cancelled');
    w.ctx.queueOptions = { chunkTiles: 8 };
    const queued = await startScoring(w.ctx, project.id, { batchSize: 4 });
    await until(async () => ((await getJob(w.ctx, queued.id))?.done ?? 0) > 0, 100);
    const cancelled = await cancelJob(w.ctx, queued.id);
    expect(cancelled.status).toBe('cancelled');
    const progress = await w.ctx.queue!.progress(project.id);
    expect(progress.state).toBe('cancelled');
    expect(progress.chunks.cancelled).toBeGreaterThan(0);
    // The running chunks stop at their next batch: nothing is written after a moment.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const stored = (await countScoredTiles(w.ctx, project.id)).total;
    expect(stored).toBeLessThan(project.tileCount);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await countScoredTiles(w.ctx, project.id)).total).toBe(stored);

    const again = await startScoring(w.ctx, project.id, { batchSize: 4 });
    expect(again).toMatchObject({ status: 'queued', done: stored });
    expect(await waitForJob(w.ctx, again.id)).toMatchObject({ status: 'done', done: project.tileCount });
    expect(await scoresOf(w, project.id)).toEqual(reference);
  }, 300_000);
});

describe('tilelens worker refuses a store it would have to change', () => {
  const refusal = async (url: string) => {
    const p = spawnWorker(url);
    const { code } = await p.exited;
    return { code, stderr: p.stderr() };
  };

  it('an embedded SQLite file', async () => {
    const r = await refusal(`${w.dir}/tilelens.db`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a shared store: workers take chunks from a postgres/);
  }, 60_000);

  it('a database that holds no tilelens schema; nothing is created in it', async () => {
    const other = await server().createDatabase('not_tilelens');
    const r = await refusal(other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds no tilelens schema at all/);
    expect(r.stderr).not.toContain(new URL(other).password);
    const store = openQueueStore(other);
    try {
      expect(await queueSchemaVersion(store)).toBeNull();
    } finally {
      await store.close();
    }
  }, 60_000);

  it('queue tables older or newer than the code, and a server it cannot reach', async () => {
    const store = openQueueStore(server().url);
    try {
      await setQueueSchemaVersion(store, 1);
      let r = await refusal(server().url);
      expect(r.stderr).toMatch(/at version 1, older than this tilelens's 2/);
      expect(await queueSchemaVersion(store)).toBe(1);
      await setQueueSchemaVersion(store, 3);
      r = await refusal(server().url);
      expect(r.stderr).toMatch(/at version 3, newer than this tilelens's 2/);
      expect(await queueSchemaVersion(store)).toBe(3);
    } finally {
      await setQueueSchemaVersion(store, 2);
      await store.close();
    }
    const gone = new URL(server().url);
    gone.port = '1';
    const r = await refusal(gone.toString());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not answer or refuses the connection/);
    expect(r.stderr).not.toContain(gone.password);
  }, 120_000);

  it('the library refuses the same, and a worker on the right store starts', async () => {
    await expect(startScoringWorker({ url: `${w.dir}/x.db`, dataDir: w.dir })).rejects.toThrow(
      /not a shared store/,
    );
    const worker = await startScoringWorker({ url: server().url, dataDir: w.dir });
    await worker.stop();
  });
});
