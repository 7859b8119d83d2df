/**
 * Real-data evaluation: trains the demo-model recipe on Accra + Dubai (70 % of their source images), runs the
 * reference analysis on their train and val images only, projects the held-out patches (Accra + Dubai test
 * split, Rio, Kitsap) through it as a new region's tiles are, scores Rio as a new region against that
 * reference, and reports what the latent space knows about places the model never saw. Ends with one line of
 * JSON.
 *   npm run eval:real                      (REALDATA=/path overrides ../shared/realdata)
 *   npx tsx scripts/eval-real.ts --reuse-model   (skip training when data/eval-real/model exists)
 *   npx tsx scripts/eval-real.ts --width 24 --crop 96 --epochs 14 --max-minutes 60
 *                                          (a wider network on larger crops; docs/label-errors.md measures what
 *                                           it buys the label-error benchmark)
 *   npx tsx scripts/eval-real.ts --boundary-weight 10 --out data/eval-edges
 *                                          (label edges weigh 11× in the cross-entropy; measured there too)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeDataset, type AnalysisSummary } from '../server/lib/analysis/analyze-dataset.ts';
import { MLPRegressor } from '../server/lib/analysis/mlp.ts';
import { auroc, spearman } from '../server/lib/analysis/rank-statistics.ts';
import { KnnNovelty } from '../server/lib/analysis/novelty.ts';
import { nearestCentroid } from '../server/lib/analysis/kmeans.ts';
import { adjustedRandIndex } from '../server/lib/analysis/silhouette.ts';
import { openManifestDataset, readManifest } from '../server/lib/datasets/manifest.ts';
import { openPairsDataset, type ImagePair } from '../server/lib/datasets/folder.ts';
import type { Patch, PatchSource } from '../server/lib/datasets/patch-source.ts';
import { openDatabase } from '../server/lib/db/client.ts';
import { getPatches, getRun } from '../server/lib/db/analysis-repo.ts';
import type { DatabaseHandle } from '../server/lib/db/client.ts';
import { ActivationReader } from '../server/lib/analysis/activation-store.ts';
import {
  defaultReferenceOptions,
  extractPatches,
  type ReferenceOptions,
} from '../server/lib/analysis/reference.ts';
import { loadLatentProjector } from '../server/lib/scoring/latent-projection.ts';
import { encodePng } from '../server/lib/imagery/decode.ts';
import { loadModel, type SegmentationModel } from '../server/lib/model/runtime.ts';
import { repoRoot } from '../server/lib/paths.ts';
import { trainRealModel } from './lib/train-real-model.ts';
import { stderrProgress } from '../server/lib/progress.ts';
import { closeImagerySources } from '../server/lib/scoring/imagery-registry.ts';
import { disposeScoringModels } from '../server/lib/scoring/jobs.ts';
import { scoreRegion } from '../server/lib/scoring/score-region.ts';
import { iterateScoredTiles } from '../server/lib/scoring/tiles-repo.ts';

export const TRAIN_GROUPS = ['accra', 'dubai'];
export const UNSEEN_GROUPS = ['rio', 'kitsap'];
const PATCH = 256;
/**
 * Last windows shifted inside the image rather than padded: Rio's 438×406 scenes would otherwise give three
 * windows out of four that are mostly black padding, which the model and the latent space see as a place.
 */
const EDGE = 'shift' as const;

/** Split of a source image by a seeded hash: 70 % train, 15 % val, 15 % test; unseen datasets are 'unseen'. */
export function splitOf(pair: ImagePair, seed = 7): string {
  if (!TRAIN_GROUPS.includes(pair.group)) return 'unseen';
  const h = createHash('sha1')
    .update(`${seed}:${pair.image.split('/').slice(-2).join('/')}`)
    .digest();
  const u = h.readUInt32BE(0) / 2 ** 32;
  return u < 0.7 ? 'train' : u < 0.85 ? 'val' : 'test';
}

const r4 = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(4)) : null);

// ---- evaluation --------------------------------------------------------------------------------------

export interface EvaluationInput {
  realdata: string;
  modelPath: string;
  outDir: string;
  /** Source images per dataset (for a quick look; all by default). */
  limitPerGroup?: number;
  seed?: number;
  /** Contact sheets of the worst and best patches per dataset (default true). */
  sheets?: boolean;
}

export interface Evaluation {
  summary: AnalysisSummary;
  patches: number;
  iouByDataset: Record<
    string,
    { split: string; patches: number; pooledIou: number | null; meanIou: number | null }
  >;
  estimator: { r2: number; meanPredictorR2: number; mae: number; meanPredictorMae: number };
  clusterVsDataset: { k: number; adjustedRand: number | null };
  novelty: { auroc: number | null; byDataset: Record<string, number | null>; reference: string };
  /** The reference run's patches (train + val of the training datasets) and those projected through it. */
  reference: { patches: number; splits: string[]; heldOutPatches: number };
  unseen: {
    patches: number;
    spearmanStoredIouHat: number | null;
    spearmanTrainOnlySurface: number | null;
    /** R² of the train-only surface on the unseen patches (baseline: their own mean IoU). */
    trainOnlySurfaceR2: number | null;
    /** 1 − SSE / SSE of predicting the training mean IoU for every unseen patch. */
    trainOnlySurfaceSkillVsTrainMean: number | null;
    trainOnlySurfaceMae: number | null;
    meanIou: number | null;
    trainMeanIou: number | null;
  };
  seconds: Record<string, number>;
}

function limitPairs(pairs: ImagePair[], perGroup?: number): ImagePair[] {
  if (!perGroup) return pairs;
  const seen = new Map<string, number>();
  return pairs.filter((p) => {
    const n = seen.get(p.group) ?? 0;
    seen.set(p.group, n + 1);
    return n < perGroup;
  });
}

/** The figures read per patch: the reference's own patches and the held-out ones projected through it alike. */
interface EvalRow {
  patchKey: string;
  groupName: string | null;
  split: string | null;
  tp: number;
  fp: number;
  fn: number;
  iou: number | null;
  iouHat: number | null;
  cluster: number | null;
  gtFraction: number;
  predFraction: number;
  /** The first 9 PCs of the reference's PCA. */
  pcs: number[];
}

/** Splits whose patches build the reference: the model's training images and its own early-stopping images. */
const REFERENCE_SPLITS = ['train', 'val'];

/**
 * The held-out patches (test split, Rio, Kitsap) through the reference run, as a new region's tiles are: the
 * model's answer and pooled activations per patch, then the run's PCA, IoU surface and k-means centroids. None
 * of them enters a fit.
 */
async function projectHeldOut(
  db: DatabaseHandle,
  runId: number,
  model: SegmentationModel,
  source: PatchSource,
  activationsPath: string,
): Promise<EvalRow[]> {
  const run = await getRun(db, runId);
  if (!run) throw new Error(`reference run ${runId} is not in the database`);
  const options = { ...defaultReferenceOptions, ...(run.settings as Partial<ReferenceOptions>) };
  const { table } = await extractPatches(
    model,
    source,
    activationsPath,
    options,
    stderrProgress('eval-real held-out'),
  );
  const projector = await loadLatentProjector(db, run);
  const k = projector.nComponents;
  const centroids = run.kmeans.centroids;
  const d = centroids[0].length;
  const flat = Float64Array.from(centroids.flat());
  const head = new Float32Array(d);
  const reader = ActivationReader.open(activationsPath);
  const out: EvalRow[] = [];
  try {
    for (const chunk of reader.chunks(1024)) {
      const p = projector.project(chunk.data, chunk.rows);
      for (let r = 0; r < chunk.rows; r++) {
        const j = chunk.start + r;
        const pcs = Array.from(p.pcs.subarray(r * k, r * k + Math.min(k, 9)));
        head.set(p.pcs.subarray(r * k, r * k + d));
        out.push({
          patchKey: table.keys[j],
          groupName: table.groups[j],
          split: table.splits[j],
          tp: table.tp[j],
          fp: table.fp[j],
          fn: table.fn[j],
          iou: Number.isNaN(table.iou[j]) ? null : table.iou[j],
          iouHat: p.iouHat[r],
          cluster: nearestCentroid(head, 0, d, flat, centroids.length).label,
          gtFraction: table.gtFraction[j],
          predFraction: table.predFraction[j],
          pcs,
        });
      }
    }
  } finally {
    reader.close();
  }
  return out;
}

export async function evaluate(input: EvaluationInput): Promise<Evaluation> {
  const seed = input.seed ?? 7;
  const t0 = performance.now();
  mkdirSync(input.outDir, { recursive: true });
  const dbPath = join(input.outDir, 'eval.db');
  // A fresh database each time; the activation files of earlier runs would be orphans of the old one.
  rmSync(dbPath, { force: true });
  rmSync(join(input.outDir, 'runs'), { recursive: true, force: true });
  mkdirSync(join(input.outDir, 'runs'), { recursive: true });
  const db = await openDatabase(dbPath);
  const model = await loadModel(input.modelPath);
  const manifest = join(input.realdata, 'manifest.csv');
  const pairs = limitPairs(readManifest(manifest, { groupColumn: 'dataset' }), input.limitPerGroup);
  const split = (p: ImagePair) => splitOf(p, seed);
  // The reference is what a deployment has before it meets a new region: the training datasets' train and val
  // images. The test split, Rio and Kitsap never enter its PCA, surface, clusters, novelty or tile model.
  const referencePairs = pairs.filter((p) => REFERENCE_SPLITS.includes(split(p)));
  const heldOutPairs = pairs.filter((p) => !REFERENCE_SPLITS.includes(split(p)));
  const patchOptions = { patchSize: PATCH, edge: EDGE, root: input.realdata, split };
  const source = await openPairsDataset(
    referencePairs,
    {
      name: 'realdata:reference',
      kind: 'manifest',
      description: {
        manifest,
        groupColumn: 'dataset',
        splits: REFERENCE_SPLITS,
        limitPerGroup: input.limitPerGroup ?? null,
      },
    },
    patchOptions,
  );
  const heldOutSource = await openPairsDataset(
    heldOutPairs,
    { name: 'realdata:held-out', kind: 'manifest', description: { manifest, groupColumn: 'dataset' } },
    patchOptions,
  );
  try {
    const summary = await analyzeDataset({
      db,
      model,
      modelPath: input.modelPath,
      source,
      runsDir: join(input.outDir, 'runs'),
      options: { seed, batchSize: 16 },
      onProgress: stderrProgress('eval-real'),
    });
    const reference = (
      await getPatches(db, summary.runId, {
        limit: 200_000,
        columns: [
          'idx',
          'patchKey',
          'groupName',
          'split',
          'tp',
          'fp',
          'fn',
          'iou',
          'iouHat',
          'cluster',
          'gtFraction',
          'predFraction',
          'pc1',
          'pc2',
          'pc3',
          'pc4',
          'pc5',
          'pc6',
          'pc7',
          'pc8',
          'pc9',
        ],
      })
    ).map((r): EvalRow => ({
      patchKey: r.patchKey,
      groupName: r.groupName,
      split: r.split,
      tp: r.tp,
      fp: r.fp,
      fn: r.fn,
      iou: r.iou,
      iouHat: r.iouHat,
      cluster: r.cluster,
      gtFraction: r.gtFraction,
      predFraction: r.predFraction,
      pcs: [r.pc1, r.pc2, r.pc3, r.pc4, r.pc5, r.pc6, r.pc7, r.pc8, r.pc9].map((v) => v ?? 0),
    }));
    const heldOut = await projectHeldOut(
      db,
      summary.runId,
      model,
      heldOutSource,
      join(input.outDir, 'runs', 'held-out.activations.f32'),
    );
    const rows = [...reference, ...heldOut];
    const tAnalysis = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const k = 9;
    const pcsOf = (sel: EvalRow[]) => {
      const out = new Float32Array(sel.length * k);
      sel.forEach((r, i) => {
        for (let j = 0; j < k; j++) out[i * k + j] = r.pcs[j] ?? 0;
      });
      return out;
    };

    // Model IoU per dataset: held-out test images of the training datasets, every patch of the unseen ones.
    const iouByDataset: Evaluation['iouByDataset'] = {};
    for (const g of [...TRAIN_GROUPS, ...UNSEEN_GROUPS]) {
      const split = TRAIN_GROUPS.includes(g) ? 'test' : 'unseen';
      const sel = rows.filter((r) => r.groupName === g && r.split === split);
      let tp = 0;
      let fp = 0;
      let fn = 0;
      const ious: number[] = [];
      for (const r of sel) {
        tp += r.tp;
        fp += r.fp;
        fn += r.fn;
        if (r.iou !== null) ious.push(r.iou);
      }
      iouByDataset[g] = {
        split,
        patches: sel.length,
        pooledIou: r4(tp + fp + fn === 0 ? Number.NaN : tp / (tp + fp + fn)),
        meanIou: r4(ious.length ? ious.reduce((a, b) => a + b, 0) / ious.length : Number.NaN),
      };
    }

    // Does the latent space sort patches by where they come from? Held-out patches by their nearest centroid.
    const groupIds = [...new Set(rows.map((r) => r.groupName))];
    const ari = adjustedRandIndex(
      Int32Array.from(rows.map((r) => r.cluster ?? -1)),
      Int32Array.from(rows.map((r) => groupIds.indexOf(r.groupName))),
    );

    // Novelty against the training images only: held-out test images of the seen datasets vs the unseen ones.
    const trainRows = rows.filter((r) => r.split === 'train');
    const seenTest = rows.filter((r) => r.split === 'test');
    const unseen = rows.filter((r) => r.split === 'unseen');
    const novelty = new KnnNovelty({ k: 5, sampleSize: 20_000, seed }).fit(
      pcsOf(trainRows),
      trainRows.length,
      k,
    );
    const nSeen = novelty.percentile(pcsOf(seenTest), seenTest.length);
    const nUnseen = novelty.percentile(pcsOf(unseen), unseen.length);
    const byDataset: Record<string, number | null> = {};
    for (const g of UNSEEN_GROUPS) {
      const sel = unseen
        .map((r, i) => (r.groupName === g ? nUnseen[i] : Number.NaN))
        .filter((v) => !Number.isNaN(v));
      byDataset[g] = r4(auroc(sel, nSeen));
    }

    // Smoothed IoU on the unseen data: the reference run's surface (fitted on its train and val patches), and a
    // surface trained only on the train-split patches.
    const unseenDefined = unseen.filter((r) => r.iou !== null);
    const stored = spearman(
      unseenDefined.map((r) => r.iouHat ?? Number.NaN),
      unseenDefined.map((r) => r.iou!),
    );
    const fitRows = trainRows.filter((r) => r.iou !== null);
    const mlp = new MLPRegressor({ hidden: 100, learningRate: 0.001, l2: 1e-4, seed, earlyStopping: true });
    mlp.fit(pcsOf(fitRows), fitRows.length, k, Float32Array.from(fitRows.map((r) => r.iou!)));
    const pred = mlp.predict(pcsOf(unseenDefined), unseenDefined.length);
    const truth = unseenDefined.map((r) => r.iou!);
    // Two baselines: the unseen data's own mean (ordinary R², which a constant cannot beat) and the training
    // mean (what a user without the surface would assume for a new region).
    const trainMean = fitRows.reduce((a, r) => a + r.iou!, 0) / Math.max(1, fitRows.length);
    const unseenMean = truth.reduce((a, b) => a + b, 0) / Math.max(1, truth.length);
    let ssRes = 0;
    let ssUnseen = 0;
    let ssTrainMean = 0;
    let absErr = 0;
    truth.forEach((t, i) => {
      const p = Math.min(1, Math.max(0, pred[i]));
      ssRes += (t - p) ** 2;
      absErr += Math.abs(t - p);
      ssUnseen += (t - unseenMean) ** 2;
      ssTrainMean += (t - trainMean) ** 2;
    });

    const tFigures = (performance.now() - t1) / 1000;
    let tSheets = 0;
    if (input.sheets ?? true) {
      const t2 = performance.now();
      await writeContactSheets(model, pairs, rows, input.realdata, join(input.outDir, 'sheets'), seed);
      tSheets = (performance.now() - t2) / 1000;
    }
    return {
      summary,
      patches: rows.length,
      iouByDataset,
      estimator: {
        r2: summary.estimator.r2,
        meanPredictorR2: summary.estimator.meanPredictorR2,
        mae: summary.estimator.mae,
        meanPredictorMae: summary.estimator.meanPredictorMae,
      },
      clusterVsDataset: { k: summary.chosenK, adjustedRand: r4(ari) },
      novelty: {
        auroc: r4(auroc(nUnseen, nSeen)),
        byDataset,
        reference: `${trainRows.length} train-split patches of ${TRAIN_GROUPS.join('+')}`,
      },
      reference: {
        patches: reference.length,
        splits: REFERENCE_SPLITS,
        heldOutPatches: heldOut.length,
      },
      unseen: {
        patches: unseen.length,
        spearmanStoredIouHat: r4(stored),
        spearmanTrainOnlySurface: r4(spearman(Array.from(pred), truth)),
        trainOnlySurfaceR2: r4(ssUnseen === 0 ? Number.NaN : 1 - ssRes / ssUnseen),
        trainOnlySurfaceSkillVsTrainMean: r4(ssTrainMean === 0 ? Number.NaN : 1 - ssRes / ssTrainMean),
        trainOnlySurfaceMae: r4(truth.length ? absErr / truth.length : Number.NaN),
        meanIou: r4(unseenMean),
        trainMeanIou: r4(trainMean),
      },
      seconds: { analysis: r4(tAnalysis) ?? 0, figures: r4(tFigures) ?? 0, sheets: r4(tSheets) ?? 0 },
    };
  } finally {
    await source.close();
    await heldOutSource.close();
    await model.dispose();
    await db.close();
  }
}

// ---- contact sheets ----------------------------------------------------------------------------------

type Row = {
  patchKey: string;
  groupName: string | null;
  iou: number | null;
  gtFraction: number;
  predFraction: number;
};

/**
 * Per dataset, 6 patches each: the worst with buildings in the truth, the loudest false alarms, the best.
 * Columns image | ground truth over image (magenta) | prediction over image (cyan), written as PNG with a
 * JSON legend of the rows.
 */
async function writeContactSheets(
  model: SegmentationModel,
  pairs: ImagePair[],
  rows: Row[],
  realdata: string,
  outDir: string,
  seed: number,
): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const per = 6;
  for (const g of new Set(rows.map((r) => r.groupName))) {
    const defined = rows.filter((r) => r.groupName === g && r.iou !== null).sort((a, b) => a.iou! - b.iou!);
    // Worst among patches with buildings worth finding (a few stray pixels on empty land score 0 too, and
    // would fill the sheet); false alarms apart, loudest first.
    const withBuildings = defined.filter((r) => r.gtFraction >= 0.02);
    const falseAlarms = defined
      .filter((r) => r.gtFraction === 0)
      .sort((a, b) => b.predFraction - a.predFraction);
    for (const [kind, chosen] of [
      ['worst', withBuildings.slice(0, per)],
      ['false-alarms', falseAlarms.slice(0, per)],
      ['best', defined.slice(-per).reverse()],
    ] as const) {
      if (chosen.length === 0) continue;
      const wanted = new Set(chosen.map((r) => r.patchKey));
      const files = new Set(chosen.map((r) => r.patchKey.split('#')[0]));
      const sub = pairs.filter((p) => files.has(p.image.slice(realdata.length + 1)));
      const src = await openPairsDataset(
        sub,
        { name: 'sheet', kind: 'manifest', description: {} },
        { patchSize: PATCH, edge: EDGE, root: realdata, split: (p) => splitOf(p, seed) },
      );
      const got = new Map<string, Patch>();
      for await (const p of src.patches()) if (wanted.has(p.key)) got.set(p.key, p);
      const ordered = chosen.map((r) => got.get(r.patchKey)).filter((p): p is Patch => p !== undefined);
      if (ordered.length === 0) continue;
      const batch = new Uint8Array(ordered.length * PATCH * PATCH * 3);
      ordered.forEach((p, i) => batch.set(p.image, i * PATCH * PATCH * 3));
      const out = await model.predict(batch, ordered.length, [PATCH, PATCH]);
      const [mh, mw] = model.info.inputSize;
      const W = PATCH * 3;
      const H = PATCH * ordered.length;
      const sheet = new Uint8Array(W * H * 3);
      ordered.forEach((p, i) => {
        for (let y = 0; y < PATCH; y++) {
          for (let x = 0; x < PATCH; x++) {
            const s = (y * PATCH + x) * 3;
            const rgb = [p.image[s], p.image[s + 1], p.image[s + 2]];
            const gt = p.mask[y * PATCH + x] === 1;
            const py = Math.min(mh - 1, Math.floor((y * mh) / PATCH));
            const px = Math.min(mw - 1, Math.floor((x * mw) / PATCH));
            const pr = out.probs[i * mh * mw + py * mw + px] >= 0.5;
            const base = ((i * PATCH + y) * W + x) * 3;
            for (let c = 0; c < 3; c++) {
              sheet[base + c] = rgb[c];
              // Ground truth tinted magenta, prediction cyan, both over the dimmed image.
              const tintGt = [255, 0, 255][c];
              const tintPr = [0, 255, 255][c];
              sheet[base + PATCH * 3 + c] = gt
                ? Math.round(rgb[c] * 0.4 + tintGt * 0.6)
                : Math.round(rgb[c] * 0.6);
              sheet[base + PATCH * 6 + c] = pr
                ? Math.round(rgb[c] * 0.4 + tintPr * 0.6)
                : Math.round(rgb[c] * 0.6);
            }
          }
        }
      });
      writeFileSync(join(outDir, `${g}-${kind}.png`), await encodePng(sheet, W, H));
      writeFileSync(
        join(outDir, `${g}-${kind}.json`),
        JSON.stringify(
          chosen.map((r) => ({
            key: r.patchKey,
            iou: r4(r.iou!),
            gtFraction: r4(r.gtFraction),
            predFraction: r4(r.predFraction),
          })),
          null,
          1,
        ) + '\n',
      );
    }
  }
}

// ---- main --------------------------------------------------------------------------------------------

/** A tile farther from the training patches than this percentile of them counts as novel. */
export const NOVEL_PERCENTILE = 95;

/**
 * Rio's GeoTIFF folder scored as a new region on the map, with the run the evaluation stored: what a
 * manager would get from `tilelens score`, summarised.
 */
export async function scoreRioProject(dbPath: string, runId: number, rioImages: string, dataDir: string) {
  const db = await openDatabase(dbPath);
  const ctx = { db, dataDir };
  try {
    const r = await scoreRegion(ctx, {
      runId,
      imagery: rioImages,
      projectName: 'Rio de Janeiro (new region)',
    });
    let priority = 0;
    let novel = 0;
    let n = 0;
    for await (const t of iterateScoredTiles(ctx, r.projectId)) {
      if (t.status !== 'scored') continue;
      n++;
      priority += t.priority;
      if (t.novelty >= NOVEL_PERCENTILE) novel++;
    }
    return {
      projectId: r.projectId,
      tiles: r.tiles,
      scored: r.scored,
      meanPriority: r4(n ? priority / n : Number.NaN),
      shareNovel: r4(n ? novel / n : Number.NaN),
      seconds: r.seconds,
    };
  } finally {
    await closeImagerySources(ctx);
    await disposeScoringModels();
    await db.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'reuse-model': { type: 'boolean', default: false },
      'max-minutes': { type: 'string', default: '12' },
      epochs: { type: 'string', default: '8' },
      width: { type: 'string' },
      crop: { type: 'string' },
      'boundary-weight': { type: 'string' },
      seed: { type: 'string', default: '7' },
      out: { type: 'string' },
    },
  });
  const realdata = resolve(process.env.REALDATA ?? join(repoRoot, '../shared/realdata'));
  if (!existsSync(join(realdata, 'manifest.csv'))) {
    process.stdout.write(
      `eval-real: skipped — no real data at ${realdata} (set REALDATA to a folder holding manifest.csv)\n`,
    );
    process.stdout.write(`${JSON.stringify({ skipped: true, realdata })}\n`);
    return;
  }
  const seed = Number(values.seed);
  const outDir = resolve(values.out ?? join(repoRoot, 'data/eval-real'));
  const modelDir = join(outDir, 'model');
  const modelPath = join(modelDir, 'real-unet.onnx');
  const started = performance.now();
  const seconds: Record<string, number> = {};

  let trainSplit: Record<string, number> = {};
  if (!(values['reuse-model'] && existsSync(modelPath))) {
    const t = performance.now();
    trainSplit = await trainRealModel({
      realdata,
      groups: TRAIN_GROUPS,
      split: (p) => splitOf(p, seed),
      workDir: outDir,
      modelDir,
      seed,
      epochs: Number(values.epochs),
      maxMinutes: Number(values['max-minutes']),
      architecture: {
        width: values.width === undefined ? undefined : Number(values.width),
        crop: values.crop === undefined ? undefined : Number(values.crop),
      },
      boundaryWeight: values['boundary-weight'] === undefined ? undefined : Number(values['boundary-weight']),
    });
    seconds.train = r4((performance.now() - t) / 1000) ?? 0;
  }

  const ev = await evaluate({ realdata, modelPath, outDir, seed });
  const rioImages = join(realdata, 'rio', 'images');
  const rioProject = existsSync(rioImages)
    ? await scoreRioProject(join(outDir, 'eval.db'), ev.summary.runId, rioImages, join(outDir, 'data'))
    : null;
  if (rioProject) seconds.rioProject = rioProject.seconds;
  Object.assign(seconds, ev.seconds, { total: r4((performance.now() - started) / 1000) ?? 0 });

  const out = process.stdout;
  out.write(
    `\nReference run ${ev.summary.runId}: ${ev.reference.patches} patches (${ev.reference.splits.join(' + ')} of ${TRAIN_GROUPS.join(' + ')}); ` +
      `${ev.reference.heldOutPatches} held-out patches projected through it\n`,
  );
  out.write('Model IoU per dataset (pooled / mean per patch):\n');
  for (const [g, v] of Object.entries(ev.iouByDataset)) {
    out.write(
      `  ${g.padEnd(7)} ${v.split.padEnd(7)} ${String(v.patches).padStart(5)} patches  pooled ${v.pooledIou}  mean ${v.meanIou}\n`,
    );
  }
  out.write(
    `IoU surface held-out R² ${ev.estimator.r2} (mean predictor ${ev.estimator.meanPredictorR2}); MAE ${ev.estimator.mae} vs ${ev.estimator.meanPredictorMae}\n`,
  );
  out.write(
    `Clusters (k=${ev.clusterVsDataset.k}) vs dataset of origin: adjusted Rand ${ev.clusterVsDataset.adjustedRand}\n`,
  );
  out.write(
    `Novelty AUROC unseen vs held-out seen: ${ev.novelty.auroc} (${JSON.stringify(ev.novelty.byDataset)})\n`,
  );
  out.write(
    `Unseen data (${ev.unseen.patches} patches): Spearman(smoothed IoU, IoU) stored ${ev.unseen.spearmanStoredIouHat}, ` +
      `train-only surface ${ev.unseen.spearmanTrainOnlySurface} (R² ${ev.unseen.trainOnlySurfaceR2}, ` +
      `skill vs the training mean ${ev.unseen.trainOnlySurfaceSkillVsTrainMean}, MAE ${ev.unseen.trainOnlySurfaceMae}; ` +
      `mean IoU ${ev.unseen.meanIou} vs ${ev.unseen.trainMeanIou} in training)\n`,
  );
  if (rioProject) {
    out.write(
      `Rio as a new region (project ${rioProject.projectId}): ${rioProject.scored}/${rioProject.tiles} tiles scored, ` +
        `mean priority ${rioProject.meanPriority}, ${rioProject.shareNovel} flagged novel (≥ ${NOVEL_PERCENTILE}th percentile)\n`,
    );
  }
  out.write(`Timings (s): ${JSON.stringify(seconds)}\n`);
  out.write(
    `${JSON.stringify({
      realdata,
      runId: ev.summary.runId,
      patches: ev.patches,
      trainSplit,
      iouByDataset: ev.iouByDataset,
      estimator: ev.estimator,
      clusterVsDataset: ev.clusterVsDataset,
      reference: ev.reference,
      novelty: { auroc: ev.novelty.auroc, byDataset: ev.novelty.byDataset },
      unseen: ev.unseen,
      rioProject,
      seconds,
    })}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    process.stderr.write(`eval-real: ${err.message}\n`);
    if (process.env.TILELENS_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
