/**
 * Fault benchmark: the demo world's new region scored through an XYZ tile server on loopback that fails
 * 30 % of requests — 500s, HTML "rate limited" pages with status 200, JPEGs cut short, and stalls (headers,
 * a few bytes, then nothing) — against the same region through the same server without faults.
 * Build the world first: `npx tsx scripts/demo.ts --prepare-only`.
 *
 *   npx tsx scripts/bench/faults.ts [--db data/tilelens.db] [--world data/demo] [--rate 0.3] [--timeout-ms 3000]
 *
 * Prints: tiles scored, tiles failed with their reasons, tiles without a row (must be 0), scores equal to
 * the clean run, the duration against the clean run's (target ≤ 3×), and, after "retry failed" with the
 * faults gone, the failed count (must be 0). The stored run is copied into a temporary database first.
 * Faults are drawn per request from a seeded generator, so a tile can fail on its retries too.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listRuns } from '../../server/lib/db/analysis-repo.ts';
import { copyDatabase, openDatabase } from '../../server/lib/db/client.ts';
import { iterateTileScores } from '../../server/lib/db/tile-scores-repo.ts';
import { bboxPolygon, tileRangeBBox } from '../../server/lib/geo/tiles.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';
import { openPMTilesSource } from '../../server/lib/imagery/pmtiles-source.ts';
import { DEFAULT_HOST_CONCURRENCY } from '../../server/lib/imagery/source.ts';
import type { XyzSource } from '../../server/lib/imagery/xyz-source.ts';
import { defaultDbPath, demoWorldDir } from '../../server/lib/paths.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import {
  closeImagerySources,
  getImagerySource,
  registerImagery,
} from '../../server/lib/scoring/imagery-registry.ts';
import {
  disposeScoringModels,
  startScoring,
  waitForJob,
  type JobRow,
} from '../../server/lib/scoring/jobs.ts';
import { createProject } from '../../server/lib/scoring/projects.ts';
import { countScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: defaultDbPath },
    world: { type: 'string', default: demoWorldDir },
    rate: { type: 'string', default: '0.3' },
    'timeout-ms': { type: 'string', default: '3000' },
    batch: { type: 'string', default: '16' },
  },
});
const rate = Number(values.rate);
const timeoutMs = Number(values['timeout-ms']);
const batchSize = Number(values.batch);
const imageryPath = join(values.world, 'imagery.pmtiles');
if (!existsSync(values.db) || !existsSync(imageryPath)) {
  console.error(
    `bench/faults: needs the demo world and its analysis (${values.db}, ${imageryPath}); run \`npx tsx scripts/demo.ts --prepare-only\` first`,
  );
  process.exit(2);
}

type Fault = 'http-500' | 'html-200' | 'truncated-jpeg' | 'stall';
const FAULTS: Fault[] = ['http-500', 'html-200', 'truncated-jpeg', 'stall'];

/** The tile server: the world's archive over HTTP, failing a share of requests while `faultRate` > 0. */
const archive = await openPMTilesSource({ kind: 'pmtiles', path: imageryPath });
let faultRate = 0;
let seed = 20260611;
const draw = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const injected: Record<Fault, number> = { 'http-500': 0, 'html-200': 0, 'truncated-jpeg': 0, stall: 0 };
let served = 0;
const stalled = new Set<ServerResponse>();

const server = createServer(async (req, res) => {
  served++;
  const m = /^\/(\d+)\/(\d+)\/(\d+)\.jpg$/.exec(req.url ?? '');
  if (!m) return void res.writeHead(404).end();
  const tile = await archive.getTile(Number(m[1]), Number(m[2]), Number(m[3]));
  if (tile.status !== 'ok') return void res.writeHead(404).end();
  const bytes = Buffer.from(tile.bytes);
  if (draw() < faultRate) {
    const fault = FAULTS[Math.floor(draw() * FAULTS.length)];
    injected[fault]++;
    switch (fault) {
      case 'http-500':
        return void res.writeHead(500).end('internal error');
      case 'html-200':
        return void res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<html><body><h1>Rate limited</h1>Try again later.</body></html>');
      case 'truncated-jpeg':
        // A complete answer (its length declared) whose JPEG stops half-way: it starts FF D8 FF all the same.
        return void res
          .writeHead(200, { 'content-type': 'image/jpeg' })
          .end(bytes.subarray(0, bytes.length >> 1));
      case 'stall':
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bytes.length });
        res.write(bytes.subarray(0, 64));
        stalled.add(res);
        res.on('close', () => stalled.delete(res));
        return;
    }
  }
  res.writeHead(200, { 'content-type': 'image/jpeg' }).end(bytes);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;

const world = JSON.parse(readFileSync(join(values.world, 'world.json'), 'utf8')) as {
  regions: { new: { tiles: { minX: number; maxX: number; minY: number; maxY: number } } };
};
const area = bboxPolygon(tileRangeBBox(18, world.regions.new.tiles, 0.01));

const tmp = mkdtempSync(join(tmpdir(), 'tilelens-bench-faults-'));
const dbPath = join(tmp, 'bench.db');
await copyDatabase(values.db, dbPath);
const db = await openDatabase(dbPath);
// The tile server is on loopback: the allow-list names it, exactly as a manager's setting would.
const ctx: ScoringContext = {
  db,
  dataDir: join(tmp, 'data'),
  outbound: OutboundPolicy.fromSetting('127.0.0.1'),
  imageryConcurrency: DEFAULT_HOST_CONCURRENCY,
};

/** A project over the region on fresh imagery (its own cache folder), scored to the end. */
async function scoreThroughServer(name: string, runId: number) {
  const imagery = await registerImagery(ctx, {
    name,
    spec: { kind: 'xyz', url: `http://127.0.0.1:${port}/{z}/{x}/{y}.jpg`, timeoutMs, retries: 3 },
  });
  const project = await createProject(ctx, { name, area, imageryId: imagery.id, runId });
  const t0 = performance.now();
  const job = await waitForJob(ctx, (await startScoring(ctx, project.id, { batchSize })).id);
  const seconds = (performance.now() - t0) / 1000;
  if (job.status !== 'done') throw new Error(`${name}: the job ended ${job.status}: ${job.error ?? ''}`);
  const source = (await getImagerySource(ctx, imagery.id)) as XyzSource;
  return { project, job, seconds, stats: { ...source.stats } };
}

async function priorities(
  projectId: number,
): Promise<Map<string, { status: string; priority: number; error: string | null }>> {
  const out = new Map();
  for await (const r of iterateTileScores(db, projectId))
    out.set(r.taskId, { status: r.status, priority: r.priority, error: r.error });
  return out;
}

/** The reason of a failed tile, by the words the source uses for each kind of failure. */
function reasonKind(error: string | null): string {
  if (!error) return 'unknown';
  if (/did not answer/.test(error)) return 'stall (timeout)';
  if (/: 5\d\d/.test(error)) return 'HTTP 5xx';
  if (/HTML page/.test(error)) return 'HTML instead of an image';
  if (/damaged or cut short/.test(error)) return 'truncated image';
  if (/network error/.test(error)) return 'network error';
  return 'other';
}

try {
  const run = (await listRuns(db, { limit: 1 }))[0];
  if (!run)
    throw new Error(
      `${values.db} holds no analysis run; run \`npx tsx scripts/demo.ts --prepare-only\` first`,
    );
  // Load the model once before timing anything: both runs then pay the same.
  const warm = await createProject(ctx, {
    name: 'warm-up',
    area: bboxPolygon(
      tileRangeBBox(
        18,
        {
          ...world.regions.new.tiles,
          maxX: world.regions.new.tiles.minX,
          maxY: world.regions.new.tiles.minY,
        },
        0.01,
      ),
    ),
    imageryId: (await registerImagery(ctx, { name: 'warm-up', spec: { kind: 'pmtiles', path: imageryPath } }))
      .id,
    runId: run.id,
  });
  await waitForJob(ctx, (await startScoring(ctx, warm.id)).id);

  faultRate = 0;
  const clean = await scoreThroughServer('clean', run.id);
  const cleanScores = await priorities(clean.project.id);

  faultRate = rate;
  served = 0;
  const faulty = await scoreThroughServer('faulty', run.id);
  const faultyServed = served;
  const faultyScores = await priorities(faulty.project.id);
  const counts = await countScoredTiles(ctx, faulty.project.id);
  const withoutRow = faulty.project.tileCount - counts.total;
  const reasons: Record<string, number> = {};
  let equal = 0;
  let compared = 0;
  let maxDiff = 0;
  for (const [id, t] of faultyScores) {
    if (t.status !== 'scored') {
      const kind = reasonKind(t.error);
      reasons[kind] = (reasons[kind] ?? 0) + 1;
      continue;
    }
    const c = cleanScores.get(id);
    if (!c || c.status !== 'scored') continue;
    compared++;
    const d = Math.abs(c.priority - t.priority);
    maxDiff = Math.max(maxDiff, d);
    if (d <= 1e-6) equal++;
  }
  const failed = counts.failed + counts.undecodable;

  // Faults gone: retry what failed.
  faultRate = 0;
  for (const res of stalled) res.destroy();
  let retry: { job: JobRow | null; seconds: number } = { job: null, seconds: 0 };
  if (failed > 0) {
    const t0 = performance.now();
    const job = await waitForJob(
      ctx,
      (await startScoring(ctx, faulty.project.id, { batchSize, retryFailed: true })).id,
    );
    retry = { job, seconds: (performance.now() - t0) / 1000 };
  }
  const after = await countScoredTiles(ctx, faulty.project.id);
  let equalAfter = 0;
  for (const [id, t] of await priorities(faulty.project.id)) {
    const c = cleanScores.get(id);
    if (c && t.status === 'scored' && Math.abs(c.priority - t.priority) <= 1e-6) equalAfter++;
  }

  const ratio = faulty.seconds / clean.seconds;
  const n = faulty.project.tileCount;
  console.log(
    `fault bench — demo world new region: ${n} tiles through a loopback tile server, ${(rate * 100).toFixed(0)} % of requests failing; ` +
      `timeout ${timeoutMs} ms, 3 retries, ${DEFAULT_HOST_CONCURRENCY} requests in flight, batch ${batchSize}`,
  );
  console.log(
    `  clean run        ${clean.seconds.toFixed(1).padStart(6)} s   ${clean.stats.requests} requests, ${counts.total} rows`,
  );
  console.log(
    `  faulty run       ${faulty.seconds.toFixed(1).padStart(6)} s   ${faulty.stats.requests} requests (${faulty.stats.retries} retries); ` +
      `faults injected: ${FAULTS.map((f) => `${f} ${injected[f]}`).join(', ')} of ${faultyServed} answers`,
  );
  console.log(`  duration vs clean  ${ratio.toFixed(2)}×   (target ≤ 3×)`);
  console.log(`  tiles scored       ${counts.scored} of ${n}; failed ${failed}; without a row ${withoutRow}`);
  for (const [kind, k] of Object.entries(reasons)) console.log(`    failed: ${kind.padEnd(26)} ${k}`);
  console.log(
    `  scores equal to the clean run  ${equal} of ${compared} scored tiles (max |Δ priority| ${maxDiff.toExponential(1)})`,
  );
  console.log(
    `  after "retry failed" (faults gone): ${retry.job ? `${retry.job.done} retried in ${retry.seconds.toFixed(1)} s, ` : 'nothing to retry, '}` +
      `failed ${after.failed + after.undecodable}, scored ${after.scored} of ${n}, equal to clean ${equalAfter}`,
  );
  console.log(
    JSON.stringify({
      bench: 'faults',
      tiles: n,
      faultRate: rate,
      timeoutMs,
      concurrency: DEFAULT_HOST_CONCURRENCY,
      injected,
      cleanSeconds: Number(clean.seconds.toFixed(2)),
      faultySeconds: Number(faulty.seconds.toFixed(2)),
      durationRatio: Number(ratio.toFixed(3)),
      scored: counts.scored,
      failed,
      failedByReason: reasons,
      withoutRow,
      scoresEqualToClean: equal,
      scoresCompared: compared,
      maxPriorityDiff: maxDiff,
      retry: {
        retried: retry.job?.done ?? 0,
        seconds: Number(retry.seconds.toFixed(2)),
        failedAfter: after.failed + after.undecodable,
        scoredAfter: after.scored,
        equalToCleanAfter: equalAfter,
      },
    }),
  );
  if (withoutRow !== 0 || after.failed + after.undecodable !== 0) process.exitCode = 1;
} finally {
  for (const res of stalled) res.destroy();
  server.closeAllConnections();
  server.close();
  await archive.close();
  await closeImagerySources(ctx);
  await disposeScoringModels();
  ctx.outbound?.close();
  await db.close();
  rmSync(tmp, { recursive: true, force: true });
}
