/**
 * Insights benchmark: what the latent space finds, measured against errors whose location is known.
 *
 *   npx tsx scripts/bench/insights.ts [--db data/tilelens.db] [--real ../shared/realdata] [--real-limit 450] [--no-real]
 *
 * 1. Demo world (its stored analysis, copied into a temporary database): the evidence pass, then
 *    - label errors: precision@10, precision@n+ and average precision against the planted construction sites,
 *      for the stored score and for each evidence alone (ablation), beside the base rate;
 *    - families: every parking-lot and cemetery tile must sit in a family whose dominant error is false alarms
 *      (the process exits 1 when not);
 *    - confidence: held-out coverage beside the nominal 90 %, interval width, R² / MAE, against the global
 *      (non-Mondrian) interval and the mean and kNN baselines.
 * 2. Real masks with planted errors (Accra drone pairs from the real-data folder; skipped when absent): in a
 *    seeded 10 % of the masks, all buildings are erased or a few rectangular ones added; the demo
 *    model's analysis and the insights run over them, and the label-error ranking is scored the same way.
 * Ends with one line of JSON holding the figures.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { analyzeDataset } from '../../server/lib/analysis/analyze-dataset.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { getPatches, iteratePatchKeys, listRuns } from '../../server/lib/db/analysis-repo.ts';
import { copyDatabase, openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import type { Patch, PatchSource } from '../../server/lib/datasets/patch-source.ts';
import { averagePrecision, labelErrorScores, precisionAtK } from '../../server/lib/insights/label-errors.ts';
import { readLatentRows } from '../../server/lib/insights/latent-rows.ts';
import { runInsights, type InsightsSummary } from '../../server/lib/insights/run-insights.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { defaultDbPath, demoModelPath, repoRoot } from '../../server/lib/paths.ts';
import { collect } from '../../tests/fixtures/collect.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: defaultDbPath },
    real: { type: 'string', default: process.env.REALDATA ?? resolve(repoRoot, '../shared/realdata') },
    'real-limit': { type: 'string', default: '450' },
    'no-real': { type: 'boolean', default: false },
  },
});

const r3 = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(3));

async function rankingFigures(db: DatabaseHandle, runId: number, positives: Set<number>) {
  const rows = await readLatentRows(db, runId);
  const n = rows.n;
  const pos = (i: number) => positives.has(i);
  const figures = (score: ArrayLike<number>) => {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
    return {
      p10: r3(precisionAtK(order, pos, 10)),
      pAtPositives: r3(precisionAtK(order, pos, positives.size)),
      ap: r3(averagePrecision(order, pos)),
    };
  };
  const full = labelErrorScores(rows);
  return {
    patches: n,
    positives: positives.size,
    baseRate: r3(positives.size / n),
    stored: figures(full.score),
    disagreementOnly: figures(full.disagreement),
    neighbourGapOnly: figures(full.neighbourGap),
    withoutEvidencePass: figures(
      labelErrorScores({
        ...rows,
        probInside: rows.probInside.map(() => Number.NaN),
        probOutside: rows.probOutside.map(() => Number.NaN),
      }).score,
    ),
  };
}

function confidenceFigures(s: InsightsSummary) {
  const m = s.confidence.methods;
  const pick = (x: (typeof m)['mlpMondrian']) => ({
    coverage: r3(x.coverage),
    meanWidth: r3(x.meanWidth),
    r2: r3(x.r2),
    mae: r3(x.mae),
    byNovelty: x.byNovelty.map((b) => `${b.bin}: n=${b.n} cov=${r3(b.coverage)} w=${r3(b.meanWidth)}`),
  });
  return {
    nominal: s.confidence.nominal,
    nTest: s.confidence.nTest,
    mlpMondrian: pick(m.mlpMondrian),
    mlpGlobal: pick(m.mlpGlobal),
    knnMondrian: pick(m.knnMondrian),
    meanMondrian: pick(m.meanMondrian),
  };
}

// ── 1. demo world ────────────────────────────────────────────────────────────────────────────────────
if (!existsSync(values.db)) {
  console.error(
    `bench/insights: needs the demo analysis in ${values.db}; run \`npx tsx scripts/demo.ts --prepare-only\` first`,
  );
  process.exit(2);
}
const tmp = mkdtempSync(join(tmpdir(), 'tilelens-bench-insights-'));
const out: Record<string, unknown> = {};
let failed = false;
try {
  const dbPath = join(tmp, 'bench.db');
  await copyDatabase(values.db, dbPath);
  const db = await openDatabase(dbPath);
  const run = (await listRuns(db, { limit: 1000 })).find((r) => r.datasetName === 'demo-world:train');
  if (!run)
    throw new Error(
      `bench/insights: ${values.db} holds no demo-world:train run; run \`npx tsx scripts/demo.ts --prepare-only\``,
    );
  const t0 = performance.now();
  const s = await runInsights(db, run.id);
  const seconds = { ...s.seconds, total: (performance.now() - t0) / 1000 };
  const phen = (await getPatches(db, run.id, { columns: ['phenomena'], limit: run.patchCount })).map(
    (r) => r.phenomena ?? [],
  );
  const positives = new Set(phen.flatMap((p, i) => (p.includes('construction_site') ? [i] : [])));
  const labelErrors = await rankingFigures(db, run.id, positives);

  const familyOf = new Map(s.families.families.map((f) => [f.id, f]));
  const lookAlikes = phen.flatMap((p, i) => (p.includes('parking_lot') || p.includes('cemetery') ? [i] : []));
  const inFalseAlarm = lookAlikes.filter(
    (i) => familyOf.get(s.families.assignment[i])?.dominantError === 'false_alarms',
  ).length;
  const lookAlikeFamilies = [...new Set(lookAlikes.map((i) => s.families.assignment[i]))].map((id) => {
    const f = familyOf.get(id)!;
    return `${id} (${f.size} patches, ${f.dominantError}, false-alarm share ${r3(f.falseAlarmShare)})`;
  });
  const familiesOk = lookAlikes.length > 0 && inFalseAlarm === lookAlikes.length;
  failed ||= !familiesOk;

  out.demo = {
    runId: run.id,
    labelErrors,
    families: {
      count: s.families.families.length,
      lookAlikeTiles: lookAlikes.length,
      inFalseAlarmFamilies: inFalseAlarm,
      check: familiesOk ? 'pass' : 'FAIL',
      lookAlikeFamilies,
      constructionSiteFamilies: [...new Set([...positives].map((i) => s.families.assignment[i]))].map(
        (id) => `${id} (${familyOf.get(id)!.dominantError})`,
      ),
    },
    confidence: confidenceFigures(s),
    seconds: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, r3(v)])),
  };
  console.log('demo world:', JSON.stringify(out.demo, null, 2));
  await db.close();

  // ── 2. real masks with planted errors ──────────────────────────────────────────────────────────────
  const manifestPath = join(values.real, 'manifest.csv');
  if (values['no-real'] || !existsSync(manifestPath)) {
    out.real = { skipped: values['no-real'] ? '--no-real' : `no ${manifestPath}` };
    console.log(`real data: skipped (${(out.real as { skipped: string }).skipped})`);
  } else {
    const source = plantedAccra(values.real, Number(values['real-limit']), 11);
    const rdb = await openDatabase(join(tmp, 'real.db'));
    const model = await loadModel(demoModelPath);
    try {
      const t1 = performance.now();
      const summary = await analyzeDataset({
        db: rdb,
        model,
        modelPath: demoModelPath,
        source,
        runsDir: join(tmp, 'runs'),
      });
      const analysisSeconds = (performance.now() - t1) / 1000;
      const rs = await runInsights(rdb, summary.runId, { model, source });
      const keys = await collect(iteratePatchKeys(rdb, summary.runId));
      const pos = new Set(keys.filter((k) => source.planted.has(k.key)).map((k) => k.idx));
      out.real = {
        dataset: 'accra (drone), 512 px pairs resized to 256',
        model: 'demo U-Net (trained on the synthetic demo world only)',
        modelMeanIou: r3(summary.modelHeldOutIou.mean),
        planted: { erased: source.erased, added: source.added },
        labelErrors: await rankingFigures(rdb, summary.runId, pos),
        confidence: confidenceFigures(rs),
        seconds: {
          analysis: r3(analysisSeconds),
          ...Object.fromEntries(Object.entries(rs.seconds).map(([k, v]) => [k, r3(v)])),
        },
      };
      console.log('real masks with planted errors:', JSON.stringify(out.real, null, 2));
    } finally {
      await model.dispose();
      await rdb.close();
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
process.exit(failed ? 1 : 0);

/**
 * Accra's drone pairs as a patch source, with errors planted in a seeded 10 % of the masks: all buildings erased
 * (half of the masks that have some) or three to five rectangular "buildings" added (the others).
 */
function plantedAccra(folder: string, limit: number, seed: number) {
  const lines = readFileSync(join(folder, 'manifest.csv'), 'utf8').trim().split('\n').slice(1);
  const pairs = lines
    .map((l) => l.match(/^([^,]*),([^,]*),([^,]*),(?:"[^"]*"|[^,]*),\d+,\d+,([\d.]+)/))
    .filter((m): m is RegExpMatchArray => m !== null && m[1] === 'accra')
    .slice(0, limit)
    .map((m) => ({ image: m[2], mask: m[3], buildingFraction: Number(m[4]) }));
  const rng = createRng(seed);
  const planted = new Map<string, 'erase' | 'add'>();
  for (const p of pairs) {
    if (rng.next() >= 0.1) continue;
    planted.set(p.image, p.buildingFraction > 0.01 && rng.next() < 0.5 ? 'erase' : 'add');
  }
  const size = 256;
  const source: PatchSource & { planted: Map<string, 'erase' | 'add'>; erased: number; added: number } = {
    name: `bench:accra-planted-${seed}`,
    kind: 'folder',
    description: { folder: 'realdata/accra', planted: planted.size, seed },
    size: pairs.length,
    planted,
    erased: [...planted.values()].filter((v) => v === 'erase').length,
    added: [...planted.values()].filter((v) => v === 'add').length,
    async *patches(): AsyncIterable<Patch> {
      for (const p of pairs) {
        const image = new Uint8Array(
          await sharp(join(folder, p.image)).resize(size, size).removeAlpha().raw().toBuffer(),
        );
        const grey = await sharp(join(folder, p.mask))
          .resize(size, size, { kernel: 'nearest' })
          .extractChannel(0)
          .raw()
          .toBuffer();
        const mask = new Uint8Array(size * size);
        for (let i = 0; i < mask.length; i++) mask[i] = grey[i] > 127 ? 1 : 0;
        const plant = planted.get(p.image);
        if (plant === 'erase') mask.fill(0);
        if (plant === 'add') {
          const r = createRng(seed + p.image.length + p.image.charCodeAt(p.image.length - 6));
          for (let b = 0, nb = 3 + r.int(3); b < nb; b++) {
            const w = 15 + r.int(25);
            const h = 15 + r.int(25);
            const x0 = r.int(size - w);
            const y0 = r.int(size - h);
            for (let y = y0; y < y0 + h; y++) mask.fill(1, y * size + x0, y * size + x0 + w);
          }
        }
        yield {
          key: p.image,
          group: 'accra',
          split: 'all',
          image,
          width: size,
          height: size,
          mask,
          phenomena: plant ? [`planted_${plant}`] : [],
        };
      }
    },
    async close() {},
  };
  return source;
}
