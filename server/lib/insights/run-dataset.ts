/**
 * Reopens the dataset a stored run was made from, so that a second pass can see masks and predictions again
 * without the run having kept them.
 */
import type { DatabaseHandle } from '../db/client.ts';
import { getDataset, getModel, requireRun } from '../db/analysis-repo.ts';
import { openDemoWorldDataset } from '../datasets/demo-world.ts';
import type { PatchSource } from '../datasets/patch-source.ts';
import { InsightsError } from './errors.ts';

/** The model file a run was made with (server-side path). */
export function runModelPath(db: DatabaseHandle, runId: number): string {
  const run = requireRun(db, runId);
  const model = getModel(db, run.modelId);
  if (!model) throw new InsightsError(`model ${run.modelId} of run ${runId} is gone; re-run the analysis`);
  return model.path;
}

export function openRunDataset(db: DatabaseHandle, runId: number): PatchSource {
  const run = requireRun(db, runId);
  const ds = getDataset(db, run.datasetId);
  if (!ds) throw new InsightsError(`dataset ${run.datasetId} of run ${runId} is gone; re-run the analysis`);
  const src = ds.source;
  if (ds.kind === 'demo_world' && typeof src.world === 'string') {
    return openDemoWorldDataset(src.world, src.region === 'new' ? 'new' : 'train');
  }
  throw new InsightsError(
    `dataset '${ds.name}' of run ${runId} is of kind '${ds.kind}', which the evidence pass cannot reopen yet; ` +
      'pass its patch source to computePatchEvidence() yourself',
  );
}
