/**
 * `npm run bench -- cluster`: the scoring engine on the shared store, with a trivial model — what the queue and the
 * store cost per tile, whether they would hold many hosts, and a projection for a national activation.
 *
 * A synthetic project of side² z18 tiles (224² = 50,176 unless said) on a local Postgres, scored three ways with
 * the same trivial model (each tile's row computed from its coordinates: every column a real row has, no imagery,
 * no inference), each through the queue path's own steps — the tiles of a range found by `tilesInRange`, the stored
 * ones by `storedTileStates`, the rows written batch by batch with the job's progress by `storeBatch`:
 *   1. in process: the project's grid walked once, no queue (the baseline);
 *   2. through the queue (pg-boss + the chunk ledger) by 1 `--worker` process;
 *   3. the same by 2 worker processes.
 * Each run checks that the project holds every tile once. Printed: tiles/s, each queue run's time as a multiple of
 * the baseline's, the queue's overhead per tile and per chunk, and a projection for 5 M tiles on 20 hosts from the
 * measured engine rate and per-chunk cost, with the per-host scoring rate of the real model: measured by the real
 * model's part when it runs, else the input `--host-rate` (tiles/s).
 *
 * Then the soak: a project of soak-side² tiles (160² unless said) in chunks of 64 with a 5 s lease, scored by two
 * worker processes at a model's pace (100 ms a batch), one of them SIGKILLed at random `--kills` times (20) and
 * replaced; it fails unless every tile is stored once and the job's count equals them.
 *
 * Then the imagery host's shared bucket alone: two limiters (two workers) taking a token per tile request for
 * one host, one request at a time each (a statement per tile, the baseline) and 32 in flight each (a worker's
 * waiting requests asked for together): tiles/s and tiles per statement. The projection is bound by the lower
 * of the engine's rate and the bucket's, a whole project's imagery coming from one host.
 *
 * Then the real model (`cluster-real-model.ts`): a project of real-side² tiles (224² = 50,176 unless said) whose
 * imagery is the demo's new region served again by z/x/y modulo its extent from a tile server on loopback, scored
 * by the demo model in process, by 1 and by 2 `tilelens worker` processes; the queue's scores must equal the
 * in-process ones. `--parts engine` or `--parts real` runs one of the two (the soak belongs to the engine's part).
 *
 *   npx tsx scripts/bench/cluster.ts [--side 224] [--chunk 256] [--batch 16] [--host-rate 60] [--soak-side 160]
 *                                    [--kills 20] [--real-side 224] [--real-chunk 256] [--parts engine,real]
 *                                    [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as jobsRepo from '../../server/lib/db/jobs-repo.ts';
import { startLocalPostgres } from '../../server/lib/db/local-postgres.ts';
import { getProject, insertProject } from '../../server/lib/db/projects-repo.ts';
import type { NewTileScore, Project } from '../../server/lib/db/schema.ts';
import { countTileStatuses, storedTileStates } from '../../server/lib/db/tile-scores-repo.ts';
import type { DatabaseHandle } from '../../server/lib/db/client.ts';
import { tileBounds, tileToQuadkey, type BBox, type TileCoord } from '../../server/lib/geo/tiles.ts';
import { tilesCoveringArea, tilesInRange } from '../../server/lib/projects/tile-grid.ts';
import type { ChunkHandler } from '../../server/lib/queue/chunk-queue.ts';
import { rangeChunks } from '../../server/lib/queue/chunks.ts';
import { parseHostRates, PostgresHostRateLimiter } from '../../server/lib/queue/host-rate-limit.ts';
import { openSharedStore } from '../../server/lib/scoring/shared-store.ts';
import { createSyntheticProject } from '../../tests/fixtures/synthetic-project.ts';
import { realModelRuns, type RealModelResult } from './cluster-real-model.ts';

const ZOOM = 18;
const SELF = fileURLToPath(import.meta.url);

interface Ids {
  runId: number;
  modelId: number;
  imageryId: number;
}

/** The trivial model: a full row from the tile's coordinates alone. */
function trivialRow(projectId: number, jobId: number, ids: Ids, t: TileCoord): NewTileScore {
  const p = ((t.x * 31 + t.y * 17) % 100) / 100;
  return {
    projectId,
    jobId,
    runId: ids.runId,
    modelId: ids.modelId,
    z: t.z,
    x: t.x,
    y: t.y,
    taskId: `${t.z}-${t.x}-${t.y}`,
    quadkey: tileToQuadkey(t.z, t.x, t.y),
    status: 'scored',
    attempts: 1,
    buildingProb: p,
    buildingProbLow: p * 0.8,
    buildingProbHigh: Math.min(1, p * 1.2),
    predFraction: p / 5,
    maxProb: Math.min(1, p + 0.2),
    uncertainty: p * (1 - p),
    iouHat: 0.4 + p / 2,
    iouLow: 0.3 + p / 2,
    iouHigh: 0.5 + p / 2,
    urbanDistance: 1 - p,
    urbanDistanceScaled: (1 - p) * 1.3,
    novelty: p / 3,
    noveltyRatio: p / 2,
    priority: p,
    tier: p > 0.6 ? 'high' : p > 0.35 ? 'medium' : p > 0.15 ? 'low' : 'skip',
    pcs: Array.from({ length: 9 }, (_, c) => Math.sin(t.x * (c + 1) + t.y)),
    footprints: null,
    scoredAt: new Date(),
  };
}

function areaOf(project: Project) {
  return { polygons: project.area.features.map((f) => f.geometry), bbox: project.bbox };
}

async function storeTiles(
  db: DatabaseHandle,
  project: Project,
  jobId: number,
  ids: Ids,
  tiles: TileCoord[],
  batch: number,
  paceMs = 0,
) {
  const stored = await storedTileStates(db, project.id, tiles);
  const todo = tiles.filter((t) => !stored.has(`${t.z}/${t.x}/${t.y}`));
  for (let i = 0; i < todo.length; i += batch) {
    // The soak's stand-in for a model's time per batch, so that kills land in the middle of chunks.
    if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    await jobsRepo.storeBatch(
      db,
      jobId,
      todo.slice(i, i + batch).map((t) => trivialRow(project.id, jobId, ids, t)),
    );
  }
  return todo.length;
}

/** `--worker URL`: one worker process of the benchmark, scoring chunks with the trivial model until SIGTERM. */
async function workerMain(url: string): Promise<void> {
  const store = await openSharedStore(url, { migrate: false });
  const handler: ChunkHandler = async (chunk, q) => {
    const s = chunk.shared as { scoringJob: number; batch: number; ids: Ids; paceMs?: number };
    const project = await getProject(store.db, chunk.projectId);
    if (!project) throw new Error(`no project ${chunk.projectId}`);
    if (chunk.spec.kind !== 'range') throw new Error('range chunks only');
    const tiles = [...tilesInRange(areaOf(project), ZOOM, chunk.spec.start, chunk.spec.end)];
    await storeTiles(store.db, project, s.scoringJob, s.ids, tiles, s.batch, s.paceMs);
    await q.checkpoint({ done: tiles.length, failed: 0 });
    return { done: tiles.length, failed: 0 };
  };
  const worker = await store.queue.work(handler, { onDead: async () => undefined, pollMs: 50 });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await worker.stop();
  await store.close();
}

function spawnWorker(url: string): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--worker'], {
    env: { ...process.env, TILELENS_BENCH_DB: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`a worker exited (${code}) before it was ready`)));
  });
  return { child, ready };
}

async function stop(child: ChildProcess): Promise<void> {
  // A worker the soak SIGKILLed has ended with a signal and no exit code: its 'exit' came already.
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * The imagery host's shared bucket alone: two limiters (two workers' connections) taking one token a request
 * for one host at a rate that never binds — one request at a time each (a statement a tile, the baseline),
 * then 32 requests in flight each (asked for together, a statement a round).
 */
async function bucketRuns(url: string) {
  const rates = parseHostRates('1000000/1000000');
  const run = async (inFlight: number, total: number) => {
    const limiters = [
      await PostgresHostRateLimiter.open(url, rates),
      await PostgresHostRateLimiter.open(url, rates),
    ];
    try {
      await Promise.all(limiters.map((l) => l.take('tiles.bench')));
      const before = limiters.reduce((a, l) => a + l.stats.statements, 0);
      let left = total;
      const t = performance.now();
      await Promise.all(
        limiters.flatMap((l) =>
          Array.from({ length: inFlight }, async () => {
            while (left-- > 0) await l.take('tiles.bench');
          }),
        ),
      );
      const ms = performance.now() - t;
      const statements = limiters.reduce((a, l) => a + l.stats.statements, 0) - before;
      return {
        tiles: total,
        seconds: ms / 1000,
        tilesPerSecond: total / (ms / 1000),
        tilesPerStatement: total / statements,
      };
    } finally {
      await Promise.all(limiters.map((l) => l.close()));
    }
  };
  const oneByOne = await run(1, 4000);
  const together = await run(32, 40_000);
  return { oneByOne, together, speedup: together.tilesPerSecond / oneByOne.tilesPerSecond };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      side: { type: 'string', default: '224' },
      chunk: { type: 'string', default: '256' },
      batch: { type: 'string', default: '16' },
      'host-rate': { type: 'string', default: '60' },
      'soak-side': { type: 'string', default: '160' },
      kills: { type: 'string', default: '20' },
      'real-side': { type: 'string', default: '224' },
      'real-chunk': { type: 'string', default: '256' },
      parts: { type: 'string', default: 'engine,real' },
      json: { type: 'boolean', default: false },
      worker: { type: 'boolean', default: false },
    },
  });
  if (values.worker) return await workerMain(process.env.TILELENS_BENCH_DB!);
  const side = Number(values.side);
  const chunkTiles = Number(values.chunk);
  const batch = Number(values.batch);
  const parts = new Set(values.parts.split(','));
  for (const part of parts) {
    if (part !== 'engine' && part !== 'real') throw new Error(`--parts: engine and/or real, not "${part}"`);
  }
  const n = side * side;
  const load0 = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'tilelens-bench-cluster-'));
  chmodSync(dir, 0o755); // run as root, the server runs as the `postgres` user
  const pg = await startLocalPostgres({ folder: join(dir, 'cluster') });
  const children: ChildProcess[] = [];
  try {
    /** The engine alone (a trivial model): in process, 1 and 2 workers, then the soak. */
    const engineRuns = async () => {
      const store = await openSharedStore(pg.url, { migrate: true, maintenanceIntervalSeconds: 1 });
      const base = await createSyntheticProject(store.db, { side: 1, latentColumns: 'lazy', name: 'ids' });
      const ids: Ids = {
        runId: base.runId,
        modelId: (await getProject(store.db, base.projectId))!.modelId,
        imageryId: base.imageryId,
      };
      let next = 0;
      const newProject = async (name: string, sideOf = side): Promise<Project> => {
        // Each project its own block of the grid, far from the others.
        const origin = { x: 2 ** 17 + 1024 * ++next, y: 2 ** 17 - 4096 };
        const [w, , , north] = tileBounds(ZOOM, origin.x, origin.y);
        const [, south, e] = tileBounds(ZOOM, origin.x + sideOf - 1, origin.y + sideOf - 1);
        const bbox: BBox = [w, south, e, north];
        const ring = [
          [w, south],
          [e, south],
          [e, north],
          [w, north],
          [w, south],
        ];
        return await insertProject(store.db, {
          name,
          zoom: ZOOM,
          imageryId: ids.imageryId,
          runId: ids.runId,
          modelId: ids.modelId,
          area: {
            type: 'FeatureCollection',
            features: [
              { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } },
            ],
          },
          areaKm2: 0,
          tileCount: sideOf * sideOf,
          bbox,
          lookFor: 'buildings',
        });
      };
      const counted = async (project: Project, tiles = n) => {
        const j = await jobsRepo.latestJobOf(store.db, project.id);
        const stored = [...(await countTileStatuses(store.db, project.id)).values()].reduce(
          (a, b) => a + b,
          0,
        );
        if (!j || j.done !== tiles || stored !== tiles)
          throw new Error(`${project.name}: ${stored} rows, the job counts ${j?.done}; expected ${tiles}`);
      };

      // Warm-up, untimed: the first statements of each kind are planned and the code compiled before any timing.
      const warm = await newProject('warm-up');
      const warmJob = await jobsRepo.queueJob(
        store.db,
        { projectId: warm.id, mode: 'score', total: n, batchSize: batch },
        [],
      );
      await storeTiles(
        store.db,
        warm,
        warmJob.id,
        ids,
        [...tilesInRange(areaOf(warm), ZOOM, 0, Math.min(n, 2 * chunkTiles))],
        batch,
      );

      // 1. In process: the grid walked once, chunk by chunk, no queue.
      const inProcess = await newProject('in process');
      const job0 = await jobsRepo.queueJob(
        store.db,
        { projectId: inProcess.id, mode: 'score', total: n, batchSize: batch },
        [],
      );
      let t0 = performance.now();
      let chunk: TileCoord[] = [];
      for (const t of tilesCoveringArea(areaOf(inProcess), ZOOM)) {
        chunk.push(t);
        if (chunk.length === chunkTiles) {
          await storeTiles(store.db, inProcess, job0.id, ids, chunk, batch);
          chunk = [];
        }
      }
      if (chunk.length) await storeTiles(store.db, inProcess, job0.id, ids, chunk, batch);
      const inProcessMs = performance.now() - t0;
      await counted(inProcess);

      // 2–3. Through the queue, by 1 and by 2 worker processes (started before the send: their start is not timed).
      const queued = async (workers: number) => {
        const project = await newProject(`${workers} workers`);
        const job = await jobsRepo.queueJob(
          store.db,
          { projectId: project.id, mode: 'score', total: n, batchSize: batch },
          [],
        );
        const started = Array.from({ length: workers }, () => spawnWorker(pg.url));
        children.push(...started.map((s) => s.child));
        await Promise.all(started.map((s) => s.ready));
        const chunks = rangeChunks(project.id, n, chunkTiles).map((c) => ({
          ...c,
          shared: { scoringJob: job.id, batch, ids },
        }));
        const t = performance.now();
        await store.queue.send(project.id, chunks, { leaseSeconds: 600 });
        for (;;) {
          const p = await store.queue.progress(project.id);
          if (p.state !== 'active') {
            if (p.chunks.done !== chunks.length)
              throw new Error(`${workers} workers: ${p.chunks.dead} chunks dead`);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        const elapsed = performance.now() - t;
        await Promise.all(started.map((s) => stop(s.child)));
        await counted(project);
        return { ms: elapsed, chunks: chunks.length };
      };
      const one = await queued(1);
      const two = await queued(2);

      // 4. The soak: two workers, one of them SIGKILLed at random `kills` times and replaced, chunks of 64 with a
      // short lease and a model's pace; at the end every tile must be there once, the job's count equal to them.
      const soakSide = Number(values['soak-side']);
      const kills = Number(values.kills);
      const soakTiles = soakSide * soakSide;
      const soakProject = await newProject('soak', soakSide);
      const soakJob = await jobsRepo.queueJob(
        store.db,
        { projectId: soakProject.id, mode: 'score', total: soakTiles, batchSize: batch },
        [],
      );
      const live = [spawnWorker(pg.url), spawnWorker(pg.url)];
      children.push(...live.map((l) => l.child));
      await Promise.all(live.map((l) => l.ready));
      const soakChunks = rangeChunks(soakProject.id, soakTiles, 64).map((c) => ({
        ...c,
        shared: { scoringJob: soakJob.id, batch, ids, paceMs: 100 },
      }));
      const ts = performance.now();
      await store.queue.send(soakProject.id, soakChunks, {
        leaseSeconds: 5,
        retryDelaySeconds: 0,
        retryBackoff: false,
        retryLimit: 1000,
      });
      let killed = 0;
      while (killed < kills && (await store.queue.progress(soakProject.id)).state === 'active') {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
        const i = Math.floor(Math.random() * live.length);
        live[i].child.kill('SIGKILL');
        await new Promise((r) => live[i].child.once('exit', r));
        killed++;
        live[i] = spawnWorker(pg.url);
        children.push(live[i].child);
        await live[i].ready;
      }
      for (;;) {
        const p = await store.queue.progress(soakProject.id);
        if (p.state !== 'active') {
          if (p.chunks.done !== soakChunks.length) throw new Error(`soak: ${p.chunks.dead} chunks dead`);
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      const soakMs = performance.now() - ts;
      await Promise.all(live.map((l) => stop(l.child)));
      await counted(soakProject, soakTiles);
      let retried = 0;
      for await (const r of store.queue.records(soakProject.id)) if (r.attempt > 1) retried++;
      const soak = {
        kills: killed,
        tiles: soakTiles,
        chunks: soakChunks.length,
        chunksRetried: retried,
        seconds: soakMs / 1000,
        lost: 0,
        duplicated: 0,
      };
      if (killed < kills)
        throw new Error(`soak: the project ended after ${killed} of ${kills} kills; give it more tiles`);
      await store.close();
      const bucket = await bucketRuns(pg.url);
      return { inProcessMs, one, two, soak, bucket };
    };

    function report(
      engine: Awaited<ReturnType<typeof engineRuns>> | undefined,
      real: RealModelResult | undefined,
    ) {
      const rate = (ms: number) => n / (ms / 1000);
      // A host's scoring rate: one worker process with the real model, measured, or the input when not measured.
      const hostRate = real ? real.oneWorker.tilesPerSecond : Number(values['host-rate']);
      const engineRate = engine ? Math.max(rate(engine.one.ms), rate(engine.two.ms)) : undefined;
      // One imagery host for the whole project: every tile's request takes a token of its one bucket.
      const bucketRate = engine?.bucket.together.tilesPerSecond;
      // 5 M tiles on 20 hosts: each host scores at hostRate; the store must take 20 × hostRate tiles/s of writes.
      const demand = 20 * hostRate;
      const ceiling = Math.min(engineRate ?? Infinity, bucketRate ?? Infinity);
      const projectionHours = 5_000_000 / Math.min(demand, ceiling) / 3600;
      const result = {
        engine: engine && {
          tiles: n,
          chunkTiles,
          batch,
          inProcess: { seconds: engine.inProcessMs / 1000, tilesPerSecond: rate(engine.inProcessMs) },
          oneWorker: {
            seconds: engine.one.ms / 1000,
            tilesPerSecond: rate(engine.one.ms),
            vsInProcess: engine.one.ms / engine.inProcessMs,
          },
          twoWorkers: {
            seconds: engine.two.ms / 1000,
            tilesPerSecond: rate(engine.two.ms),
            vsInProcess: engine.two.ms / engine.inProcessMs,
            vsOne: engine.two.ms / engine.one.ms,
          },
          queueOverhead: {
            usPerTile: ((engine.one.ms - engine.inProcessMs) * 1000) / n,
            msPerChunk: (engine.one.ms - engine.inProcessMs) / engine.one.chunks,
            shareOfInProcess: engine.one.ms / engine.inProcessMs - 1,
          },
          soak: engine.soak,
          bucket: engine.bucket,
        },
        real,
        projection: {
          tiles: 5_000_000,
          hosts: 20,
          hostRate,
          hostRateMeasured: real !== undefined,
          storeDemand: demand,
          engineRate,
          bucketRate,
          hours: projectionHours,
          bound:
            demand <= ceiling
              ? "the hosts' scoring"
              : ceiling === bucketRate
                ? "the imagery host's shared bucket"
                : 'store and queue',
        },
        machine: { cores: cpus().length, loadStart: load0, loadEnd: loadavg()[0] },
      };
      if (values.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const f = (v: number, d = 0) =>
        v.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
      console.log(`cluster bench (load ${f(load0, 1)} → ${f(loadavg()[0], 1)} on ${cpus().length} cores)`);
      const e = result.engine;
      if (e) {
        console.log(`  engine: ${f(n)} tiles, chunks of ${chunkTiles}, batches of ${batch}, trivial model`);
        console.log(
          `    in process (no queue)   ${f(e.inProcess.seconds, 1)} s   ${f(e.inProcess.tilesPerSecond)} tiles/s   1.00×`,
        );
        console.log(
          `    queue, 1 worker         ${f(e.oneWorker.seconds, 1)} s   ${f(e.oneWorker.tilesPerSecond)} tiles/s   ${f(e.oneWorker.vsInProcess, 2)}×`,
        );
        console.log(
          `    queue, 2 workers        ${f(e.twoWorkers.seconds, 1)} s   ${f(e.twoWorkers.tilesPerSecond)} tiles/s   ${f(e.twoWorkers.vsInProcess, 2)}× (${f(e.twoWorkers.vsOne, 2)}× of 1 worker)`,
        );
        console.log(
          `    queue overhead          ${f(e.queueOverhead.usPerTile)} µs/tile, ${f(e.queueOverhead.msPerChunk, 1)} ms/chunk (${f(e.queueOverhead.shareOfInProcess * 100, 1)} % of the in-process time)`,
        );
        console.log(
          `    imagery bucket, 2 workers: one request at a time ${f(e.bucket.oneByOne.tilesPerSecond)} tiles/s (${f(e.bucket.oneByOne.tilesPerStatement, 1)} a statement); 32 in flight each ${f(e.bucket.together.tilesPerSecond)} tiles/s (${f(e.bucket.together.tilesPerStatement, 1)} a statement), ${f(e.bucket.speedup, 1)}×`,
        );
        console.log(
          `    soak: ${e.soak.kills} SIGKILLs of random workers over ${f(e.soak.tiles)} tiles (${e.soak.chunks} chunks, ${e.soak.chunksRetried} tried again) in ${f(e.soak.seconds, 1)} s: 0 lost, 0 duplicated (every tile's row once, the job's count equal)`,
        );
      }
      if (real) {
        console.log(
          `  real model: ${f(real.tiles)} tiles (the demo's new region, ${real.region.width} × ${real.region.height} tiles, repeated), chunks of ${real.chunkTiles}, batches of ${real.batch}`,
        );
        console.log(
          `    in process (no queue)   ${f(real.inProcess.seconds, 1)} s   ${f(real.inProcess.tilesPerSecond, 1)} tiles/s   1.00×`,
        );
        console.log(
          `    queue, 1 worker         ${f(real.oneWorker.seconds, 1)} s   ${f(real.oneWorker.tilesPerSecond, 1)} tiles/s   ${f(real.oneWorker.vsInProcess, 3)}×`,
        );
        console.log(
          `    queue, 2 workers        ${f(real.twoWorkers.seconds, 1)} s   ${f(real.twoWorkers.tilesPerSecond, 1)} tiles/s   ${f(real.twoWorkers.vsInProcess, 3)}× (${f(real.twoWorkers.vsOne, 3)}× of 1 worker)`,
        );
        console.log(
          `    queue + store overhead  ${f(real.overhead.msPerTile, 2)} ms/tile (${f(real.overhead.shareOfInProcess * 100, 1)} % of the in-process time; the scores equal in-process tile for tile)`,
        );
      }
      console.log(
        `  5 M tiles on 20 hosts at ${f(hostRate, 1)} tiles/s each (${real ? 'measured: 1 worker, real model' : 'assumed, --host-rate'}): the store must take ${f(demand)} tiles/s${engineRate !== undefined ? `, the engine took ${f(engineRate)} at best and one imagery host's bucket ${f(bucketRate!)}` : ''} → about ${f(projectionHours, 1)} h, bound by ${result.projection.bound}`,
      );
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }

    const engine = parts.has('engine') ? await engineRuns() : undefined;
    const real = parts.has('real')
      ? await realModelRuns({
          url: pg.url,
          dir: join(dir, 'real'),
          side: Number(values['real-side']),
          chunkTiles: Number(values['real-chunk']),
          batch,
          log: (m) => process.stderr.write(`cluster bench: ${m}\n`),
        })
      : undefined;
    report(engine, real);
  } finally {
    await Promise.all(children.map(stop));
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`cluster bench: ${err.stack ?? err.message}`);
  process.exit(1);
});
