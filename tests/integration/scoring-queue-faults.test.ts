/**
 * Faults of scoring through the queue, with real processes and a real Postgres: a worker SIGKILLed during its
 * chunk, the database restarted in the middle of a run, and a poison chunk whose imagery always fails. Each
 * ends with every tile stored once; the first two with the scores of an uninterrupted run, the last with its
 * tiles recorded as failures after the chunk's tries.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalPostgres, type LocalPostgres } from '../../server/lib/db/local-postgres.ts';
import { bboxPolygon, tileRangeBBox } from '../../server/lib/geo/tiles.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';
import type { ChunkRecord } from '../../server/lib/queue/chunk-queue.ts';
import { registerImagery } from '../../server/lib/scoring/imagery-registry.ts';
import { getJob, startScoring, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { createProject } from '../../server/lib/scoring/projects.ts';
import { countScoredTiles, iterateScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { collect } from '../fixtures/collect.ts';
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

let dir: string;
let pg: LocalPostgres;
let w: QueuedScoringWorld;
let reference: Map<string, unknown>;
const workers: WorkerProcess[] = [];

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
      const allow = { TILELENS_IMAGERY_ALLOW_HOSTS: '127.0.0.1' };
      const ctx = { ...w.ctx, outbound: OutboundPolicy.fromSetting('127.0.0.1') };
      const imagery = await registerImagery(ctx, {
        name: 'always down',
        spec: {
          kind: 'xyz',
          url: `http://127.0.0.1:${port}/{z}/{x}/{y}.jpg`,
          retries: 0,
          minZoom: 18,
          maxZoom: 18,
        },
      });
      const t = w.world.regions.new.tiles;
      const area = bboxPolygon(
        tileRangeBBox(18, { minX: t.minX, minY: t.minY, maxX: t.minX + 5, maxY: t.minY + 3 }, 0.01),
      );
      const project = await createProject(ctx, {
        name: 'poison',
        area,
        imageryId: imagery.id,
        runId: w.runId,
      });
      const retryLimit = 2;
      ctx.queueOptions = {
        chunkTiles: 16,
        policy: { leaseSeconds: 30, retryDelaySeconds: 0, retryBackoff: false, retryLimit },
      };
      await worker(['--name', 'poisoned'], allow).ready;
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
});
