/**
 * Reopens the dataset a stored run was made from, so that a second pass can see masks and predictions again
 * without the run having kept them.
 */
import { eq } from 'drizzle-orm';
import type { DatabaseHandle } from '../db/client.ts';
import { getRun } from '../db/analysis-repo.ts';
import { analysisRuns, datasets, models } from '../db/schema.ts';
import { openDemoWorldDataset } from '../datasets/demo-world.ts';
import type { PatchSource } from '../datasets/patch-source.ts';

export class InsightsError extends Error {
  override name = 'InsightsError';
}

export function requireRun(db: DatabaseHandle, runId: number) {
  const run = getRun(db, runId);
  if (!run)
    throw new InsightsError(`analysis run ${runId} does not exist; GET /api/runs lists the stored runs`);
  return run;
}

/** The model file a run was made with (server-side path). */
export function runModelPath(db: DatabaseHandle, runId: number): string {
  const row = db.db
    .select({ path: models.path })
    .from(analysisRuns)
    .innerJoin(models, eq(models.id, analysisRuns.modelId))
    .where(eq(analysisRuns.id, runId))
    .get();
  if (!row)
    throw new InsightsError(`analysis run ${runId} does not exist; GET /api/runs lists the stored runs`);
  return row.path;
}

export function openRunDataset(db: DatabaseHandle, runId: number): PatchSource {
  const run = requireRun(db, runId);
  const ds = db.db.select().from(datasets).where(eq(datasets.id, run.datasetId)).get();
  if (!ds) throw new InsightsError(`dataset ${run.datasetId} of run ${runId} is gone; re-run the analysis`);
  const src = ds.source as Record<string, unknown>;
  if (ds.kind === 'demo_world' && typeof src.world === 'string') {
    return openDemoWorldDataset(src.world, src.region === 'new' ? 'new' : 'train');
  }
  throw new InsightsError(
    `dataset '${ds.name}' of run ${runId} is of kind '${ds.kind}', which the evidence pass cannot reopen yet; ` +
      'pass its patch source to computePatchEvidence() yourself',
  );
}
