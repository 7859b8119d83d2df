/**
 * What scoring a project's tiles needs from its reference run, built once per run and process: the run's model
 * (one session per file and layer, shared by every database and job), its latent projector and tile model, its
 * threshold and intervals. The in-process job runner and a queue worker's chunks build it alike.
 */
import { existsSync } from 'node:fs';
import { getModel, getRun } from '../db/analysis-repo.ts';
import type { AnalysisRun, Model } from '../db/schema.ts';
import { loadIntervalModel } from '../analysis/conformal.ts';
import { pooledDims } from '../analysis/pooling.ts';
import { defaultReferenceOptions } from '../analysis/reference.ts';
import { loadModel, type SegmentationModel } from '../model/runtime.ts';
import { TileModel, type TileModelState } from '../analysis/tile-model.ts';
import { logTo, perDatabase, type ScoringContext } from './context.ts';
import { ScoringError } from './errors.ts';
import { loadLatentProjector, type LatentProjector } from './latent-projection.ts';
import type { ProjectRow } from './projects.ts';
import type { ScoringPipeline } from './score-batch.ts';

const runPipelines = perDatabase(
  () => new Map<number, Promise<{ projector: LatentProjector; tileModel: TileModel }>>(),
);
/** Models are shared by every database and job in the process: one session per (file, layer). */
const modelCache = new Map<string, Promise<SegmentationModel>>();

function cachedModel(ctx: ScoringContext, model: Model): Promise<SegmentationModel> {
  const key = `${model.path}\u0000${model.layer}`;
  let loaded = modelCache.get(key);
  if (!loaded) {
    loaded = loadModel(model.path, { layer: model.layer });
    loaded.catch(() => modelCache.delete(key));
    modelCache.set(key, loaded);
    logTo(ctx, `loading model ${model.id} "${model.name}" (layer ${model.layer})`);
  }
  return loaded;
}

/** Releases the models this process loaded for scoring; for shutdown and tests. */
export async function disposeScoringModels(): Promise<void> {
  const all = [...modelCache.values()];
  modelCache.clear();
  await Promise.all(all.map(async (m) => (await m.catch(() => null))?.dispose()));
}

export function runLatent(ctx: ScoringContext, run: AnalysisRun) {
  const cache = runPipelines(ctx);
  let p = cache.get(run.id);
  if (!p) {
    p = (async () => ({
      projector: await loadLatentProjector(ctx.db, run),
      tileModel: loadTileModel(run),
    }))();
    p.catch(() => cache.delete(run.id));
    cache.set(run.id, p);
  }
  return p;
}

function loadTileModel(run: AnalysisRun): TileModel {
  if (!run.tileModel) {
    throw new ScoringError(
      'run-unusable',
      `reference run ${run.id} has no tile-level trust (it predates it); re-run the reference analysis with this tilelens version`,
    );
  }
  return TileModel.fromState(run.tileModel as unknown as TileModelState);
}

export async function buildPipeline(ctx: ScoringContext, project: ProjectRow): Promise<ScoringPipeline> {
  const run = await getRun(ctx.db, project.runId);
  if (!run) {
    throw new ScoringError(
      'run-not-found',
      `the project's reference run ${project.runId} no longer exists; create the project again with an existing run`,
    );
  }
  const model = await getModel(ctx.db, run.modelId);
  if (!model)
    throw new ScoringError(
      'model-not-found',
      `run ${run.id}'s model ${run.modelId} is not registered any more`,
    );
  if (!existsSync(model.path)) {
    // The path stays in the server log: job errors are shown in the browser.
    logTo(ctx, `model ${model.id} "${model.name}": no file at ${model.path}`);
    throw new ScoringError(
      'model-file-missing',
      `the weights of model ${model.id} "${model.name}" are not where they were registered; restore the file or register the model again`,
    );
  }
  const [segmentation, latent] = await Promise.all([cachedModel(ctx, model), runLatent(ctx, run)]);
  const pooling = run.settings.pooling;
  const dims = pooledDims(segmentation.info.layerShape[0], pooling);
  if (dims !== latent.projector.dims) {
    throw new ScoringError(
      'run-unusable',
      `model ${model.id} gives ${dims} pooled values at layer ${model.layer} but run ${run.id}'s PCA expects ${latent.projector.dims}; the run was made with another model or layer`,
    );
  }
  return {
    runId: run.id,
    modelId: model.id,
    model: segmentation,
    projector: latent.projector,
    tileModel: latent.tileModel,
    pooling,
    threshold: run.settings.threshold ?? defaultReferenceOptions.threshold,
    intervals: await loadIntervalModel(ctx.db, run.id),
  };
}
