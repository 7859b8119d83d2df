/**
 * What the run page shows an ML lead before managers rely on a model: model quality, the IoU surface against
 * the mean predictor, the k sweep, the clusters and why some count as urbanised.
 */
import { getClusters } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';
import type { AnalysisRun, Cluster } from '../db/schema.ts';
import { summariseRun } from './analyze-dataset.ts';

export function clusterJson(c: Cluster): Omit<Cluster, 'runId'> {
  const { runId: _r, ...rest } = c;
  return rest;
}

export async function runDetail(db: DatabaseHandle, run: AnalysisRun) {
  const summary = summariseRun(run, false);
  return {
    ...summary,
    createdAt: run.createdAt,
    settings: {
      pooling: run.settings.pooling,
      emptyPolicy: run.settings.emptyPolicy,
      seed: run.settings.seed,
      nComponents: run.settings.nComponents,
    },
    explainedVarianceRatio: run.settings.explainedVarianceRatio ?? run.pca.explainedVarianceRatio ?? null,
    // The verdict a person needs first: does the IoU surface beat answering the mean?
    estimatorBeatsMean: summary.estimator.r2 > summary.estimator.meanPredictorR2,
    sweep: run.kmeans.sweep,
    clusters: (await getClusters(db, run.id)).map(clusterJson),
    urbanised: {
      clusters: run.urbanised.clusters,
      threshold: run.urbanised.threshold,
      reason: run.urbanised.reason,
    },
  };
}

export type RunDetail = ReturnType<typeof runDetail>;
