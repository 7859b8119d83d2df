/**
 * Scoring benchmark on the demo world's new region (build it first: `npx tsx scripts/demo.ts --prepare-only`).
 *
 *   npx tsx scripts/bench/scoring.ts [--db data/tilelens.db] [--world data/demo] [--batch 16]
 *
 * 1. Throughput: tiles per second end to end (fetch, decode, predict, pool, project, vectorise, store)
 *    through the job runner, against the model's bare inference rate on the same tiles in the same process
 *    (only `predict` timed); the ratio is the pipeline's overhead.
 * 2. Effort: the region's truth is known (tiles.ndjson, gtFraction > 0 = holds buildings), so: the share
 *    of tiles volunteers can skip while still seeing 95 % and 99 % of the building tiles, sending tiles in
 *    priority order, in building_prob order (the prediction alone), and in random order.
 * The stored run is copied into a temporary database first: the benchmark never writes to the demo's.
 */
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { copyDatabase, openDatabase } from '../../server/lib/db/client.ts';
import { getModel, listRuns } from '../../server/lib/db/analysis-repo.ts';
import { bboxPolygon, tileRangeBBox, taskId, type TileCoord } from '../../server/lib/geo/tiles.ts';
import { decodeTileImage } from '../../server/lib/imagery/decode.ts';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { defaultDbPath, demoWorldDir } from '../../server/lib/paths.ts';
import { tilesCoveringArea } from '../../server/lib/projects/tile-grid.ts';
import { skippedAtRecall, type RecallOrder, type TruthTile } from '../../server/lib/scoring/effort.ts';
import { closeImagerySources, registerImagery } from '../../server/lib/scoring/imagery-registry.ts';
import { disposeScoringModels, startScoring, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { createProject } from '../../server/lib/scoring/projects.ts';
import { iterateScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { collect } from '../../tests/fixtures/collect.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: defaultDbPath },
    world: { type: 'string', default: demoWorldDir },
    batch: { type: 'string', default: '16' },
  },
});
const batchSize = Number(values.batch);
const worldDir = values.world;
const imageryPath = join(worldDir, 'imagery.pmtiles');
if (!existsSync(values.db) || !existsSync(imageryPath)) {
  console.error(
    `bench/scoring: needs the demo world and its analysis (${values.db}, ${imageryPath}); run \`npx tsx scripts/demo.ts --prepare-only\` first`,
  );
  process.exit(2);
}

const world = JSON.parse(readFileSync(join(worldDir, 'world.json'), 'utf8')) as {
  regions: { new: { tiles: { minX: number; maxX: number; minY: number; maxY: number } } };
};
const t = world.regions.new.tiles;
const area = bboxPolygon(tileRangeBBox(18, t));

const tmp = mkdtempSync(join(tmpdir(), 'tilelens-bench-scoring-'));
const dbPath = join(tmp, 'bench.db');
await copyDatabase(values.db, dbPath);
const db = await openDatabase(dbPath);
const ctx = { db, dataDir: join(tmp, 'data') };

try {
  const run = (await listRuns(db, { limit: 1 }))[0];
  if (!run)
    throw new Error(
      `${values.db} holds no analysis run; run \`npx tsx scripts/demo.ts --prepare-only\` first`,
    );
  const imagery = await registerImagery(ctx, {
    name: 'demo world',
    spec: { kind: 'pmtiles', path: imageryPath },
  });
  const project = await createProject(ctx, {
    name: 'bench: new region',
    area,
    imageryId: imagery.id,
    runId: run.id,
  });

  // ── end to end, through the job runner ──
  const t0 = performance.now();
  const job = await waitForJob(ctx, (await startScoring(ctx, project.id, { batchSize })).id);
  const endToEndS = (performance.now() - t0) / 1000;
  if (job.status !== 'done') throw new Error(`the scoring job ended ${job.status}: ${job.error ?? ''}`);

  // ── bare inference on the same tiles: decode untimed, predict timed ──
  const modelRow = await getModel(db, run.modelId);
  if (!modelRow) throw new Error(`bench/scoring: model ${run.modelId} of run ${run.id} is not registered`);
  const { path: modelPath, layer } = modelRow;
  const model = await loadModel(modelPath, { layer });
  const source = await createImagerySource({ kind: 'pmtiles', path: imageryPath });
  let predictS = 0;
  let inferred = 0;
  const tiles: TileCoord[] = [...tilesCoveringArea({ polygons: [area] }, 18)];
  for (let i = 0; i < tiles.length; i += batchSize) {
    const chunk = tiles.slice(i, i + batchSize);
    const decoded = [];
    for (const tile of chunk) {
      const got = await source.getTile(tile.z, tile.x, tile.y);
      if (got.status === 'ok') decoded.push((await decodeTileImage(got.bytes)).data);
    }
    const batch = new Uint8Array(decoded.length * 256 * 256 * 3);
    decoded.forEach((d, j) => batch.set(d, j * 256 * 256 * 3));
    const p0 = performance.now();
    if (decoded.length > 0) await model.predict(batch, decoded.length, [256, 256]);
    predictS += (performance.now() - p0) / 1000;
    inferred += decoded.length;
  }
  await source.close();
  await model.dispose();

  // ── effort against the known truth ──
  const truth = new Map<string, boolean>();
  const lines = createInterface({ input: createReadStream(join(worldDir, 'tiles.ndjson')) });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { z: number; x: number; y: number; region: string; gtFraction: number };
    if (r.region === 'new') truth.set(taskId(r.z, r.x, r.y), r.gtFraction > 0);
  }
  const truthTiles = async function* (): AsyncGenerator<TruthTile> {
    for await (const tile of iterateScoredTiles(ctx, project.id)) {
      yield {
        priority: tile.priority,
        buildingProb: tile.buildingProb,
        holdsBuilding: truth.get(tile.taskId) ?? false,
      };
    }
  };
  // A fixed hash of the position, so "random" is the same order on every run.
  const random: RecallOrder = (() => {
    let i = 0;
    return () => ((Math.imul(++i, 2654435761) >>> 0) % 10_000) / 10_000;
  })();
  const orders: Array<[string, () => RecallOrder]> = [
    ['priority', () => 'priority'],
    ['building_prob', () => 'buildingProb'],
    ['random', () => random],
  ];
  const effort: Record<string, { skip95: number; skip99: number }> = {};
  for (const [name, order] of orders) {
    effort[name] = {
      skip95: (await skippedAtRecall(truthTiles(), 0.95, order())).skippedShare,
      skip99: (await skippedAtRecall(truthTiles(), 0.99, order())).skippedShare,
    };
  }
  const buildingTiles = (await collect(truthTiles())).filter((x) => x.holdsBuilding).length;

  const endToEnd = job.done / endToEndS;
  const bare = inferred / predictS;
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`.padStart(8);
  console.log(
    `scoring bench — demo world new region: ${job.done} tiles, ${buildingTiles} hold buildings, batch ${batchSize}, run ${run.id}`,
  );
  console.log(
    `  end to end (job runner, incl. model load)  ${endToEnd.toFixed(1).padStart(7)} tiles/s  (${endToEndS.toFixed(2)} s)`,
  );
  console.log(
    `  bare inference (predict only)              ${bare.toFixed(1).padStart(7)} tiles/s  (${predictS.toFixed(2)} s)`,
  );
  console.log(`  overhead ratio (bare / end to end)         ${(bare / endToEnd).toFixed(2).padStart(7)}×`);
  console.log('  share of tiles skipped   at 95 % recall   at 99 % recall');
  for (const [name] of orders)
    console.log(`    ${name.padEnd(20)} ${pct(effort[name].skip95)}         ${pct(effort[name].skip99)}`);
  console.log(
    JSON.stringify({
      bench: 'scoring',
      tiles: job.done,
      buildingTiles,
      batchSize,
      endToEndTilesPerS: Number(endToEnd.toFixed(2)),
      bareInferenceTilesPerS: Number(bare.toFixed(2)),
      overheadRatio: Number((bare / endToEnd).toFixed(3)),
      skippedShare: Object.fromEntries(
        Object.entries(effort).map(([k, v]) => [
          k,
          { recall95: Number(v.skip95.toFixed(4)), recall99: Number(v.skip99.toFixed(4)) },
        ]),
      ),
    }),
  );
} finally {
  await closeImagerySources(ctx);
  await disposeScoringModels();
  await db.close();
  rmSync(tmp, { recursive: true, force: true });
}
