/**
 * Scoring end to end on a small demo world: the demo U-Net, a real reference analysis of the world's
 * training region, and the new region scored through the job runner.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinks } from '@turf/turf';
import { generateDemoWorld, type WorldSummary } from '../../scripts/demo-world/generate.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { bboxPolygon, tileBounds, tileRangeBBox, taskId } from '../../server/lib/geo/tiles.ts';
import type { ImagerySource } from '../../server/lib/imagery/source.ts';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import { tilesCoveringArea } from '../../server/lib/projects/tile-grid.ts';
import { repoRoot } from '../../server/lib/paths.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { ScoringError } from '../../server/lib/scoring/errors.ts';
import { closeImagerySources, registerImagery } from '../../server/lib/scoring/imagery-registry.ts';
import {
  cancelJob,
  disposeScoringModels,
  getJob,
  resumeInterruptedJobs,
  startScoring,
  waitForJob,
} from '../../server/lib/scoring/jobs.ts';
import { createProject, type ProjectRow } from '../../server/lib/scoring/projects.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';
import { scoredTileSchema, type ScoredTile } from '../../server/lib/scored-tiles/scored-tile.ts';
import {
  countScoredTiles,
  effortForProject,
  getScoredTile,
  iterateScoredTiles,
} from '../../server/lib/scoring/tiles-repo.ts';
import { collect } from '../fixtures/collect.ts';
import { analyseDemoReference } from '../fixtures/demo-reference.ts';
import { sqlAll, sqlGet, sqlRun, sqlValue } from '../../server/lib/db/store-probe.ts';

let dir: string;
let db: DatabaseHandle;
let ctx: ScoringContext;
let world: WorldSummary;
let runId: number;
let imageryId: number;
let area: { type: 'Polygon'; coordinates: number[][][] };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-scoring-'));
  world = await generateDemoWorld({ seed: 7, outDir: join(dir, 'world'), scale: 'small' });
  db = await openDatabase(join(dir, 'tilelens.db'));
  // The flaky tile server below listens on loopback, which only an allow-list opens.
  ctx = { db, dataDir: join(dir, 'data'), outbound: OutboundPolicy.fromSetting('127.0.0.1') };
  runId = await analyseDemoReference(db, join(dir, 'world'), join(dir, 'runs'));
  imageryId = (
    await registerImagery(ctx, {
      name: 'demo',
      spec: { kind: 'pmtiles', path: join(dir, 'world', 'imagery.pmtiles') },
    })
  ).id;
  const t = world.regions.new.tiles;
  area = bboxPolygon(tileRangeBBox(18, t));
}, 180_000);

afterAll(async () => {
  await closeImagerySources(ctx);
  await disposeScoringModels();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const project = (name: string, imagery = imageryId): Promise<ProjectRow> =>
  createProject(ctx, { name, area, imageryId: imagery, runId });

async function tilesOf(projectId: number): Promise<ScoredTile[]> {
  return await collect(iterateScoredTiles(ctx, projectId));
}

describe('scoring a new region', () => {
  let scored: ProjectRow;

  it('scores every tile exactly once, with scores in range and valid footprints inside their tile', async () => {
    scored = await project('new region');
    expect(scored.tileCount).toBe(world.regions.new.tileCount);
    const queued = await startScoring(ctx, scored.id, { batchSize: 8 });
    expect(queued.status).toBe('queued');
    await expect((async () => await startScoring(ctx, scored.id))()).rejects.toThrow(ScoringError);
    const job = await waitForJob(ctx, queued.id);
    expect(job).toMatchObject({ status: 'done', done: scored.tileCount, failed: 0, total: scored.tileCount });

    const tiles = await tilesOf(scored.id);
    const expected = [...tilesCoveringArea({ polygons: [area] as never }, 18)].map((t) =>
      taskId(t.z, t.x, t.y),
    );
    expect(tiles.length).toBeGreaterThan(0);
    expect(tiles.map((t) => t.taskId).sort()).toEqual(expected.sort());
    let withFootprints = 0;
    for (const t of tiles) {
      scoredTileSchema.parse(t);
      expect(t.status).toBe('scored');
      expect(t.runId).toBe(runId);
      if (!t.footprints) continue;
      withFootprints++;
      const [w, s, e, n] = tileBounds(t.z, t.x, t.y);
      for (const polygon of t.footprints.coordinates) {
        expect(kinks({ type: 'Polygon', coordinates: polygon }).features).toHaveLength(0);
        for (const [lon, lat] of polygon[0]) {
          expect(lon >= w - 1e-7 && lon <= e + 1e-7 && lat >= s - 1e-7 && lat <= n + 1e-7).toBe(true);
        }
      }
    }
    expect(withFootprints).toBeGreaterThan(0);
    expect(await getScoredTile(ctx, scored.id, tiles[0].taskId)).toEqual(tiles[0]);
    const byPriority = (await collect(iterateScoredTiles(ctx, scored.id, { orderBy: 'priority' }))).map(
      (t) => t.priority,
    );
    expect(byPriority).toEqual([...byPriority].sort((a, b) => b - a));
    const effort = await effortForProject(ctx, scored.id);
    expect(effort.points[0]).toMatchObject({ threshold: 0, sent: scored.tileCount });
  });

  it('resumes a job whose process was killed: no tile twice, none lost, same scores as an uninterrupted run', async () => {
    const killed = await project('killed');
    const child = spawn(
      join(repoRoot, 'node_modules', '.bin', 'tsx'),
      [
        join(repoRoot, 'tests/integration/scoring-child.ts'),
        join(dir, 'tilelens.db'),
        ctx.dataDir,
        String(killed.id),
        '4',
        '400',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const dones = [...out.matchAll(/done (\d+)/g)].map((m) => Number(m[1]));
        if (dones.length > 0 && dones[dones.length - 1] >= 12) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`the child exited before it was killed: ${out}`)));
    });
    await exited;
    const stuck = (await sqlGet<{ id: number; status: string; done: number }>(
      db,
      'select id, status, done from scoring_jobs where project_id = ?',
      killed.id,
    ))!;
    expect(stuck.status).toBe('running');
    expect(stuck.done).toBeGreaterThanOrEqual(12);
    expect(stuck.done).toBeLessThan(killed.tileCount);
    expect((await countScoredTiles(ctx, killed.id)).total).toBe(stuck.done);

    const resumed = await resumeInterruptedJobs(ctx);
    expect(resumed.map((j) => j.id)).toEqual([stuck.id]);
    const job = await waitForJob(ctx, stuck.id);
    expect(job).toMatchObject({ status: 'done', done: killed.tileCount, total: killed.tileCount });
    const rows = await sqlGet(
      db,
      'select count(*) n, count(distinct task_id) d, count(distinct job_id) jobs from tile_scores where project_id = ?',
      killed.id,
    );
    expect(rows).toEqual({ n: killed.tileCount, d: killed.tileCount, jobs: 1 });

    const reference = new Map((await tilesOf(scored.id)).map((t) => [t.taskId, t]));
    for (const t of await tilesOf(killed.id)) {
      const r = reference.get(t.taskId)!;
      expect(t.iouHat).toBeCloseTo(r.iouHat, 4);
      expect(t.novelty).toBeCloseTo(r.novelty, 1);
      expect(t.buildingProb).toBeCloseTo(r.buildingProb, 4);
      expect(t.priority).toBeCloseTo(r.priority, 4);
      expect(t.predFraction).toBeCloseTo(r.predFraction, 3);
    }
  }, 90_000);

  it('stops a cancelled job after the batch in flight, and a new job scores only the rest', async () => {
    const p = await project('cancelled');
    let jobId = 0;
    const first = await startScoring(ctx, p.id, {
      batchSize: 2,
      onBatch: async () => void (await cancelJob(ctx, jobId)),
    });
    jobId = first.id;
    const cancelled = await waitForJob(ctx, first.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.done).toBe(2);
    expect((await countScoredTiles(ctx, p.id)).total).toBe(2);
    const second = await waitForJob(ctx, (await startScoring(ctx, p.id, { batchSize: 8 })).id);
    expect(second).toMatchObject({ status: 'done', done: p.tileCount });
    const jobs = await sqlAll(
      db,
      'select job_id, count(*) n from tile_scores where project_id = ? group by job_id',
      p.id,
    );
    expect(jobs).toEqual([
      { job_id: first.id, n: 2 },
      { job_id: second.id, n: p.tileCount - 2 },
    ]);
  });
});

describe('imagery that fails per tile', () => {
  let server: Server;
  let healed = false;
  let flaky: ProjectRow;
  let pmtiles: ImagerySource | undefined;
  afterAll(async () => {
    await pmtiles?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('records 404 tiles as missing and HTML answers as undecodable, and the job still finishes', async () => {
    pmtiles = await createImagerySource({
      kind: 'pmtiles',
      path: join(dir, 'world', 'imagery.pmtiles'),
    });
    server = createServer(async (req, res) => {
      const m = /^\/(\d+)\/(\d+)\/(\d+)\.jpg$/.exec(req.url ?? '');
      const [z, x, y] = m ? m.slice(1).map(Number) : [0, 0, 0];
      if (!m || (x + y) % 5 === 0) {
        res.writeHead(404).end('not found');
      } else if ((x + y) % 5 === 1 && !healed) {
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<html><body>Rate limit exceeded</body></html>');
      } else {
        const tile = await pmtiles!.getTile(z, x, y);
        if (tile.status !== 'ok') res.writeHead(404).end();
        else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(tile.bytes);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const xyz = await registerImagery(ctx, {
      name: 'flaky xyz',
      spec: {
        kind: 'xyz',
        url: `http://127.0.0.1:${port}/{z}/{x}/{y}.jpg`,
        retries: 0,
        minZoom: 0,
        maxZoom: 22,
      },
    });
    const p = (flaky = await project('flaky', xyz.id));
    const job = await waitForJob(ctx, (await startScoring(ctx, p.id, { batchSize: 8 })).id);
    const tiles = await tilesOf(p.id);
    const expect404 = tiles.filter((t) => (t.x + t.y) % 5 === 0).length;
    const expectHtml = tiles.filter((t) => (t.x + t.y) % 5 === 1).length;
    // Both kinds of failure happen, so the checks on each below see some tiles.
    expect(expect404).toBeGreaterThan(0);
    expect(expectHtml).toBeGreaterThan(0);
    expect(job).toMatchObject({ status: 'done', done: p.tileCount, failed: expect404 + expectHtml });
    expect(await countScoredTiles(ctx, p.id)).toEqual({
      total: p.tileCount,
      scored: p.tileCount - expect404 - expectHtml,
      missing: expect404,
      undecodable: expectHtml,
      failed: 0,
    });
    for (const t of tiles) {
      scoredTileSchema.parse(t);
      if ((t.x + t.y) % 5 === 0) expect(t).toMatchObject({ status: 'missing', tier: 'skip', priority: 0 });
      if ((t.x + t.y) % 5 === 1) {
        expect(t.status).toBe('undecodable');
        expect(t.error).toMatch(/HTML/);
        expect(t.priority).toBeGreaterThan(0);
      }
    }
  });

  it('`tilelens retry` scores the failed tiles again once the server heals; missing ones stay missing', async () => {
    healed = true;
    const before = await countScoredTiles(ctx, flaky.id);
    const child = spawn(
      join(repoRoot, 'node_modules', '.bin', 'tsx'),
      [
        join(repoRoot, 'server/cli.ts'),
        'retry',
        '--project',
        String(flaky.id),
        '--db',
        join(dir, 'tilelens.db'),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TILELENS_DATA_DIR: ctx.dataDir, TILELENS_IMAGERY_ALLOW_HOSTS: '127.0.0.1' },
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code, err).toBe(0);
    const line = JSON.parse(out.trim());
    expect(line).toMatchObject({
      projectId: flaky.id,
      retried: before.undecodable,
      healed: before.undecodable,
      stillFailing: 0,
      counts: { total: flaky.tileCount, missing: before.missing, undecodable: 0, failed: 0 },
    });
    for (const t of await tilesOf(flaky.id)) {
      if ((t.x + t.y) % 5 === 1) expect(t).toMatchObject({ status: 'scored', attempts: 2 });
      if ((t.x + t.y) % 5 === 0) expect(t.status).toBe('missing');
    }
  });
});

describe('a project that cannot be scored', () => {
  it('refuses a reference run that does not exist, with a 404 that says what to do', async () => {
    let error: unknown;
    try {
      await createProject(ctx, { name: 'no run', area, imageryId, runId: 9999 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScoringError);
    expect(error).toMatchObject({ code: 'run-not-found', status: 404 });
    expect((error as Error).message).toMatch(/run with id 9999.*tilelens analyze/);
  });

  it("fails the job, never leaves it running, when the model's file has gone", async () => {
    const p = await project('model gone');
    const modelId = p.modelId;
    const path = await sqlValue<string>(db, 'select path from models where id = ?', modelId);
    await sqlRun(db, 'update models set path = ? where id = ?', join(dir, 'gone.onnx'), modelId);
    try {
      const job = await waitForJob(ctx, (await startScoring(ctx, p.id)).id);
      expect(job.status).toBe('failed');
      expect(job.error).toMatch(/weights of model .* are not where they were registered/);
      expect(job.error).not.toContain(dir);
      expect((await getJob(ctx, job.id))?.finishedAt).toBeInstanceOf(Date);
      expect((await countScoredTiles(ctx, p.id)).total).toBe(0);
    } finally {
      await sqlRun(db, 'update models set path = ? where id = ?', path, modelId);
    }
  });
});
