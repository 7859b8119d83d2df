/**
 * One call from a model file and a dataset to a stored analysis run: what `tilelens analyze`, the demo and
 * the tests use. The database sees the run only once everything is computed, in one transaction.
 */
import { basename } from 'node:path';
import type { DatabaseHandle } from '../db/client.ts';
import { fileSha256 } from '../file-hash.ts';
import {
  getRun,
  latestRunFor,
  saveAnalysisRun,
  setRunTimings,
  upsertDataset,
  upsertModel,
} from '../db/analysis-repo.ts';
import { storeRunColumns } from '../latent/run-columns.ts';
import type { AnalysisRun, NewCluster, NewPatch } from '../db/schema.ts';
import type { PatchSource } from '../datasets/patch-source.ts';
import type { SegmentationModel } from '../model/runtime.ts';
import { fitTileModel, type FittedTileModel } from './tile-model.ts';
import {
  defaultReferenceOptions,
  runReferenceAnalysis,
  surfaceTarget,
  type ProgressFn,
  type ReferenceOptions,
  type ReferenceResult,
} from './reference.ts';

export interface AnalysisSummary {
  runId: number;
  modelId: number;
  datasetId: number;
  reused: boolean;
  patchesAnalysed: number;
  emptyPatches: number;
  modelHeldOutIou: { pooled: number | null; mean: number | null; split: string; patches: number };
  estimator: { r2: number; mae: number; meanPredictorR2: number; meanPredictorMae: number; nTest: number };
  chosenK: number;
  silhouette: number;
  urbanisedClusters: number[];
  urbanisedReason: string;
  dbscan: { nClusters: number; noiseShare: number; adjustedRand: number } | null;
  seconds: Record<string, number>;
}

const round = (v: number, digits = 4) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);

export function summariseRun(
  run: AnalysisRun,
  reused: boolean,
  extraSeconds: Record<string, number> = {},
): AnalysisSummary {
  const est = run.estimator;
  const km = run.kmeans;
  const db = run.dbscan;
  const quality = run.settings.modelQuality;
  return {
    runId: run.id,
    modelId: run.modelId,
    datasetId: run.datasetId,
    reused,
    patchesAnalysed: run.patchCount,
    emptyPatches: run.emptyCount,
    modelHeldOutIou: {
      pooled: run.modelIouPooled === null ? null : round(run.modelIouPooled),
      mean: run.modelIouMean === null ? null : round(run.modelIouMean),
      split: quality?.split ?? 'all',
      patches: quality?.patches ?? run.patchCount,
    },
    estimator: {
      r2: round(est.heldOut.r2) ?? Number.NaN,
      mae: round(est.heldOut.mae) ?? Number.NaN,
      meanPredictorR2: round(est.meanPredictor.r2) ?? Number.NaN,
      meanPredictorMae: round(est.meanPredictor.mae) ?? Number.NaN,
      nTest: est.heldOut.n,
    },
    chosenK: km.chosenK,
    silhouette: round(km.silhouette) ?? Number.NaN,
    urbanisedClusters: run.urbanised.clusters,
    urbanisedReason: run.urbanised.reason,
    dbscan: db
      ? {
          nClusters: db.nClusters,
          noiseShare: round(db.noiseShare) ?? 0,
          adjustedRand: round(db.adjustedRand ?? Number.NaN) ?? 0,
        }
      : null,
    seconds: {
      ...Object.fromEntries(Object.entries(run.timings).map(([k, v]) => [k, round(v, 2) ?? 0])),
      ...extraSeconds,
    },
  };
}

export interface AnalyzeRequest {
  db: DatabaseHandle;
  model: SegmentationModel;
  modelPath: string;
  source: PatchSource;
  runsDir: string;
  options?: Partial<ReferenceOptions>;
  /** Reuse the newest stored run of this model on this dataset instead of recomputing. */
  reuse?: boolean;
  onProgress?: ProgressFn;
}

/** Registers model and dataset, runs (or reuses) the reference analysis and stores it. */
export async function analyzeDataset(req: AnalyzeRequest): Promise<AnalysisSummary> {
  const { db, model, source } = req;
  const options = { ...defaultReferenceOptions, ...req.options };
  const modelRow = await upsertModel(db, {
    name: model.info.name,
    runtime: model.info.runtime,
    path: req.modelPath,
    sha256: await fileSha256(req.modelPath),
    inputSize: model.info.inputSize[0],
    layer: model.info.layer,
    sidecar: {
      ...(model.info.provenance ?? {}),
      file: basename(req.modelPath),
      layerShape: model.info.layerShape,
    },
  });
  const datasetRow = await upsertDataset(db, {
    name: source.name,
    kind: source.kind,
    source: source.description,
    patchCount: source.size,
  });
  if (req.reuse) {
    const previous = await latestRunFor(db, modelRow.id, datasetRow.id);
    if (previous && sameSettings(previous, options)) return summariseRun(previous, true);
  }

  const result = await runReferenceAnalysis(model, source, req.runsDir, options, req.onProgress);
  // Novelty in the full activation space and the tile classifier, on the run's own patches and activations.
  const trust = await fitTileModel(result, { seed: options.seed });
  result.timings.novelty = trust.seconds.novelty;
  result.timings.tileClassifier = trust.seconds.classifier;

  const t1 = performance.now();
  const runId = await saveAnalysisRun(
    db,
    runRow(result, modelRow.id, datasetRow.id, options, trust),
    patchRows(result, trust.perPatch),
    clusterRows(result),
  );
  // The latent view's columns are written with the run, so its first opening reads them instead of a million patches.
  await storeRunColumns(db, (await getRun(db, runId))!);
  result.timings.store = (performance.now() - t1) / 1000;
  await setRunTimings(db, runId, result.timings);
  const stored = (await latestRunFor(db, modelRow.id, datasetRow.id))!;
  return summariseRun(stored, false);
}

function sameSettings(run: AnalysisRun, options: ReferenceOptions): boolean {
  const s = run.settings;
  return (
    s.pooling === options.pooling &&
    s.emptyPolicy === options.emptyPolicy &&
    s.seed === options.seed &&
    (s.surfaceEmpty ?? 'exclude') === options.surfaceEmpty &&
    // Runs from before the tile-level trust existed cannot score tiles: analyse again.
    run.tileModel !== null
  );
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

function runRow(
  r: ReferenceResult,
  modelId: number,
  datasetId: number,
  options: ReferenceOptions,
  trust: FittedTileModel,
) {
  const latent = r.latent;
  const { timings: _t, ...settings } = { ...options, timings: null };
  return {
    modelId,
    datasetId,
    settings: {
      ...settings,
      nComponents: latent.pca.nComponents,
      modelQuality: r.modelQuality,
      clusteringSpace: latent.kmeans.space,
      explainedVarianceRatio: latent.explainedVarianceRatio,
    },
    pca: latent.pca,
    estimator: {
      model: latent.estimator.model,
      heldOut: {
        r2: latent.estimator.heldOutR2,
        mae: latent.estimator.heldOutMae,
        n: latent.estimator.nTest,
      },
      meanPredictor: { r2: latent.estimator.meanPredictorR2, mae: latent.estimator.meanPredictorMae },
      nTrain: latent.estimator.nTrain,
      nExcluded: latent.estimator.nExcluded,
      oofFolds: latent.estimator.oofFolds,
      oofR2: latent.estimator.oofR2,
    },
    kmeans: {
      sweep: latent.kmeans.sweep,
      chosenK: latent.kmeans.chosenK,
      silhouette: latent.kmeans.silhouette,
      centroids: latent.kmeans.centroids,
      model: latent.kmeans.model,
    },
    dbscan: latent.dbscan,
    urbanised: latent.urbanised,
    novelty: trust.novelty.toJSON(),
    tileModel: trust.state,
    activationsPath: r.activationsPath,
    activationDtype: options.activationDtype,
    dims: r.dims,
    patchCount: r.table.n,
    emptyCount: r.table.empty.subarray(0, r.table.n).reduce((a, b) => a + b, 0),
    modelIouPooled: finiteOrNull(r.modelQuality.pooledIou),
    modelIouMean: finiteOrNull(r.modelQuality.meanIou),
    timings: {
      ...r.timings,
      ...Object.fromEntries(Object.entries(latent.timings).map(([k, v]) => [`latent.${k}`, v])),
    },
  } as const;
}

function* patchRows(r: ReferenceResult, trust: FittedTileModel['perPatch']): Generator<NewPatch> {
  const t = r.table;
  const k = r.latent.pca.nComponents;
  const pcs = r.latent.pcs;
  const holdout = new Set(r.latent.estimator.heldOutRows);
  const surface = surfaceTarget(t, r.options.surfaceEmpty);
  const dbscanLabels = r.latent.dbscanLabels;
  for (let i = 0; i < t.n; i++) {
    const tile = t.tiles[i];
    const center = t.centers[i];
    const pc = (j: number) => (j < k ? pcs[i * k + j] : null);
    yield {
      idx: i,
      patchKey: t.keys[i],
      groupName: t.groups[i],
      split: t.splits[i],
      estimatorHoldout: surface[i] === undefined || Number.isNaN(surface[i]) ? null : holdout.has(i),
      z: tile?.z ?? null,
      x: tile?.x ?? null,
      y: tile?.y ?? null,
      lon: center?.[0] ?? null,
      lat: center?.[1] ?? null,
      imageRef: t.keys[i],
      tp: t.tp[i],
      fp: t.fp[i],
      fn: t.fn[i],
      tn: t.tn[i],
      iou: finiteOrNull(t.iou[i]),
      dice: finiteOrNull(t.dice[i]),
      precision: finiteOrNull(t.precision[i]),
      recall: finiteOrNull(t.recall[i]),
      gtFraction: t.gtFraction[i],
      predFraction: t.predFraction[i],
      maxProb: t.maxProb[i],
      meanProb: t.meanProb[i],
      uncertainty: t.uncertainty[i],
      buildingProb: trust.buildingProb[i],
      empty: t.empty[i] === 1,
      pc1: pc(0),
      pc2: pc(1),
      pc3: pc(2),
      pc4: pc(3),
      pc5: pc(4),
      pc6: pc(5),
      pc7: pc(6),
      pc8: pc(7),
      pc9: pc(8),
      cluster: r.latent.kmeans.labels[i],
      dbscanCluster: dbscanLabels ? dbscanLabels[i] : null,
      iouHat: r.latent.iouHat[i],
      novelty: trust.noveltyPercentile[i],
      noveltyRatio: trust.noveltyRatio[i],
      phenomena: t.phenomena[i],
    };
  }
}

function clusterRows(r: ReferenceResult): NewCluster[] {
  const urban = new Set(r.latent.urbanised.clusters);
  return r.latent.clusters.map((c) => ({
    cluster: c.cluster,
    size: c.size,
    meanIou: c.meanIou,
    medianIou: c.medianIou,
    meanGtFraction: c.meanGtFraction,
    urbanised: urban.has(c.cluster),
    representatives: c.representatives,
    centroid: r.latent.kmeans.centroids[c.cluster],
  }));
}
