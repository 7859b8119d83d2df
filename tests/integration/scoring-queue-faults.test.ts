/**
 * Faults of scoring through the queue, with real processes and a real Postgres: a worker SIGKILLed during its
 * chunk, the database restarted in the middle of a run, a poison chunk whose imagery always fails, and a worker
 * stopped by one signal (it hands its chunk back) or two (it exits at once). Each ends with every tile stored
 * once; the first two with the scores of an uninterrupted run, the poison chunk with its tiles recorded as
 * failures after the chunk's tries.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalPostgres, type LocalPostgres } from '../../server/lib/db/local-postgres.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';
import type { ChunkRecord } from '../../server/lib/queue/chunk-queue.ts';
import { getImagerySource } from '../../server/lib/scoring/imagery-registry.ts';
import { getJob, startScoring } from '../../server/lib/scoring/jobs.ts';
import { countScoredTiles, iterateScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { collect } from '../fixtures/collect.ts';
import { sendTile } from '../fixtures/tile-http.ts';
import {
  inProcessScores,
  newProject,
  loopbackProject,
  queuedScoringWorld,
  scoresOf,
  spawnWorker,
  until,
  type QueuedScoringWorld,
  type WorkerProcess,
} from '../fixtures/queued-scoring.ts';

let dir: string;
let pg: LocalPostgres;
let w: QueuedScoringWorld;
let reference: Map<string, unknown>;
const workers: WorkerProcess[] = [];
const servers: Server[] = [];
/** Workers fetch from the test's own imagery servers on loopback. */
const ALLOW_LOOPBACK = { TILELENS_IMAGERY_ALLOW_HOSTS: '127.0.0.1' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-queue-faults-'));
  chmodSync(dir, 0o755); // run as root, the server runs as the `postgres` user
  pg = await startLocalPostgres({ folder: join(dir, 'cluster') });
  w = await queuedScoringWorld(pg.url);
  reference = await inProcessScores(w, 4);
}, 300_000);

afterAll(async () => {
  for (const p of workers)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await w?.close();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function worker(args: string[] = [], env: Record<string, string> = {}): WorkerProcess {
  const p = spawnWorker(pg.url, args, env);
  workers.push(p);
  return p;
}

async function stopAll(): Promise<void> {
  for (const p of workers.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
}

// Each test's workers end with it, whatever its outcome: none takes the next test's chunks.
afterEach(stopAll);

/** The job's end, read through a store that may be restarting (reads that fail are tried again). */
async function ended(jobId: number) {
  await until(async () => !['queued', 'running'].includes((await getJob(w.ctx, jobId))!.status), 250);
  return (await getJob(w.ctx, jobId))!;
}

async function records(projectId: number): Promise<ChunkRecord[]> {
  return await collect(w.ctx.queue!.records(projectId));
}

/** Resolves once the worker's stderr holds `text`. */
async function said(p: WorkerProcess, text: string): Promise<void> {
  await until(async () => p.stderr().includes(text), 50);
}

/**
 * An imagery server on loopback serving the demo world's tiles 100 ms apart (one request at a time), which
 * `holdAfter(n)` makes stop answering after n more requests, until `resume()`: a worker can be caught in the
 * middle of a chunk, with the batch in its hands unfinished.
 */
async function heldTileServer(): Promise<{ port: number; holdAfter(n: number): void; resume(): void }> {
  const source = await getImagerySource(w.ctx, w.imageryId);
  let left = Infinity;
  let resumed = Promise.resolve();
  let resume = () => undefined as void;
  const server: Server = createServer((req, res) => {
    const m = /^\/(\d+)\/(\d+)\/(\d+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    const wait = left-- > 0 ? Promise.resolve() : resumed;
    sendTile(
      res,
      wait
        .then(() => new Promise((r) => setTimeout(r, 100)))
        .then(() => source.getTile(Number(m[1]), Number(m[2]), Number(m[3]))),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return {
    port: (server.address() as AddressInfo).port,
    holdAfter(n) {
      left = n;
      resumed = new Promise<void>((r) => (resume = r));
    },
    resume() {
      left = Infinity;
      resume();
    },
  };
}

/** A project of 6 × 4 tiles of the world's new region, its imagery behind `port`. */
/**
 * A worker scoring a project behind the held tile server, caught in the middle of its chunk: it stored a batch
 * and the imagery stops answering after a few more tiles.
 */
async function caughtMidChunk(projectName: string, workerName: string) {
  const tiles = await heldTileServer();
  const { ctx, project } = await heldProject(projectName, tiles.port);
  const scoring = worker(['--name', workerName], ALLOW_LOOPBACK);
  await scoring.ready;
  const queued = await startScoring(ctx, project.id, { batchSize: 4 });
  await until(async () => (await getJob(w.ctx, queued.id))?.status === 'running', 50);
  tiles.holdAfter(6);
  await until(async () => (await w.ctx.queue!.progress(project.id)).tiles.done >= 4, 50);
  return { tiles, project, queued, worker: scoring };
}

async function heldProject(name: string, port: number) {
  const ctx = { ...w.ctx, outbound: OutboundPolicy.fromSetting('127.0.0.1') };
  const project = await loopbackProject(w, ctx, name, port, { concurrency: 1 });
  // One chunk of the whole project in batches of 4; no try to spare, and a retry or a lost lease would wait an
  // hour: only a hand-back brings a chunk back within the test.
  ctx.queueOptions = {
    chunkTiles: project.tileCount,
    policy: { leaseSeconds: 3600, retryDelaySeconds: 3600, retryBackoff: false, retryLimit: 0 },
  };
  return { ctx, project };
}

describe('scoring through the queue, under faults', () => {
  it('a worker SIGKILLed during its chunk: the chunk comes back, every tile is stored once, with the uninterrupted scores', async () => {
    const project = await newProject(w, 'killed worker');
    w.ctx.queueOptions = {
      chunkTiles: 48,
      policy: { leaseSeconds: 10, retryDelaySeconds: 0, retryBackoff: false, retryLimit: 3 },
    };
    const victim = worker(['--name', 'victim']);
    await victim.ready;
    const queued = await startScoring(w.ctx, project.id, { batchSize: 4 });
    // Killed once its first chunk has stored some of its batches, not all.
    await until(async () => {
      const p = await w.ctx.queue!.progress(project.id);
      return p.chunks.running > 0 && p.tiles.done > 0;
    }, 50);
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const killedAt = (await countScoredTiles(w.ctx, project.id)).total;
    expect(killedAt).toBeLessThan(project.tileCount);

    await worker(['--name', 'survivor']).ready;
    const job = await ended(queued.id);
    expect(job).toMatchObject({ status: 'done', done: project.tileCount, failed: 0 });
    const chunks = await records(project.id);
    expect(chunks.every((c) => c.state === 'done')).toBe(true);
    // The killed chunk was tried again; none ran out of tries.
    expect(Math.max(...chunks.map((c) => c.attempt))).toBeGreaterThanOrEqual(2);
    const scores = await scoresOf(w, project.id);
    expect(scores.size).toBe(project.tileCount);
    expect(scores).toEqual(reference);
  }, 300_000);

  it('Postgres restarted in the middle of a run: the workers reconnect and finish, with the uninterrupted scores', async () => {
    const project = await newProject(w, 'database restarted');
    w.ctx.queueOptions = {
      chunkTiles: 32,
      policy: { leaseSeconds: 30, retryDelaySeconds: 1, retryBackoff: false, retryLimit: 5 },
    };
    await Promise.all([worker(['--name', 'a']).ready, worker(['--name', 'b']).ready]);
    const queued = await startScoring(w.ctx, project.id, { batchSize: 4 });
    await until(async () => ((await getJob(w.ctx, queued.id))?.done ?? 0) > 0, 50);
    await pg.stop();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    pg = await startLocalPostgres({ folder: pg.folder, port: pg.port });
    const alive = () => workers.map((p) => (p.child.exitCode === null ? 'alive' : p.stderr()));
    expect(alive()).toEqual(['alive', 'alive']);

    const job = await ended(queued.id);
    expect(job).toMatchObject({ status: 'done', done: project.tileCount, failed: 0 });
    expect(alive()).toEqual(['alive', 'alive']);
    const scores = await scoresOf(w, project.id);
    expect(scores.size).toBe(project.tileCount);
    expect(scores).toEqual(reference);
  }, 300_000);

  it('a poison chunk (imagery that always fails) ends as recorded failures after its tries, never a loop', async () => {
    let requests = 0;
    const down: Server = createServer((_req, res) => {
      requests++;
      res.writeHead(500).end('down');
    });
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    try {
      const port = (down.address() as AddressInfo).port;
      const ctx = { ...w.ctx, outbound: OutboundPolicy.fromSetting('127.0.0.1') };
      const project = await loopbackProject(w, ctx, 'poison', port, { suffix: '.jpg' });
      const retryLimit = 2;
      ctx.queueOptions = {
        chunkTiles: 16,
        policy: { leaseSeconds: 30, retryDelaySeconds: 0, retryBackoff: false, retryLimit },
      };
      await worker(['--name', 'poisoned'], ALLOW_LOOPBACK).ready;
      const queued = await startScoring(ctx, project.id, { batchSize: 4 });
      const job = await ended(queued.id);
      expect(job).toMatchObject({ status: 'done', done: project.tileCount, failed: project.tileCount });

      const chunks = await records(project.id);
      expect(chunks).toHaveLength(Math.ceil(project.tileCount / 16));
      for (const c of chunks) {
        expect(c).toMatchObject({ state: 'dead', attempt: retryLimit + 1, failed: c.tiles });
        expect(c.error).toMatch(/failed to load/);
      }
      const tiles = await collect(iterateScoredTiles(w.ctx, project.id));
      expect(tiles).toHaveLength(project.tileCount);
      for (const tile of tiles) {
        expect(tile.status).toBe('failed');
        expect(tile.error).toMatch(/chunk failed on every try/);
      }
      expect(requests).toBeGreaterThan(0);
      // Nothing more is asked of the host once the chunks are dead.
      const after = requests;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(requests).toBe(after);
    } finally {
      down.closeAllConnections();
      await new Promise<void>((r) => down.close(() => r()));
    }
  }, 300_000);
  it('one SIGTERM: the worker finishes the batch in hand, hands its chunk back and exits; another takes it at once, not as a try', async () => {
    const { tiles, project, queued, worker: stopped } = await caughtMidChunk('stopped worker', 'stopped');
    stopped.child.kill('SIGTERM');
    await said(stopped, 'SIGTERM: taking no more chunks; handing the running ones back');
    tiles.resume();
    expect(await stopped.exited).toEqual({ code: 0, signal: null });
    const lines = stopped
      .stderr()
      .split('\n')
      .filter((l) => l.includes('SIGTERM'));
    expect(lines).toHaveLength(1);

    const stored = (await countScoredTiles(w.ctx, project.id)).total;
    expect(stored).toBeGreaterThanOrEqual(4);
    expect(stored).toBeLessThan(project.tileCount);
    expect(await records(project.id)).toMatchObject([{ state: 'queued', attempt: 1, done: 0, error: null }]);
    expect((await getJob(w.ctx, queued.id))!.status).toBe('running');

    await worker(['--name', 'taker'], ALLOW_LOOPBACK).ready;
    const job = await ended(queued.id);
    expect(job).toMatchObject({ status: 'done', done: project.tileCount, failed: 0 });
    expect(await records(project.id)).toMatchObject([{ state: 'done', attempt: 2, error: null }]);
    const scored = await collect(iterateScoredTiles(w.ctx, project.id));
    expect(scored).toHaveLength(project.tileCount);
    expect(new Set(scored.map((t) => t.taskId)).size).toBe(project.tileCount);
    expect(scored.every((t) => t.status === 'scored')).toBe(true);
  }, 300_000);

  it('a second SIGTERM exits at once, mid-batch; the chunk stays the worker’s until its lease', async () => {
    const { tiles, project, worker: twice } = await caughtMidChunk('worker stopped twice', 'twice');
    twice.child.kill('SIGTERM');
    // Its batch cannot finish while the imagery holds: the second signal finds it still stopping.
    await said(twice, 'SIGTERM: taking no more chunks');
    twice.child.kill('SIGTERM');
    expect(await twice.exited).toEqual({ code: 128 + 15, signal: null });
    tiles.resume();
    expect(twice.stderr()).toContain('SIGTERM again: exiting now');
    // Not handed back: the chunk is still the gone worker's attempt, for its lease (an hour here).
    expect(await records(project.id)).toMatchObject([{ state: 'running', attempt: 1 }]);
    await w.ctx.queue!.cancel(project.id);
  }, 300_000);
});
