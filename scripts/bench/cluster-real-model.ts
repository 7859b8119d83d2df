/**
 * The cluster benchmark's real-model part: a project of side² z18 tiles whose imagery is the demo world's new
 * region served again over a larger area — a tile server on loopback, in a process of its own
 * (`repeating-tile-server.ts`), that answers z/x/y with the region's tile at x, y modulo its extent — scored by
 * the demo model three ways on the same shared store:
 *   1. in process (the embedded runner's path, `jobs.ts`, on a context without the queue), the baseline;
 *   2. through the queue by 1 `tilelens worker` process;
 *   3. the same by 2 worker processes.
 * Each run must end with every tile scored and none failed, and the queue's scores must equal the in-process ones
 * tile for tile (the same look, the same model). The worker processes load the model on an untimed warm-up
 * project first, as this process does, so the timings hold scoring alone. Every fetch takes a token of the
 * imagery host's rate limit (the store's shared bucket for the workers, this process's for the baseline), at a
 * rate far above what is asked: the limit's cost is measured, its waits are not.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bboxPolygon, tileRangeBBox } from '../../server/lib/geo/tiles.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';
import { InProcessHostRateLimiter, parseHostRates } from '../../server/lib/queue/host-rate-limit.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { registerImagery } from '../../server/lib/scoring/imagery-registry.ts';
import { startScoring, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { iterateScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { createProject, type ProjectRow } from '../../server/lib/scoring/projects.ts';
import {
  queuedScoringWorld,
  spawnWorker,
  type QueuedScoringWorld,
  type WorkerProcess,
} from '../../tests/fixtures/queued-scoring.ts';
import { startRepeatingTileServer } from './repeating-tile-server.ts';

/** Far above any rate asked here: every fetch takes its token, none waits. */
const UNBINDING_RATE = '1000000/1000000';

export interface RealModelRun {
  seconds: number;
  tilesPerSecond: number;
}

export interface RealModelResult {
  tiles: number;
  chunkTiles: number;
  batch: number;
  region: { width: number; height: number };
  inProcess: RealModelRun;
  oneWorker: RealModelRun & { vsInProcess: number };
  twoWorkers: RealModelRun & { vsInProcess: number; vsOne: number };
  /** What the queue and the store add per tile, from the 1-worker run against the in-process one. */
  overhead: { msPerTile: number; shareOfInProcess: number };
}

/** A project's scores by place within it (what a run decides from the imagery, not where the project lies). */
async function relativeScores(w: QueuedScoringWorld, projectId: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let minX = Infinity;
  let minY = Infinity;
  const rows = [];
  for await (const t of iterateScoredTiles(w.ctx, projectId)) {
    minX = Math.min(minX, t.x);
    minY = Math.min(minY, t.y);
    rows.push([
      t.x,
      t.y,
      t.status,
      t.buildingProb,
      t.predFraction,
      t.iouHat,
      t.novelty,
      t.priority,
      t.tier,
    ] as const);
  }
  for (const [x, y, ...scores] of rows) out.set(`${x - minX}/${y - minY}`, JSON.stringify(scores));
  return out;
}

export async function realModelRuns(options: {
  url: string;
  dir: string;
  side: number;
  chunkTiles: number;
  batch: number;
  log: (msg: string) => void;
}): Promise<RealModelResult> {
  const { url, dir, side, chunkTiles, batch, log } = options;
  log('real model: the demo world and its reference analysis into the store');
  const w = await queuedScoringWorld(url);
  const workers: WorkerProcess[] = [];
  let tiles: { stop(): Promise<void> } | undefined;
  try {
    const region = w.world.regions.new.tiles;
    const served = await startRepeatingTileServer(join(w.dir, 'world', 'imagery.pmtiles'), {
      minX: region.minX,
      minY: region.minY,
      width: region.maxX - region.minX + 1,
      height: region.maxY - region.minY + 1,
    });
    tiles = served;
    const outbound = OutboundPolicy.fromSetting('127.0.0.1');
    // The baseline: the embedded runner's path, with this process's buckets.
    const inProcessCtx: ScoringContext = {
      db: w.ctx.db,
      dataDir: join(dir, 'in-process'),
      outbound,
      imageryRates: new InProcessHostRateLimiter(parseHostRates(UNBINDING_RATE)),
    };
    // The sender of the queued jobs: the store's shared buckets, as a server on the shared store has.
    const queueCtx: ScoringContext = {
      ...w.ctx,
      outbound,
      imageryRates: w.store.imageryRates,
      queueOptions: { chunkTiles, policy: { leaseSeconds: 3600 } },
    };
    const imagery = await registerImagery(inProcessCtx, {
      name: 'demo region, repeated',
      spec: { kind: 'xyz', url: `http://127.0.0.1:${served.port}/{z}/{x}/{y}`, minZoom: 18, maxZoom: 18 },
    });
    const r = w.world.regions.new.tiles;
    const width = r.maxX - r.minX + 1;
    let projects = 0;
    const project = async (name: string, n: number): Promise<ProjectRow> => {
      // Each project its own block of the grid, so no cache or stored row of another run serves it; a whole
      // number of region widths apart, so every project's tile at the same place shows the same imagery.
      const minX = r.minX + width * Math.ceil(4096 / width) * ++projects;
      const area = bboxPolygon(
        tileRangeBBox(18, { minX, minY: r.minY, maxX: minX + n - 1, maxY: r.minY + n - 1 }, 0.01),
      );
      const p = await createProject(inProcessCtx, { name, area, imageryId: imagery.id, runId: w.runId });
      if (p.tileCount !== n * n) throw new Error(`${name}: ${p.tileCount} tiles, expected ${n * n}`);
      return p;
    };
    const score = async (ctx: ScoringContext, p: ProjectRow): Promise<number> => {
      const t = performance.now();
      const job = await startScoring(ctx, p.id, { batchSize: batch });
      const done = await waitForJob(ctx, job.id);
      const ms = performance.now() - t;
      if (done.status !== 'done' || done.done !== p.tileCount || done.failed !== 0) {
        throw new Error(
          `${p.name}: ${done.status}, ${done.done} done and ${done.failed} failed of ${p.tileCount}`,
        );
      }
      return ms;
    };
    const workersEnv = (name: string) => ({
      TILELENS_IMAGERY_ALLOW_HOSTS: '127.0.0.1',
      TILELENS_IMAGERY_RATE: UNBINDING_RATE,
      TILELENS_DATA_DIR: join(dir, `worker-${name}`),
    });

    // Warm-up, untimed: the model loaded here.
    await score(inProcessCtx, await project('warm-up, in process', 4));
    log(`real model: in process, ${side}² tiles`);
    const baseline = await project('in process', side);
    const inProcessMs = await score(inProcessCtx, baseline);
    // Each run's figure as it ends, so a long run that is stopped early still tells what it measured.
    const said = (what: string, ms: number) =>
      log(
        `real model: ${what}: ${(ms / 1000).toFixed(1)} s, ${((side * side) / (ms / 1000)).toFixed(1)} tiles/s`,
      );
    said('in process', inProcessMs);
    const reference = await relativeScores(w, baseline.id);

    const queued = async (count: number): Promise<number> => {
      const started = Array.from({ length: count }, (_, i) => {
        const name = `${count}-${i}`;
        mkdirSync(join(dir, `worker-${name}`), { recursive: true });
        return spawnWorker(url, ['--name', name], workersEnv(name));
      });
      workers.push(...started);
      await Promise.all(started.map((p) => p.ready));
      // Warm-up, untimed: each worker loads the model on a chunk of its own.
      await score(
        { ...queueCtx, queueOptions: { ...queueCtx.queueOptions, chunkTiles: 4 } },
        await project(`warm-up, ${count} workers`, 2 * count),
      );
      log(`real model: ${count} worker${count > 1 ? 's' : ''}, ${side}² tiles`);
      const p = await project(`${count} workers`, side);
      const ms = await score(queueCtx, p);
      const scores = await relativeScores(w, p.id);
      const differ = [...reference].filter(([at, s]) => scores.get(at) !== s);
      if (scores.size !== reference.size || differ.length) {
        throw new Error(
          `${count} workers: ${differ.length} of ${reference.size} tiles scored otherwise than in process`,
        );
      }
      for (const s of started) {
        s.child.kill('SIGTERM');
        await s.exited;
      }
      return ms;
    };
    const oneMs = await queued(1);
    said('1 worker', oneMs);
    const twoMs = await queued(2);
    said('2 workers', twoMs);
    const n = side * side;
    const run = (ms: number): RealModelRun => ({ seconds: ms / 1000, tilesPerSecond: n / (ms / 1000) });
    return {
      tiles: n,
      chunkTiles,
      batch,
      region: { width: r.maxX - r.minX + 1, height: r.maxY - r.minY + 1 },
      inProcess: run(inProcessMs),
      oneWorker: { ...run(oneMs), vsInProcess: oneMs / inProcessMs },
      twoWorkers: { ...run(twoMs), vsInProcess: twoMs / inProcessMs, vsOne: twoMs / oneMs },
      overhead: { msPerTile: (oneMs - inProcessMs) / n, shareOfInProcess: oneMs / inProcessMs - 1 },
    };
  } finally {
    for (const p of workers) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    await tiles?.stop();
    await w.close();
  }
}
