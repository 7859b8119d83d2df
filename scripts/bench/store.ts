/**
 * The stores: today's SQLite (better-sqlite3, through the repositories the server uses) against PGlite
 * (Postgres compiled to WebAssembly, server/lib/db/pglite-store.ts) and against a Postgres server (a local one
 * on 127.0.0.1, through the same repositories as SQLite: `openDatabase(url)`), on the operations that matter:
 *   1. opening and migrating an empty store (every table of the schema);
 *   2. bulk tile-score writes: ≥ 50,000 rows with every `tile_scores` column, in a job's batches (16 tiles) and
 *      in large ones (512), then the first 5,000 written again — idempotent on project + z/x/y, so 0 rows;
 *   3. the latent view's column read: one run of 1,000,000 patches scanned in idx order, as
 *      `runPatchRows` (server/lib/db/latent-repo.ts) does it;
 *   4. overlay tile queries: the scored tiles of one project in a z/x/y box, as the overlay route asks
 *      (a z14 map tile = 16 × 16 z18 tiles; a z10 one = the whole 224 × 224 project).
 * SQLite is the baseline: each line prints the absolute figures and PGlite's and Postgres's times as multiples
 * of SQLite's, measured in the same process on the same rows. Every store lives under one temporary folder; the
 * Postgres column is left empty (with the reason) where Debian's Postgres is not installed
 * (`scripts/setup.sh --postgres`).
 *
 *   npx tsx scripts/bench/store.ts [--side 224] [--patches 1000000] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getDataset, getModel, getRun } from '../../server/lib/db/analysis-repo.ts';
import { chmodSync } from 'node:fs';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { startLocalPostgres, type LocalPostgres } from '../../server/lib/db/local-postgres.ts';
import { getImagery } from '../../server/lib/db/imagery-repo.ts';
import { runPatchRows } from '../../server/lib/db/latent-repo.ts';
import {
  countProjectTilesPg,
  insertPatchesPg,
  insertRowsPg,
  insertTileScoresPg,
  openPgliteStore,
  overlayCellsPg,
  runPatchRowsPg,
  type PgliteStore,
} from '../../server/lib/db/pglite-store.ts';
import { getProject } from '../../server/lib/db/projects-repo.ts';
import * as schema from '../../server/lib/db/schema.ts';
import type { NewTileScore } from '../../server/lib/db/schema.ts';
import {
  countProjectTiles,
  insertTileScores,
  iterateOverlayCells,
  type TileRange,
} from '../../server/lib/db/tile-scores-repo.ts';
import { tileToQuadkey } from '../../server/lib/geo/tiles.ts';
import { samplePatches } from '../../tests/fixtures/db-sample-run.ts';
import { createSyntheticProject } from '../../tests/fixtures/synthetic-project.ts';

const { values } = parseArgs({
  options: {
    side: { type: 'string', default: '224' },
    patches: { type: 'string', default: '1000000' },
    json: { type: 'boolean', default: false },
  },
});
const side = Number(values.side);
const patchCount = Number(values.patches);
if (!(side >= 16) || !(patchCount >= 1)) {
  console.error('bench/store: --side must be ≥ 16 and --patches ≥ 1');
  process.exit(2);
}

const load = loadavg()[0];
const tmp = mkdtempSync(join(tmpdir(), 'tilelens-bench-store-'));
const now = () => performance.now();
const ms = (t0: number) => now() - t0;
const round = (v: number, digits = 1) => Number(v.toFixed(digits));

interface Line {
  operation: string;
  sqlite: number;
  pglite: number;
  /** Null when no Postgres server could be started here. */
  postgres: number | null;
  unit: string;
  /** PGlite's time as a multiple of SQLite's (> 1: slower). */
  ratio: number;
  /** Postgres's time as a multiple of SQLite's. */
  postgresRatio: number | null;
}
const lines: Line[] = [];
function record(
  operation: string,
  sqliteMs: number,
  pgliteMs: number,
  postgresMs: number | null,
  unit = 'ms',
  per = 1,
) {
  lines.push({
    operation,
    sqlite: round(sqliteMs / per, 3),
    pglite: round(pgliteMs / per, 3),
    postgres: postgresMs === null ? null : round(postgresMs / per, 3),
    unit,
    ratio: round(pgliteMs / sqliteMs, 2),
    postgresRatio: postgresMs === null ? null : round(postgresMs / sqliteMs, 2),
  });
}

/** A local Postgres server under the temporary folder, or why there is none. */
let server: LocalPostgres | undefined;
let noPostgres: string | undefined;
try {
  chmodSync(tmp, 0o755); // run as root, the server runs as the `postgres` user
  server = await startLocalPostgres({ folder: join(tmp, 'postgres') });
} catch (error) {
  noPostgres = (error as Error).message;
}
let databases = 0;
/** A fresh database on the server: its URL. */
const freshDatabase = () => server!.createDatabase(`bench_${++databases}`);
/** Times `fn` on the Postgres handle; null without a server. */
async function onPostgres(fn: () => Promise<unknown>): Promise<number | null> {
  if (!server) return null;
  const t0 = now();
  await fn();
  return ms(t0);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const check = (ok: boolean, what: string) => {
  if (!ok) {
    console.error(`bench/store: ${what}`);
    process.exit(1);
  }
};

try {
  // ── 1. open + migrate an empty store ────────────────────────────────────────────────────────────────
  const openSqlite: number[] = [];
  const openPglite: number[] = [];
  const openPostgres: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (server) {
      const url = await freshDatabase();
      const t0 = now();
      const h = await openDatabase(url);
      openPostgres.push(ms(t0));
      await h.close();
    }
    let t0 = now();
    const h = await openDatabase(join(tmp, `empty-${i}.db`));
    openSqlite.push(ms(t0));
    await h.close();
    t0 = now();
    const s = await openPgliteStore(join(tmp, `empty-${i}.pg`));
    openPglite.push(ms(t0));
    await s.close();
  }
  record(
    'open + migrate an empty store (median of 3)',
    median(openSqlite),
    median(openPglite),
    server ? median(openPostgres) : null,
  );

  // ── the same project and run in both stores ─────────────────────────────────────────────────────────
  const sqliteHandle = await openDatabase(join(tmp, 'store.db'));
  let t0 = now();
  const synthetic = await createSyntheticProject(sqliteHandle, {
    side: 1,
    runPatches: patchCount,
    latentColumns: 'lazy',
  });
  const sqlitePatchWriteMs = ms(t0);
  // The same project and run through the same repositories: the fixture derives every value from the index.
  let pgHandle: DatabaseHandle | undefined;
  if (server) pgHandle = await openDatabase(await freshDatabase());
  let pgSynthetic: Awaited<ReturnType<typeof createSyntheticProject>> | undefined;
  const postgresPatchWriteMs = await onPostgres(async () => {
    pgSynthetic = await createSyntheticProject(pgHandle!, {
      side: 1,
      runPatches: patchCount,
      latentColumns: 'lazy',
    });
  });
  if (pgSynthetic) {
    check(
      pgSynthetic.projectId === synthetic.projectId && pgSynthetic.runId === synthetic.runId,
      'the Postgres store got other ids than SQLite',
    );
  }
  const pg: PgliteStore = await openPgliteStore(join(tmp, 'store.pg'));
  const run = (await getRun(sqliteHandle, synthetic.runId))!;
  const project = (await getProject(sqliteHandle, synthetic.projectId))!;
  await insertRowsPg(pg, schema.models, [(await getModel(sqliteHandle, run.modelId))!]);
  await insertRowsPg(pg, schema.datasets, [(await getDataset(sqliteHandle, run.datasetId))!]);
  await insertRowsPg(pg, schema.analysisRuns, [run]);
  await insertRowsPg(pg, schema.imagerySources, [(await getImagery(sqliteHandle, project.imageryId))!]);
  await insertRowsPg(pg, schema.projects, [project]);
  t0 = now();
  const pgPatches = await insertPatchesPg(pg, run.id, samplePatches(patchCount));
  const pgPatchWriteMs = ms(t0);
  check(pgPatches === patchCount, `PGlite wrote ${pgPatches} patches, expected ${patchCount}`);
  record(
    `write a run of ${patchCount.toLocaleString('en')} patches (one transaction)`,
    sqlitePatchWriteMs,
    pgPatchWriteMs,
    postgresPatchWriteMs,
    's',
    1000,
  );

  // ── 2. bulk tile-score writes ───────────────────────────────────────────────────────────────────────
  const origin = { x: 2 ** 17 + 4096, y: 2 ** 17 - 4096 };
  const tileRow = (k: number, i: number, j: number): NewTileScore => {
    const x = origin.x + i;
    const y = origin.y + j;
    const scored = (i * 7 + j * 3) % 23 !== 0;
    const p = ((i * 31 + j * 17 + k) % 100) / 100;
    return {
      projectId: project.id,
      z: 18,
      x,
      y,
      taskId: `18-${x}-${y}`,
      quadkey: tileToQuadkey(18, x, y),
      status: scored ? 'scored' : 'failed',
      error: scored ? null : 'imagery read failed: 503',
      attempts: scored ? 1 : 3,
      buildingProb: scored ? p : null,
      predFraction: scored ? p / 5 : null,
      iouHat: scored ? 0.4 + p / 2 : null,
      urbanDistance: scored ? 1 - p : null,
      urbanDistanceScaled: scored ? (1 - p) * 1.3 : null,
      novelty: scored ? p / 3 : null,
      noveltyRatio: scored ? p / 2 : null,
      maxProb: scored ? Math.min(1, p + 0.2) : null,
      uncertainty: scored ? p * (1 - p) : null,
      buildingProbLow: scored ? p * 0.8 : null,
      buildingProbHigh: scored ? Math.min(1, p * 1.2) : null,
      priority: p,
      tier: p > 0.6 ? 'high' : p > 0.35 ? 'medium' : p > 0.15 ? 'low' : 'skip',
      iouLow: scored ? 0.3 + p / 2 : null,
      iouHigh: scored ? 0.5 + p / 2 : null,
      pcs: scored ? Array.from({ length: 9 }, (_, c) => Math.sin(i * (c + 1) + j)) : null,
      footprints:
        scored && p > 0.5
          ? {
              type: 'MultiPolygon',
              coordinates: [
                [
                  [
                    [0.2, 0.2],
                    [0.6, 0.2],
                    [0.6, 0.5],
                    [0.2, 0.5],
                    [0.2, 0.2],
                  ],
                ],
              ],
            }
          : null,
      jobId: synthetic.jobId,
      runId: run.id,
      modelId: run.modelId,
      scoredAt: new Date(),
    };
  };
  const total = side * side;
  /** Writes the project's tiles in batches; each store gets its own pass over fresh rows (k shifts the scores). */
  async function writeAll(
    write: (rows: NewTileScore[]) => Promise<number> | number,
    batch: number,
    k: number,
    limit = total,
  ): Promise<{ msTaken: number; written: number }> {
    let written = 0;
    const start = now();
    let rows: NewTileScore[] = [];
    for (let n = 0; n < limit; n++) {
      rows.push(tileRow(k, n % side, Math.floor(n / side)));
      if (rows.length === batch) {
        written += await write(rows);
        rows = [];
      }
    }
    if (rows.length) written += await write(rows);
    return { msTaken: ms(start), written };
  }
  const sqliteWrite = async (rows: NewTileScore[]) => await insertTileScores(sqliteHandle, rows);
  const pgWrite = async (rows: NewTileScore[]) => await insertTileScoresPg(pg, rows);
  const postgresWrite = async (rows: NewTileScore[]) => await insertTileScores(pgHandle!, rows);
  // The synthetic project holds one tile at its own origin; the block written here does not overlap it.
  const before = await countProjectTiles(sqliteHandle, project.id);
  for (const batch of [16, 512]) {
    // First the job-sized batches into the empty block, then the same rows again in big batches: every
    // second write must change nothing, and is timed as the idempotent path.
    const k = batch;
    if (batch === 16) {
      const s = await writeAll(sqliteWrite, batch, k);
      const p = await writeAll(pgWrite, batch, k);
      const q = server ? await writeAll(postgresWrite, batch, k) : undefined;
      check(
        s.written === total && p.written === total && (q?.written ?? total) === total,
        `batch ${batch}: wrote ${s.written} / ${p.written} / ${q?.written}, expected ${total}`,
      );
      record(
        `write ${total.toLocaleString('en')} tile scores, batches of ${batch}`,
        s.msTaken,
        p.msTaken,
        q?.msTaken ?? null,
        'µs/tile',
        total / 1000,
      );
    } else {
      const s = await writeAll(sqliteWrite, batch, k);
      const p = await writeAll(pgWrite, batch, k);
      const q = server ? await writeAll(postgresWrite, batch, k) : undefined;
      check(
        s.written === 0 && p.written === 0 && (q?.written ?? 0) === 0,
        `rewrite: ${s.written} / ${p.written} / ${q?.written} rows changed, expected 0`,
      );
      record(
        `write the same ${total.toLocaleString('en')} again, batches of ${batch} (0 rows change)`,
        s.msTaken,
        p.msTaken,
        q?.msTaken ?? null,
        'µs/tile',
        total / 1000,
      );
    }
  }
  const sqliteCount = await countProjectTiles(sqliteHandle, project.id);
  const pgCount = await countProjectTilesPg(pg, project.id);
  const postgresCount = pgHandle ? await countProjectTiles(pgHandle, project.id) : before + total;
  check(
    sqliteCount === before + total && pgCount === total && postgresCount === before + total,
    `stored ${sqliteCount - before} / ${pgCount} / ${postgresCount - before} tiles, expected ${total}`,
  );

  // ── 3. the latent view's column read ────────────────────────────────────────────────────────────────
  let sum = 0;
  let n = 0;
  t0 = now();
  for await (const row of runPatchRows(sqliteHandle, run.id)) {
    sum += (row[0] as number) ?? 0;
    n++;
  }
  const sqliteScan = ms(t0);
  const sqliteSum = sum;
  check(n === patchCount, `SQLite scanned ${n} patches, expected ${patchCount}`);
  sum = 0;
  n = 0;
  t0 = now();
  for await (const row of runPatchRowsPg(pg, run.id)) {
    sum += (row[0] as number) ?? 0;
    n++;
  }
  const pgScan = ms(t0);
  check(n === patchCount, `PGlite scanned ${n} patches, expected ${patchCount}`);
  check(Math.abs(sum - sqliteSum) < 1e-6 * patchCount, `the two scans disagree: Σpc1 ${sqliteSum} vs ${sum}`);
  sum = 0;
  n = 0;
  const postgresScan = await onPostgres(async () => {
    for await (const row of runPatchRows(pgHandle!, run.id)) {
      sum += (row[0] as number) ?? 0;
      n++;
    }
  });
  if (server) {
    check(n === patchCount, `Postgres scanned ${n} patches, expected ${patchCount}`);
    check(
      Math.abs(sum - sqliteSum) < 1e-6 * patchCount,
      `Postgres's scan disagrees: Σpc1 ${sqliteSum} vs ${sum}`,
    );
  }
  record(
    `scan a run's ${patchCount.toLocaleString('en')} patches (latent columns)`,
    sqliteScan,
    pgScan,
    postgresScan,
    's',
    1000,
  );

  // ── 4. overlay tile queries ─────────────────────────────────────────────────────────────────────────
  async function boxes(size: number, count: number) {
    const ranges: TileRange[] = [];
    for (let q = 0; q < count; q++) {
      const i = size >= side ? 0 : (q * 37) % (side - size);
      const j = size >= side ? 0 : (q * 61) % (side - size);
      ranges.push({
        minX: origin.x + i,
        maxX: origin.x + i + size - 1,
        minY: origin.y + j,
        maxY: origin.y + j + size - 1,
      });
    }
    let cellsS = 0;
    let cellsP = 0;
    let start = now();
    for (const r of ranges)
      for await (const _ of iterateOverlayCells(sqliteHandle, project.id, 18, r)) cellsS++;
    const s = ms(start);
    start = now();
    for (const r of ranges) cellsP += (await overlayCellsPg(pg, project.id, 18, r)).length;
    const p = ms(start);
    let cellsQ = 0;
    const q = await onPostgres(async () => {
      for (const r of ranges)
        for await (const _ of iterateOverlayCells(pgHandle!, project.id, 18, r)) cellsQ++;
    });
    check(cellsS === cellsP && cellsS > 0, `overlay ${size}²: ${cellsS} vs ${cellsP} cells`);
    if (server) check(cellsQ === cellsS, `overlay ${size}² on Postgres: ${cellsQ} vs ${cellsS} cells`);
    record(`overlay query, ${size} × ${size} tiles (${count} boxes)`, s, p, q, 'ms/query', count);
  }
  await boxes(16, 400);
  await boxes(side, 10);

  await sqliteHandle.close();
  await pg.close();
  await pgHandle?.close();
} finally {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
}

const report = {
  bench: 'store',
  baseline: 'better-sqlite3 (today), same process',
  postgres: server ? `Postgres ${server.majorVersion}, local, over TCP on 127.0.0.1` : `none: ${noPostgres}`,
  loadAverage: round(load, 2),
  loadAverageEnd: round(loadavg()[0], 2),
  cores: cpus().length,
  tiles: side * side,
  patches: patchCount,
  lines,
};
if (values.json) console.log(JSON.stringify(report));
else {
  console.log(
    `store benchmark: SQLite (better-sqlite3) vs PGlite vs Postgres (${report.postgres}); load ${report.loadAverage} → ${report.loadAverageEnd} on ${report.cores} cores`,
  );
  console.log(
    `  ${'operation'.padEnd(66)} ${'SQLite'.padStart(10)} ${'PGlite'.padStart(10)} ${'Postgres'.padStart(10)}  unit       PGlite/SQLite  Postgres/SQLite`,
  );
  for (const l of lines) {
    console.log(
      `  ${l.operation.padEnd(66)} ${String(l.sqlite).padStart(10)} ${String(l.pglite).padStart(10)} ${String(l.postgres ?? '–').padStart(10)}  ${l.unit.padEnd(10)} ${`${l.ratio}×`.padEnd(14)} ${l.postgresRatio === null ? '–' : `${l.postgresRatio}×`}`,
    );
  }
  console.log(JSON.stringify(report));
}
