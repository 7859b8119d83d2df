/**
 * The latent-space analysis of a reference set, after Janik et al. (MLVis 2019): pooled bottleneck activations →
 * streaming PCA (two chunked passes over the store) → an MLP from the first PCs to IoU ("smoothed IoU") with its
 * held-out R² beside a mean predictor's → k-means with k by sampled silhouette, DBSCAN for comparison → per-cluster
 * statistics and the "urbanised" clusters. Memory holds the n×k PCs, labels and per-patch scalars, never the
 * activations themselves.
 */
import type { ActivationReader } from './activation-store.ts';
import { EstimatorError } from './estimator.ts';
import { DBSCAN, suggestEps } from './dbscan.ts';
import type { GramKernelKind } from './gram.ts';
import type { KMeansJSON } from './kmeans.ts';
import {
  meanAbsoluteError,
  MeanRegressor,
  MLPRegressor,
  r2Score,
  trainTestSplit,
  type MLPJSON,
} from './mlp.ts';
import { StreamingPCA, type StreamingPCAJSON } from './pca.ts';
import { createRng, permutation, sampleIndices, takeRows } from './random.ts';
import { adjustedRandIndex, sweepKMeans } from './silhouette.ts';
import { pickUrbanisedClusters, type ClusterStat } from './urbanised.ts';

export interface PerPatch {
  /** null / NaN where IoU is undefined (empty patch under the default policy). */
  iou: (number | null)[] | Float32Array;
  gtFraction: Float32Array;
}

export interface LatentAnalysisOptions {
  nComponents?: number;
  seed?: number;
  /** Rows the k-means fits see. */
  clusterSampleSize?: number;
  silhouetteSampleSize?: number;
  kMin?: number;
  kMax?: number;
  dbscan?: boolean;
  /** Rows DBSCAN and its ε estimate see; the rest join the nearest core point's cluster. */
  dbscanSampleSize?: number;
  /** Training rows of the reported IoU estimator (sampled from the 85 % split past this size). */
  estimatorSampleSize?: number;
  /** Folds of the out-of-fold iouHat, and training rows per fold model. */
  oofFolds?: number;
  oofSampleSize?: number;
  mlpEpochs?: number;
  chunkRows?: number;
  gramKernel?: GramKernelKind;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface ClusterSummary extends ClusterStat {
  medianIou: number | null;
  /** The 5 patches nearest the centroid, nearest first. */
  representatives: number[];
}

export interface LatentAnalysis {
  nPatches: number;
  dims: number;
  pca: StreamingPCAJSON;
  explainedVariance: number[];
  explainedVarianceRatio: number[];
  /** n × nComponents, row-major. */
  pcs: Float32Array;
  estimator: {
    model: MLPJSON;
    heldOutR2: number;
    heldOutMae: number;
    meanPredictorR2: number;
    meanPredictorMae: number;
    nTrain: number;
    nTest: number;
    /** Patches without an IoU (empty), left out of training and evaluation. */
    nExcluded: number;
    oofFolds: number;
    oofR2: number;
    /** Patch indices of the 15 % held out from the reported model (its R² / MAE are measured on them). */
    heldOutRows: Int32Array;
  };
  /** Smoothed IoU per patch, each from a model that did not train on that patch; clamped to [0, 1]. */
  iouHat: Float32Array;
  kmeans: {
    /** Clustering runs on the raw (unstandardised) PCs: their variance ordering is the signal. */
    space: 'pcs';
    sweep: { k: number; silhouette: number; inertia: number }[];
    chosenK: number;
    silhouette: number;
    labels: Int32Array;
    centroids: number[][];
    model: KMeansJSON;
  };
  dbscan: {
    eps: number;
    minPts: number;
    nClusters: number;
    noiseShare: number;
    adjustedRand: number;
    sampled: number;
  } | null;
  /** DBSCAN label per patch (-1 = noise); null when DBSCAN was not run. */
  dbscanLabels: Int32Array | null;
  clusters: ClusterSummary[];
  urbanised: { clusters: number[]; threshold: number; reason: string };
  timings: Record<string, number>;
}

const median = (values: number[]): number | null => {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function analyzeLatentSpace(
  reader: ActivationReader,
  perPatch: PerPatch,
  options: LatentAnalysisOptions = {},
): Promise<LatentAnalysis> {
  const n = reader.rows;
  const k = options.nComponents ?? 9;
  const seed = options.seed ?? 0;
  const chunkRows = options.chunkRows ?? 4096;
  const progress = options.onProgress ?? (() => {});
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (stage: string) => {
    const t = performance.now();
    timings[stage] = (t - t0) / 1000;
    t0 = t;
  };
  if (perPatch.iou.length !== n || perPatch.gtFraction.length !== n) {
    throw new EstimatorError(
      `analyzeLatentSpace: the activation store holds ${n} patches but perPatch has ${perPatch.iou.length} IoUs and ` +
        `${perPatch.gtFraction.length} building shares; pass the table written with this store`,
    );
  }
  if (n < 20) throw new EstimatorError(`analyzeLatentSpace: needs at least 20 patches, got ${n}`);
  const iou = Float32Array.from(perPatch.iou as ArrayLike<number | null>, (v) => (v === null ? NaN : v));

  // Pass 1: mean and covariance.
  const pca = new StreamingPCA({ nComponents: k, kernel: options.gramKernel });
  for (const chunk of reader.chunks(chunkRows)) {
    await pca.partialFit(chunk.data, chunk.rows);
    progress('pca-fit', chunk.start + chunk.rows, n);
  }
  await pca.finalize();
  lap('pcaFit');

  // Pass 2: project.
  const pcs = new Float32Array(n * k);
  for (const chunk of reader.chunks(chunkRows)) {
    pcs.set(pca.transform(chunk.data, chunk.rows), chunk.start * k);
    progress('pca-transform', chunk.start + chunk.rows, n);
  }
  lap('pcaTransform');

  const estimator = fitIouSurface(pcs, n, k, iou, options);
  progress('estimator', 1, 1);
  lap('estimator');

  const sweep = sweepKMeans(pcs, n, k, {
    kMin: options.kMin ?? 2,
    kMax: options.kMax ?? 20,
    seed,
    fitSampleSize: options.clusterSampleSize ?? 50_000,
    silhouetteSampleSize: options.silhouetteSampleSize ?? 2000,
  });
  progress('kmeans', 1, 1);
  lap('kmeans');

  let dbscan: LatentAnalysis['dbscan'] = null;
  let dbscanLabels: Int32Array | null = null;
  if (options.dbscan ?? true) {
    const minPts = 2 * k;
    // ε must come from the same sample density DBSCAN then runs on.
    const sampleSize = options.dbscanSampleSize ?? 10_000;
    const eps = suggestEps(pcs, n, k, { k: minPts, seed, sampleSize });
    const result = new DBSCAN({ eps, minPts, seed, sampleSize }).fitPredict(pcs, n, k);
    dbscanLabels = result.labels;
    dbscan = {
      eps,
      minPts,
      nClusters: result.nClusters,
      noiseShare: result.noiseShare,
      adjustedRand: adjustedRandIndex(result.labels, sweep.labels),
      sampled: result.sampled,
    };
    progress('dbscan', 1, 1);
  }
  lap('dbscan');

  const clusters = summariseClusters(
    pcs,
    k,
    sweep.labels,
    sweep.model.centroids,
    sweep.chosenK,
    iou,
    perPatch.gtFraction,
  );
  const choice = pickUrbanisedClusters(clusters);
  const urbanised = { clusters: choice.urbanised, threshold: choice.threshold, reason: choice.reason };
  lap('clusters');

  const json = pca.toJSON();
  return {
    nPatches: n,
    dims: reader.dims,
    pca: json,
    explainedVariance: json.explainedVariance,
    explainedVarianceRatio: json.explainedVarianceRatio,
    pcs,
    estimator: estimator.summary,
    iouHat: estimator.iouHat,
    kmeans: {
      space: 'pcs',
      sweep: sweep.sweep,
      chosenK: sweep.chosenK,
      silhouette: sweep.silhouette,
      labels: sweep.labels,
      centroids: sweep.model.toJSON().centroids,
      model: sweep.model.toJSON(),
    },
    dbscan,
    dbscanLabels,
    clusters,
    urbanised,
    timings,
  };
}

function fitIouSurface(
  pcs: Float32Array,
  n: number,
  k: number,
  iou: Float32Array,
  options: LatentAnalysisOptions,
) {
  const seed = options.seed ?? 0;
  const epochs = options.mlpEpochs ?? 200;
  const valid: number[] = [];
  for (let i = 0; i < n; i++) if (Number.isFinite(iou[i])) valid.push(i);
  if (valid.length < 20) {
    throw new EstimatorError(
      `analyzeLatentSpace: only ${valid.length} of ${n} patches have an IoU (the rest are empty); ` +
        'the IoU surface needs at least 20 — add patches with buildings',
    );
  }
  const gather = (rows: ArrayLike<number>) => {
    const y = new Float32Array(rows.length);
    for (let i = 0; i < rows.length; i++) y[i] = iou[rows[i]];
    return { X: takeRows(pcs, k, rows), y };
  };
  const mlp = (s: number) => new MLPRegressor({ seed: s, epochs, earlyStopping: true });

  // The reported model: 85 / 15 over patches with an IoU, training rows capped for time.
  const split = trainTestSplit(valid.length, 0.15, seed);
  const trainAll = Array.from(split.train, (i) => valid[i]);
  const trainPick = sampleIndices(
    trainAll.length,
    options.estimatorSampleSize ?? 40_000,
    createRng(seed + 1),
  );
  const train = gather(Array.from(trainPick, (i) => trainAll[i]));
  const test = gather(Array.from(split.test, (i) => valid[i]));
  const model = mlp(seed).fit(train.X, train.y.length, k, train.y);
  const mean = new MeanRegressor().fit(train.X, train.y.length, k, train.y);
  const testPred = model.predict(test.X, test.y.length);
  const meanPred = mean.predict(test.X, test.y.length);

  // iouHat: every patch with an IoU gets a fold model's estimate that never saw it; empty patches were never
  // trained on, so the reported model's estimate is already held out for them.
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const iouHat = new Float32Array(n);
  for (let start = 0; start < n; start += 65_536) {
    const rows = Math.min(65_536, n - start);
    const pred = model.predict(pcs.subarray(start * k, (start + rows) * k), rows);
    for (let i = 0; i < rows; i++) iouHat[start + i] = clamp(pred[i]);
  }
  const folds = Math.max(2, options.oofFolds ?? 5);
  const perm = permutation(valid.length, createRng(seed + 2));
  const foldOf = new Int32Array(valid.length);
  for (let i = 0; i < perm.length; i++) foldOf[perm[i]] = i % folds;
  const oofTruth = new Float32Array(valid.length);
  const oofPred = new Float32Array(valid.length);
  for (let f = 0; f < folds; f++) {
    const inFold: number[] = [];
    const outFold: number[] = [];
    for (let i = 0; i < valid.length; i++) (foldOf[i] === f ? inFold : outFold).push(i);
    const pick = sampleIndices(outFold.length, options.oofSampleSize ?? 10_000, createRng(seed + 10 + f));
    const tr = gather(Array.from(pick, (i) => valid[outFold[i]]));
    const foldModel = mlp(seed + 10 + f).fit(tr.X, tr.y.length, k, tr.y);
    const te = gather(inFold.map((i) => valid[i]));
    const pred = foldModel.predict(te.X, te.y.length);
    inFold.forEach((i, j) => {
      iouHat[valid[i]] = clamp(pred[j]);
      oofTruth[i] = te.y[j];
      oofPred[i] = clamp(pred[j]);
    });
  }
  return {
    iouHat,
    summary: {
      model: model.toJSON(),
      heldOutR2: r2Score(test.y, testPred),
      heldOutMae: meanAbsoluteError(test.y, testPred),
      meanPredictorR2: r2Score(test.y, meanPred),
      meanPredictorMae: meanAbsoluteError(test.y, meanPred),
      nTrain: train.y.length,
      nTest: test.y.length,
      nExcluded: n - valid.length,
      oofFolds: folds,
      oofR2: r2Score(oofTruth, oofPred),
      heldOutRows: Int32Array.from(split.test, (i) => valid[i]),
    },
  };
}

function summariseClusters(
  pcs: Float32Array,
  k: number,
  labels: Int32Array,
  centroids: Float64Array,
  nClusters: number,
  iou: Float32Array,
  gtFraction: Float32Array,
): ClusterSummary[] {
  const REPS = 5;
  const ious: number[][] = Array.from({ length: nClusters }, () => []);
  const gts: number[][] = Array.from({ length: nClusters }, () => []);
  const repIdx = Array.from({ length: nClusters }, () => new Int32Array(REPS).fill(-1));
  const repDist = Array.from({ length: nClusters }, () => new Float64Array(REPS).fill(Infinity));
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    gts[c].push(gtFraction[i]);
    if (Number.isFinite(iou[i])) ious[c].push(iou[i]);
    let d2 = 0;
    for (let j = 0; j < k; j++) d2 += (pcs[i * k + j] - centroids[c * k + j]) ** 2;
    const dist = repDist[c];
    const idx = repIdx[c];
    if (d2 < dist[REPS - 1]) {
      let j = REPS - 1;
      while (j > 0 && dist[j - 1] > d2) {
        dist[j] = dist[j - 1];
        idx[j] = idx[j - 1];
        j--;
      }
      dist[j] = d2;
      idx[j] = i;
    }
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : null);
  return Array.from({ length: nClusters }, (_, c) => ({
    cluster: c,
    size: gts[c].length,
    meanIou: mean(ious[c]),
    medianIou: median(ious[c]),
    meanGtFraction: mean(gts[c]) ?? 0,
    medianGtFraction: median(gts[c]) ?? 0,
    representatives: Array.from(repIdx[c]).filter((i) => i >= 0),
  }));
}
