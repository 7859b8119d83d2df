/**
 * `npm run demo`: builds the demo world if needed, loads the committed demo U-Net, runs (or reuses) the
 * reference analysis and serves the result.
 *   npm run demo -- --port 8700         serve on 127.0.0.1:8700
 *   npm run demo -- --prepare-only      prepare, print one line of JSON, exit
 *   npm run demo -- --fresh             rebuild the world and the analysis
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateDemoWorld, WORLD_VERSION } from './demo-world/generate.ts';
import { openDatabase } from '../server/lib/db/client.ts';
import { insightKinds } from '../server/lib/db/insight-records.ts';
import { openDemoWorldDataset } from '../server/lib/datasets/demo-world.ts';
import { loadModel } from '../server/lib/model/runtime.ts';
import { analyzeDataset, type AnalysisSummary } from '../server/lib/analysis/analyze-dataset.ts';
import { stderrProgress } from '../server/lib/progress.ts';
import { runInsights } from '../server/lib/insights/run-insights.ts';
import { dataDir, defaultDbPath, demoModelPath, demoWorldDir, runsDir } from '../server/lib/paths.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8700' },
    'prepare-only': { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
    seed: { type: 'string', default: '7' },
    scale: { type: 'string', default: 'full' },
  },
});
const seed = Number(values.seed);
const scale = values.scale === 'small' ? 'small' : 'full';
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`tilelens demo: --port must be a port number, got "${values.port}"`);
  process.exit(2);
}

export interface DemoPrepared {
  world: { dir: string; tiles: number; built: boolean };
  analysis: AnalysisSummary;
  insights: { computed: boolean; coverage?: number; nominal?: number; families?: number };
  seconds: Record<string, number>;
}

function worldMatches(dir: string): boolean {
  const path = join(dir, 'world.json');
  if (!existsSync(path) || !existsSync(join(dir, 'imagery.pmtiles'))) return false;
  try {
    const world = JSON.parse(readFileSync(path, 'utf8')) as { seed: number; scale: string; version?: number };
    return world.seed === seed && world.scale === scale && world.version === WORLD_VERSION;
  } catch {
    return false;
  }
}

async function prepare(): Promise<DemoPrepared> {
  const seconds: Record<string, number> = {};
  const started = performance.now();
  if (values.fresh) {
    rmSync(demoWorldDir, { recursive: true, force: true });
    rmSync(defaultDbPath, { force: true });
    rmSync(`${defaultDbPath}-wal`, { force: true });
    rmSync(`${defaultDbPath}-shm`, { force: true });
  }
  let built = false;
  let t0 = performance.now();
  if (!worldMatches(demoWorldDir)) {
    const progress = stderrProgress('demo world');
    await generateDemoWorld({
      seed,
      outDir: demoWorldDir,
      scale,
      onProgress: (d, t) => progress('render', d, t),
    });
    built = true;
  }
  seconds.world = (performance.now() - t0) / 1000;

  if (!existsSync(demoModelPath)) {
    throw new Error(
      `The demo model ${demoModelPath} is missing; it is committed with the repository — restore it with git.`,
    );
  }
  t0 = performance.now();
  const model = await loadModel(demoModelPath);
  const source = openDemoWorldDataset(demoWorldDir, 'train');
  const db = await openDatabase(defaultDbPath);
  try {
    const analysis = await analyzeDataset({
      db,
      model,
      modelPath: demoModelPath,
      source,
      runsDir,
      reuse: !built,
      onProgress: stderrProgress('analysis'),
    });
    seconds.analysis = (performance.now() - t0) / 1000;
    // Label-error scores, failure families and confidence intervals: once per run, so the review queue, the
    // families panel and the intervals on the map are there when the demo project is scored.
    t0 = performance.now();
    const done = (await insightKinds(db, analysis.runId)).length > 0;
    let insights: DemoPrepared['insights'] = { computed: false };
    if (!done) {
      const s = await runInsights(db, analysis.runId, { model, onProgress: stderrProgress('insights') });
      const m = s.confidence.methods.mlpMondrian;
      insights = {
        computed: true,
        coverage: m.coverage,
        nominal: s.confidence.nominal,
        families: s.families.families.length,
      };
    }
    seconds.insights = (performance.now() - t0) / 1000;
    seconds.total = (performance.now() - started) / 1000;
    return { world: { dir: demoWorldDir, tiles: source.size, built }, analysis, insights, seconds };
  } finally {
    await source.close();
    await model.dispose();
    await db.close();
  }
}

const prepared = await prepare();
const a = prepared.analysis;
const line = {
  modelHeldOutIou: a.modelHeldOutIou,
  estimatorR2: a.estimator.r2,
  meanPredictorR2: a.estimator.meanPredictorR2,
  estimatorMae: a.estimator.mae,
  meanPredictorMae: a.estimator.meanPredictorMae,
  chosenK: a.chosenK,
  silhouette: a.silhouette,
  urbanisedClusters: a.urbanisedClusters,
  urbanisedReason: a.urbanisedReason,
  patchesAnalysed: a.patchesAnalysed,
  emptyPatches: a.emptyPatches,
  runId: a.runId,
  reusedAnalysis: a.reused,
  worldBuilt: prepared.world.built,
  insights: prepared.insights,
  seconds: {
    world: Number(prepared.seconds.world.toFixed(2)),
    analysis: Number(prepared.seconds.analysis.toFixed(2)),
    insights: Number(prepared.seconds.insights.toFixed(2)),
    total: Number(prepared.seconds.total.toFixed(2)),
    stages: a.seconds,
  },
  dataDir,
};
if (values['prepare-only']) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exit(0);
}
process.stderr.write(`tilelens demo: analysis ready ${JSON.stringify(line)}\n`);
const { startDemoServer } = await import('../server/demo-server.ts');
await startDemoServer({ port, runId: a.runId });
