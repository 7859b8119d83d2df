/**
 * The database schema: one module, tables as code, row types inferred from them.
 * `npx drizzle-kit generate` turns changes here into the SQL under `migrations/`.
 *
 * Only the reference-analysis side lives here so far; the scoring side (projects, tiles, jobs)
 * arrives in a later migration and references `models` and `analysis_runs` by id.
 */
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex,
  type AnySQLiteColumn,
} from 'drizzle-orm/sqlite-core';
import type {
  ClusterRepresentatives,
  DatasetSource,
  DbscanState,
  EstimatorState,
  KmeansState,
  ModelSidecar,
  NoveltyState,
  PatchPhenomena,
  PcaState,
  RunSettings,
  Timings,
  UrbanisedState,
} from './json.ts';

/** Milliseconds since the epoch, set by SQLite so rows written outside the app get one too. */
const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' })
    .notNull()
    .default(sql`(cast(unixepoch('subsec') * 1000 as integer))`);

/** The enums below are TypeScript-only in drizzle; a CHECK makes SQLite hold rows written by any client to them too. */
const oneOf = (column: AnySQLiteColumn, values: readonly string[]) =>
  sql`${column} in (${sql.join(
    values.map((v) => sql.raw(`'${v}'`)),
    sql`, `,
  )})`;

export const MODEL_RUNTIMES = ['onnx', 'tfjs'] as const;
export const DATASET_KINDS = ['demo_world', 'folder', 'manifest', 'geotiff', 'footprints'] as const;
/** A run row is written only once the whole analysis is done, in the same transaction as its patches. */
export const RUN_STATUSES = ['complete'] as const;
export const ACTIVATION_DTYPES = ['float32', 'float16'] as const;

export const models = sqliteTable(
  'models',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    runtime: text('runtime', { enum: MODEL_RUNTIMES }).notNull(),
    /** Server-side location of the weights; never sent to a browser. */
    path: text('path').notNull(),
    sha256: text('sha256').notNull(),
    inputSize: integer('input_size').notNull(),
    /** The bottleneck layer (ONNX output name or TF.js layer name) whose activations are read. */
    layer: text('layer').notNull(),
    sidecar: text('sidecar', { mode: 'json' }).$type<ModelSidecar>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('models_name_sha256_unique').on(t.name, t.sha256),
    check('models_runtime_check', oneOf(t.runtime, MODEL_RUNTIMES)),
  ],
);

export const datasets = sqliteTable(
  'datasets',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    kind: text('kind', { enum: DATASET_KINDS }).notNull(),
    source: text('source', { mode: 'json' }).$type<DatasetSource>().notNull(),
    patchCount: integer('patch_count').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('datasets_name_unique').on(t.name),
    check('datasets_kind_check', oneOf(t.kind, DATASET_KINDS)),
  ],
);

export const analysisRuns = sqliteTable(
  'analysis_runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'restrict' }),
    datasetId: integer('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'restrict' }),
    status: text('status', { enum: RUN_STATUSES }).notNull().default('complete'),
    settings: text('settings', { mode: 'json' }).$type<RunSettings>().notNull(),
    pca: text('pca', { mode: 'json' }).$type<PcaState>().notNull(),
    estimator: text('estimator', { mode: 'json' }).$type<EstimatorState>().notNull(),
    kmeans: text('kmeans', { mode: 'json' }).$type<KmeansState>().notNull(),
    dbscan: text('dbscan', { mode: 'json' }).$type<DbscanState>(),
    urbanised: text('urbanised', { mode: 'json' }).$type<UrbanisedState>().notNull(),
    novelty: text('novelty', { mode: 'json' }).$type<NoveltyState>(),
    /** Server-side file of pooled activations (patchCount × dims), kept for re-fitting. */
    activationsPath: text('activations_path'),
    activationDtype: text('activation_dtype', { enum: ACTIVATION_DTYPES }).notNull(),
    dims: integer('dims').notNull(),
    patchCount: integer('patch_count').notNull(),
    emptyCount: integer('empty_count').notNull(),
    /** IoU of the summed counts over all patches. */
    modelIouPooled: real('model_iou_pooled'),
    /** Mean of the per-patch IoUs that are defined. */
    modelIouMean: real('model_iou_mean'),
    timings: text('timings', { mode: 'json' }).$type<Timings>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('analysis_runs_model_dataset_idx').on(t.modelId, t.datasetId, t.createdAt),
    check('analysis_runs_status_check', oneOf(t.status, RUN_STATUSES)),
    check('analysis_runs_activation_dtype_check', oneOf(t.activationDtype, ACTIVATION_DTYPES)),
  ],
);

export const patches = sqliteTable(
  'patches',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    /** Task id '18-x-y' for tiles, 'file#window' for windows of an image. */
    patchKey: text('patch_key').notNull(),
    /** District or source dataset the patch belongs to. */
    groupName: text('group_name'),
    /** The dataset's own split (demo world: train / val / test for the model; real data: as the manifest says). */
    split: text('split').notNull(),
    /** The IoU estimator's split: true for the held-out patches its R² / MAE are measured on; null when unused (empty patch). */
    estimatorHoldout: integer('estimator_holdout', { mode: 'boolean' }),
    z: integer('z'),
    x: integer('x'),
    y: integer('y'),
    lon: real('lon'),
    lat: real('lat'),
    /** An id the image store resolves; never a client-supplied path. */
    imageRef: text('image_ref').notNull(),
    tp: integer('tp').notNull(),
    fp: integer('fp').notNull(),
    fn: integer('fn').notNull(),
    tn: integer('tn').notNull(),
    /** Null when ground truth and prediction are both empty, unless the run's empty policy says otherwise. */
    iou: real('iou'),
    dice: real('dice'),
    precision: real('precision'),
    recall: real('recall'),
    gtFraction: real('gt_fraction').notNull(),
    predFraction: real('pred_fraction').notNull(),
    empty: integer('empty', { mode: 'boolean' }).notNull(),
    pc1: real('pc1'),
    pc2: real('pc2'),
    pc3: real('pc3'),
    pc4: real('pc4'),
    pc5: real('pc5'),
    pc6: real('pc6'),
    pc7: real('pc7'),
    pc8: real('pc8'),
    pc9: real('pc9'),
    cluster: integer('cluster'),
    /** -1 is DBSCAN noise. */
    dbscanCluster: integer('dbscan_cluster'),
    iouHat: real('iou_hat'),
    novelty: real('novelty'),
    phenomena: text('phenomena', { mode: 'json' }).$type<PatchPhenomena>(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.idx] }),
    index('patches_run_cluster_idx').on(t.runId, t.cluster),
    index('patches_run_patch_key_idx').on(t.runId, t.patchKey),
    check('patches_counts_check', sql`${t.tp} >= 0 and ${t.fp} >= 0 and ${t.fn} >= 0 and ${t.tn} >= 0`),
  ],
);

export const clusters = sqliteTable(
  'clusters',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    cluster: integer('cluster').notNull(),
    size: integer('size').notNull(),
    meanIou: real('mean_iou'),
    medianIou: real('median_iou'),
    meanGtFraction: real('mean_gt_fraction').notNull(),
    urbanised: integer('urbanised', { mode: 'boolean' }).notNull(),
    /** Patch idx values nearest the centroid, nearest first. */
    representatives: text('representatives', { mode: 'json' }).$type<ClusterRepresentatives>().notNull(),
    centroid: text('centroid', { mode: 'json' }).$type<number[]>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.cluster] })],
);

export type Model = typeof models.$inferSelect;
export type NewModel = typeof models.$inferInsert;
export type Dataset = typeof datasets.$inferSelect;
export type NewDataset = typeof datasets.$inferInsert;
export type AnalysisRun = typeof analysisRuns.$inferSelect;
export type NewAnalysisRun = typeof analysisRuns.$inferInsert;
export type Patch = typeof patches.$inferSelect;
/** A patch as the analysis produces it; the run id is assigned when the run is saved. */
export type NewPatch = Omit<typeof patches.$inferInsert, 'runId'>;
export type Cluster = typeof clusters.$inferSelect;
export type NewCluster = Omit<typeof clusters.$inferInsert, 'runId'>;
