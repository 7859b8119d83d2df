/**
 * Reading and writing reference analyses: models, datasets, runs with their patches and clusters.
 *
 * A run is written in one transaction with all of its patches and clusters, so a run that exists is
 * complete and a run that was interrupted (an exception, a crash, SIGKILL) left nothing behind.
 */
import { and, asc, desc, eq, getTableColumns, gt, sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { z } from 'zod';
import { NotFoundError, TilelensError } from '../errors.ts';
import { inTransaction, type DatabaseHandle } from './client.ts';
import {
  encodeValue,
  jsonNumber,
  prepareInsert,
  rowsChanged,
  selectValues,
  type PreparedInsert,
} from './dialect.ts';
import { keysetRows } from './keyset-pages.ts';
import {
  type Timings,
  clusterCentroidSchema,
  clusterRepresentativesSchema,
  datasetSourceSchema,
  dbscanStateSchema,
  estimatorStateSchema,
  kmeansStateSchema,
  modelSidecarSchema,
  noveltyStateSchema,
  pcaStateSchema,
  runSettingsSchema,
  timingsSchema,
  urbanisedStateSchema,
} from './json.ts';
import {
  analysisRuns,
  clusters,
  datasets,
  models,
  patches,
  type AnalysisRun,
  type Cluster,
  type Dataset,
  type Model,
  type NewAnalysisRun,
  type NewCluster,
  type NewDataset,
  type NewModel,
  type NewPatch,
  type Patch,
} from './schema.ts';

// ── errors ────────────────────────────────────────────────────────────────────────────────────────

/** A stored JSON blob that no longer has the shape its readers need: the server's data to fix. */
export class InvalidStoredJsonError extends TilelensError {
  override name = 'InvalidStoredJsonError';
  constructor(
    readonly where: string,
    readonly field: string,
    readonly zodIssues: z.core.$ZodIssue[],
  ) {
    const detail = zodIssues
      .slice(0, 3)
      .map((i) => `${[field, ...i.path.map(String)].join('.')}: ${i.message}`)
      .join('; ');
    super(
      'invalid-stored-json',
      `${where} has an invalid '${field}' (${detail}); re-run the analysis that produced it or fix the writer`,
    );
  }
}

export class UnknownReferenceError extends TilelensError {
  override name = 'UnknownReferenceError';
  constructor(what: 'model' | 'dataset', id: number) {
    super(
      'unknown-reference',
      `No ${what} with id ${id}; register it with upsert${what === 'model' ? 'Model' : 'Dataset'} before saving a run for it`,
      { status: 409 },
    );
  }
}

export class InvalidPatchError extends TilelensError {
  override name = 'InvalidPatchError';
  constructor(
    readonly position: number,
    message: string,
  ) {
    super('invalid-patch', `Patch #${position} of the run being saved ${message}; nothing was saved`, {
      status: 422,
    });
  }
}

export class RunCountMismatchError extends TilelensError {
  override name = 'RunCountMismatchError';
  constructor(field: 'patchCount' | 'emptyCount', declared: number, actual: number) {
    super(
      'run-count-mismatch',
      `The run declares ${field} = ${declared} but its patches give ${actual}; ` +
        'set the run from the patches actually written (was the patch stream cut short?); nothing was saved',
      { status: 422 },
    );
  }
}

export class InvalidQueryError extends TilelensError {
  override name = 'InvalidQueryError';
  constructor(message: string) {
    super('invalid-query', `Invalid query: ${message}`, { status: 400 });
  }
}

// ── models and datasets ───────────────────────────────────────────────────────────────────────────

/** Registers a model, or refreshes the row that has the same name and weights (sha256). */
export async function upsertModel(handle: DatabaseHandle, model: NewModel): Promise<Model> {
  checkJson('the model being registered', 'sidecar', modelSidecarSchema, model.sidecar);
  const { name: _name, sha256: _sha256, createdAt: _createdAt, id: _id, ...rest } = model;
  const { models } = handle.t;
  const [row] = await handle.db
    .insert(models)
    .values(model)
    .onConflictDoUpdate({ target: [models.name, models.sha256], set: rest })
    .returning();
  return row;
}

/** Registers a dataset, or refreshes the row with the same name. */
export async function upsertDataset(handle: DatabaseHandle, dataset: NewDataset): Promise<Dataset> {
  checkJson('the dataset being registered', 'source', datasetSourceSchema, dataset.source);
  const { name: _name, createdAt: _createdAt, id: _id, ...rest } = dataset;
  const { datasets } = handle.t;
  const [row] = await handle.db
    .insert(datasets)
    .values(dataset)
    .onConflictDoUpdate({ target: datasets.name, set: rest })
    .returning();
  return row;
}

// ── saving a run ──────────────────────────────────────────────────────────────────────────────────

/**
 * Rows per multi-row INSERT (36 columns × 256 rows, far under SQLite's 32 766 bound parameters).
 * In-process SQLite gains little from batching: 100k patches took 0.72 s one row a statement,
 * 0.65 s at 32, 0.66 s at 256, 0.74 s at 900; the b-tree and index work dominates.
 */
export const PATCH_BATCH_ROWS = 256;

const PATCH_COLUMNS = Object.entries(getTableColumns(patches)) as [keyof Patch, SQLiteColumn][];

/** Every column of a patch, by its TypeScript name. */
export const PATCH_COLUMN_NAMES: readonly PatchColumn[] = PATCH_COLUMNS.map(([key]) => key);

/**
 * Writes a complete run: the run row, every patch the iterable yields, and the clusters, in one
 * IMMEDIATE transaction. Patches are consumed lazily in batches, so a million of them never sit in
 * memory together; an exception from the iterable (or anywhere else) rolls everything back.
 */
export async function saveAnalysisRun(
  handle: DatabaseHandle,
  run: NewAnalysisRun,
  patchRows: Iterable<NewPatch>,
  clusterRows: NewCluster[],
): Promise<number> {
  checkRunJson('the run being saved', run);
  clusterRows.forEach((c, i) => {
    checkJson(
      `cluster #${i} of the run being saved`,
      'representatives',
      clusterRepresentativesSchema,
      c.representatives,
    );
    checkJson(`cluster #${i} of the run being saved`, 'centroid', clusterCentroidSchema, c.centroid);
  });

  // One transaction: the run row, its patches and clusters land together or not at all.
  return inTransaction(handle, async (tx) => {
    const { models, datasets, analysisRuns, patches, clusters } = tx.t;
    const [model] = await tx.db.select({ id: models.id }).from(models).where(eq(models.id, run.modelId));
    if (!model) throw new UnknownReferenceError('model', run.modelId);
    const [dataset] = await tx.db
      .select({ id: datasets.id })
      .from(datasets)
      .where(eq(datasets.id, run.datasetId));
    if (!dataset) throw new UnknownReferenceError('dataset', run.datasetId);
    const [{ id: runId }] = await tx.db.insert(analysisRuns).values(run).returning({ id: analysisRuns.id });

    const fullBatch = prepareInsert(tx, patches, PATCH_BATCH_ROWS);
    const values: unknown[] = [];
    let rowsInBatch = 0;
    let written = 0;
    let empties = 0;
    for (const patch of patchRows) {
      encodePatch(fullBatch.columns, patch, runId, written, values);
      if (patch.empty) empties++;
      written++;
      if (++rowsInBatch === PATCH_BATCH_ROWS) {
        await fullBatch.run(values);
        values.length = 0;
        rowsInBatch = 0;
      }
    }
    if (rowsInBatch > 0) await prepareInsert(tx, patches, rowsInBatch).run(values);

    if (written !== run.patchCount) throw new RunCountMismatchError('patchCount', run.patchCount, written);
    if (empties !== run.emptyCount) throw new RunCountMismatchError('emptyCount', run.emptyCount, empties);

    if (clusterRows.length > 0) {
      await tx.db.insert(clusters).values(clusterRows.map((c) => ({ ...c, runId })));
    }
    return runId;
  });
}

/**
 * Appends one patch's values in column order, each through its column's own mapping (`encodeValue`);
 * refuses a patch without a value for a required column, naming it, before the store would.
 */
function encodePatch(
  columns: PreparedInsert['columns'],
  patch: NewPatch,
  runId: number,
  position: number,
  out: unknown[],
): void {
  const row = patch as Record<string, unknown>;
  for (const [key, column] of columns) {
    if (key === 'runId') {
      out.push(runId);
      continue;
    }
    const value = row[key];
    if ((value === undefined || value === null) && column.notNull) {
      throw new InvalidPatchError(position, `has no value for '${key}', which is required`);
    }
    out.push(encodeValue(column, value));
  }
}

export async function getModel(handle: DatabaseHandle, id: number): Promise<Model | undefined> {
  const { models } = handle.t;
  const [row] = await handle.db.select().from(models).where(eq(models.id, id));
  return row;
}

export async function getDataset(handle: DatabaseHandle, id: number): Promise<Dataset | undefined> {
  const { datasets } = handle.t;
  const [row] = await handle.db.select().from(datasets).where(eq(datasets.id, id));
  return row;
}

/** The newest run of the newest model registered with these weights (a file's sha256). */
export async function newestRunOfWeights(
  handle: DatabaseHandle,
  sha256: string,
): Promise<AnalysisRun | undefined> {
  const { models, analysisRuns } = handle.t;
  const [model] = await handle.db
    .select({ id: models.id })
    .from(models)
    .where(eq(models.sha256, sha256))
    .orderBy(desc(models.id))
    .limit(1);
  if (!model) return undefined;
  const [run] = await handle.db
    .select()
    .from(analysisRuns)
    .where(eq(analysisRuns.modelId, model.id))
    .orderBy(desc(analysisRuns.createdAt), desc(analysisRuns.id))
    .limit(1);
  if (run) checkRunJson(`analysis run ${run.id}`, run);
  return run;
}

/** Stage timings are known only once the run is stored (the store itself is one of them). */
export async function setRunTimings(handle: DatabaseHandle, runId: number, timings: Timings): Promise<void> {
  checkJson(`analysis run ${runId}`, 'timings', timingsSchema, timings);
  const { analysisRuns } = handle.t;
  await handle.db.update(analysisRuns).set({ timings }).where(eq(analysisRuns.id, runId));
}

// ── reading runs ──────────────────────────────────────────────────────────────────────────────────

export async function getRun(handle: DatabaseHandle, id: number): Promise<AnalysisRun | undefined> {
  const { analysisRuns } = handle.t;
  const [run] = await handle.db.select().from(analysisRuns).where(eq(analysisRuns.id, id));
  if (run) checkRunJson(`analysis run ${id}`, run);
  return run;
}

/** The run, or a 404 that says where the stored runs are listed. */
export async function requireRun(handle: DatabaseHandle, id: number): Promise<AnalysisRun> {
  const run = await getRun(handle, id);
  if (!run) throw new NotFoundError(`analysis run ${id}`, 'GET /api/runs lists the stored runs');
  return run;
}

/** The newest run of a model over a dataset: the one scoring uses unless told otherwise. */
export async function latestRunFor(
  handle: DatabaseHandle,
  modelId: number,
  datasetId: number,
): Promise<AnalysisRun | undefined> {
  const { analysisRuns } = handle.t;
  const [run] = await handle.db
    .select()
    .from(analysisRuns)
    .where(and(eq(analysisRuns.modelId, modelId), eq(analysisRuns.datasetId, datasetId)))
    .orderBy(desc(analysisRuns.createdAt), desc(analysisRuns.id))
    .limit(1);
  if (run) checkRunJson(`analysis run ${run.id}`, run);
  return run;
}

export interface RunFilter {
  modelId?: number;
  datasetId?: number;
  limit?: number;
  offset?: number;
}

export interface RunSummary {
  id: number;
  modelId: number;
  modelName: string;
  datasetId: number;
  datasetName: string;
  status: AnalysisRun['status'];
  patchCount: number;
  emptyCount: number;
  dims: number;
  modelIouPooled: number | null;
  modelIouMean: number | null;
  /** Held-out R² of the IoU surface beside the mean predictor's: the first thing to check in a run. */
  heldOutR2: number | null;
  meanPredictorR2: number | null;
  chosenK: number | null;
  createdAt: Date;
}

/** Runs newest first, without their large JSON blobs. */
export async function listRuns(handle: DatabaseHandle, filter: RunFilter = {}): Promise<RunSummary[]> {
  const { analysisRuns, models, datasets } = handle.t;
  const where: SQL[] = [];
  if (filter.modelId !== undefined) where.push(eq(analysisRuns.modelId, filter.modelId));
  if (filter.datasetId !== undefined) where.push(eq(analysisRuns.datasetId, filter.datasetId));
  return handle.db
    .select({
      id: analysisRuns.id,
      modelId: analysisRuns.modelId,
      modelName: models.name,
      datasetId: analysisRuns.datasetId,
      datasetName: datasets.name,
      status: analysisRuns.status,
      patchCount: analysisRuns.patchCount,
      emptyCount: analysisRuns.emptyCount,
      dims: analysisRuns.dims,
      modelIouPooled: analysisRuns.modelIouPooled,
      modelIouMean: analysisRuns.modelIouMean,
      heldOutR2: jsonNumber(handle, analysisRuns.estimator, ['heldOut', 'r2']),
      meanPredictorR2: jsonNumber(handle, analysisRuns.estimator, ['meanPredictor', 'r2']),
      chosenK: jsonNumber(handle, analysisRuns.kmeans, ['chosenK']),
      createdAt: analysisRuns.createdAt,
    })
    .from(analysisRuns)
    .innerJoin(models, eq(models.id, analysisRuns.modelId))
    .innerJoin(datasets, eq(datasets.id, analysisRuns.datasetId))
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(analysisRuns.createdAt), desc(analysisRuns.id))
    .limit(pageSize(filter.limit ?? 100, 'limit'))
    .offset(pageOffset(filter.offset ?? 0));
}

/** Deletes a run with its patches and clusters (foreign keys cascade). Returns whether it existed. */
export async function deleteRun(handle: DatabaseHandle, id: number): Promise<boolean> {
  const { analysisRuns } = handle.t;
  return rowsChanged(await handle.db.delete(analysisRuns).where(eq(analysisRuns.id, id))) > 0;
}

// ── reading patches and clusters ──────────────────────────────────────────────────────────────────

export type PatchColumn = keyof Patch;

export interface PatchQuery<K extends PatchColumn> {
  /** Only patches of this k-means cluster (served by the (run_id, cluster) index). */
  cluster?: number;
  limit: number;
  offset?: number;
  /** Read only these columns, e.g. ['idx', 'pc1', 'pc2', 'iou'] for the latent plot. */
  columns?: readonly K[];
}

/** A page can hold a whole reference set's plot columns in one go, but not an unbounded table. */
export const MAX_PATCH_PAGE = 200_000;

/** Patches of a run in idx order, one page at a time. */
export async function getPatches<K extends PatchColumn = PatchColumn>(
  handle: DatabaseHandle,
  runId: number,
  query: PatchQuery<K>,
): Promise<Pick<Patch, K>[]> {
  const { patches } = handle.t;
  const all = getTableColumns(patches);
  const names = query.columns ?? (Object.keys(all) as K[]);
  if (names.length === 0) throw new InvalidQueryError('columns is empty; leave it out to read every column');
  const selection: Record<string, SQLiteColumn> = {};
  for (const name of names) {
    const column = (all as Record<string, SQLiteColumn>)[name];
    if (!column) {
      throw new InvalidQueryError(
        `unknown column '${String(name)}'; choose from ${Object.keys(all).join(', ')}`,
      );
    }
    selection[name] = column;
  }
  const where =
    query.cluster === undefined
      ? eq(patches.runId, runId)
      : and(eq(patches.runId, runId), eq(patches.cluster, query.cluster));
  return (await handle.db
    .select(selection)
    .from(patches)
    .where(where)
    .orderBy(asc(patches.idx))
    .limit(pageSize(query.limit, 'limit', MAX_PATCH_PAGE))
    .offset(pageOffset(query.offset ?? 0))) as unknown as Pick<Patch, K>[];
}

export async function getClusters(handle: DatabaseHandle, runId: number): Promise<Cluster[]> {
  const { clusters } = handle.t;
  const rows = await handle.db
    .select()
    .from(clusters)
    .where(eq(clusters.runId, runId))
    .orderBy(asc(clusters.cluster));
  for (const c of rows) {
    const where = `cluster ${c.cluster} of run ${runId}`;
    checkJson(where, 'representatives', clusterRepresentativesSchema, c.representatives);
    checkJson(where, 'centroid', clusterCentroidSchema, c.centroid);
  }
  return rows;
}

export async function patchExists(handle: DatabaseHandle, runId: number, idx: number): Promise<boolean> {
  const { patches } = handle.t;
  const rows = await handle.db
    .select({ one: sql`1` })
    .from(patches)
    .where(and(eq(patches.runId, runId), eq(patches.idx, idx)))
    .limit(1);
  return rows.length > 0;
}

/** Every patch's idx and key, streamed in idx order. */
export async function* iteratePatchKeys(
  handle: DatabaseHandle,
  runId: number,
): AsyncGenerator<{ idx: number; key: string }> {
  const { patches } = handle.t;
  const rows = keysetRows(
    (after: number | undefined, limit) =>
      selectValues(
        handle,
        handle.db
          .select({ idx: patches.idx, key: patches.patchKey })
          .from(patches)
          .where(and(eq(patches.runId, runId), after === undefined ? undefined : gt(patches.idx, after)))
          .orderBy(asc(patches.idx))
          .limit(limit),
      ),
    (row) => row[0] as number,
  );
  for await (const [idx, key] of rows) yield { idx: idx as number, key: key as string };
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────────

function checkJson(where: string, field: string, schema: z.ZodType, value: unknown): void {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidStoredJsonError(where, field, result.error.issues);
}

/** The blobs scoring relies on are checked on the way in and on the way out. */
function checkRunJson(where: string, run: NewAnalysisRun): void {
  checkJson(where, 'settings', runSettingsSchema, run.settings);
  checkJson(where, 'pca', pcaStateSchema, run.pca);
  checkJson(where, 'estimator', estimatorStateSchema, run.estimator);
  checkJson(where, 'kmeans', kmeansStateSchema, run.kmeans);
  if (run.dbscan != null) checkJson(where, 'dbscan', dbscanStateSchema, run.dbscan);
  checkJson(where, 'urbanised', urbanisedStateSchema, run.urbanised);
  if (run.novelty != null) checkJson(where, 'novelty', noveltyStateSchema, run.novelty);
  checkJson(where, 'timings', timingsSchema, run.timings);
  if (run.pca.components[0]?.length !== run.dims) {
    throw new InvalidStoredJsonError(where, 'pca', [
      {
        code: 'custom',
        path: ['components', 0],
        message: `components have ${run.pca.components[0]?.length} values but the run has dims = ${run.dims}`,
        input: undefined,
      },
    ]);
  }
}

function pageSize(n: number, name: string, max = 10_000): number {
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new InvalidQueryError(
      `${name} must be an integer from 1 to ${max}, got ${n}; page through with offset`,
    );
  }
  return n;
}

function pageOffset(n: number): number {
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidQueryError(`offset must be a non-negative integer, got ${n}`);
  return n;
}
