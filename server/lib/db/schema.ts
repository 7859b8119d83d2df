/**
 * The database schema: one module, tables as code, row types inferred from them.
 * `npx drizzle-kit generate` turns changes here into the SQL under `migrations/`.
 *
 * The reference-analysis side (models, datasets, runs, patches, clusters) and the scoring side
 * (imagery sources, projects, scoring jobs, scored tiles), which references the first by id.
 */
import { sql } from 'drizzle-orm';
import {
  blob,
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
import type { BBox } from '../geo/tiles.ts';
import type { ImagerySpec } from '../imagery/source.ts';
import { TIERS, TILE_STATUSES } from '../scored-tiles/scored-tile.ts';
import type {
  ClusterRepresentatives,
  ColumnsHeader,
  DatasetSource,
  DbscanState,
  EstimatorState,
  KmeansState,
  ModelSidecar,
  NoveltyState,
  TileModelStateJson,
  PatchPhenomena,
  PcaState,
  RegionLookJson,
  RunSettings,
  SampleDesign,
  TileRectJson,
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
    /** Tile classifier and doubt parameters (analysis/tile-model.ts); null for runs made before they existed. */
    tileModel: text('tile_model', { mode: 'json' }).$type<TileModelStateJson>(),
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
    /** Surest pixel, mean pixel probability and mean 4p(1 − p): the prediction's tile-level evidence. */
    maxProb: real('max_prob'),
    meanProb: real('mean_prob'),
    uncertainty: real('uncertainty'),
    /** The run's tile classifier: P(the patch holds a building). */
    buildingProb: real('building_prob'),
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
    /** Novelty as a multiple of the reference set's 99th percentile (shift-novelty.ts). */
    noveltyRatio: real('novelty_ratio'),
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

// ── scoring: imagery, projects, jobs, tiles ─────────────────────────────────────────────────────

export const IMAGERY_KINDS = ['pmtiles', 'xyz', 'geotiff', 'geotiff-folder'] as const;
export const JOB_STATUSES = ['queued', 'running', 'cancelled', 'done', 'failed'] as const;
export const JOB_MODES = ['score', 'retry'] as const;

export const imagerySources = sqliteTable(
  'imagery_sources',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    kind: text('kind', { enum: IMAGERY_KINDS }).notNull(),
    /** The spec the source is opened from; holds server-side paths, so it is never sent to a browser. */
    spec: text('spec', { mode: 'json' }).$type<ImagerySpec>().notNull(),
    attribution: text('attribution'),
    bounds: text('bounds', { mode: 'json' }).$type<BBox>(),
    minZoom: integer('min_zoom').notNull(),
    maxZoom: integer('max_zoom').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('imagery_sources_name_unique').on(t.name),
    check('imagery_sources_kind_check', oneOf(t.kind, IMAGERY_KINDS)),
  ],
);

export const projects = sqliteTable(
  'projects',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    zoom: integer('zoom').notNull(),
    imageryId: integer('imagery_id')
      .notNull()
      .references(() => imagerySources.id, { onDelete: 'restrict' }),
    /** The reference analysis whose PCA, IoU surface, clusters and novelty the tiles are projected through. */
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'restrict' }),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'restrict' }),
    /** The area as a GeoJSON FeatureCollection of Polygons. */
    area: text('area', { mode: 'json' }).$type<ProjectAreaJson>().notNull(),
    areaKm2: real('area_km2').notNull(),
    tileCount: integer('tile_count').notNull(),
    bbox: text('bbox', { mode: 'json' }).$type<BBox>().notNull(),
    lookFor: text('look_for').notNull(),
    /** The look the last scoring job read the tiles through (hazy or coarse imagery restored); null before one ran. */
    regionLook: text('region_look', { mode: 'json' }).$type<RegionLookJson>(),
    createdAt: createdAt(),
  },
  (t) => [index('projects_run_idx').on(t.runId)],
);

export const scoringJobs = sqliteTable(
  'scoring_jobs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    projectId: integer('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    status: text('status', { enum: JOB_STATUSES }).notNull(),
    /**
     * 'score' walks the project's grid and stores every tile without a row; 'retry' takes the tiles whose
     * imagery failed (failed / undecodable) and scores them again. done / failed / total count the grid
     * for 'score', the tiles to retry for 'retry'.
     */
    mode: text('mode', { enum: JOB_MODES }).notNull().default('score'),
    /** Tiles of the project with a stored row, whatever their status ('retry': tiles retried so far). */
    done: integer('done').notNull().default(0),
    /** Of those, the tiles that could not be scored (missing, undecodable or failed imagery). */
    failed: integer('failed').notNull().default(0),
    total: integer('total').notNull(),
    error: text('error'),
    batchSize: integer('batch_size').notNull(),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('scoring_jobs_project_idx').on(t.projectId, t.id),
    index('scoring_jobs_status_idx').on(t.status),
    // No CHECK on mode: adding one to an existing table makes drizzle-kit rebuild it, copying a column the
    // old table lacks. The column's enum type keeps the values in line.
    check('scoring_jobs_status_check', oneOf(t.status, JOB_STATUSES)),
  ],
);

export const tileScores = sqliteTable(
  'tile_scores',
  {
    projectId: integer('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    z: integer('z').notNull(),
    x: integer('x').notNull(),
    y: integer('y').notNull(),
    taskId: text('task_id').notNull(),
    quadkey: text('quadkey').notNull(),
    status: text('status', { enum: TILE_STATUSES }).notNull(),
    /** Why the tile could not be scored (null when scored). */
    error: text('error'),
    /** Imagery reads spent on the tile over every job, retries included (0 when it came from a cache). */
    attempts: integer('attempts').notNull().default(1),
    /** The score columns are null unless status is 'scored'. */
    buildingProb: real('building_prob'),
    predFraction: real('pred_fraction'),
    iouHat: real('iou_hat'),
    /** Euclidean distance in the run's PC space to the nearest urbanised centroid. */
    urbanDistance: real('urban_distance'),
    /** urbanDistance divided by the median of the reference patches' own: 1 = as far as a typical training tile. */
    urbanDistanceScaled: real('urban_distance_scaled'),
    novelty: real('novelty'),
    /** Novelty as a multiple of the reference set's 99th percentile: above 1 the run does not cover the tile. */
    noveltyRatio: real('novelty_ratio'),
    maxProb: real('max_prob'),
    uncertainty: real('uncertainty'),
    /** buildingProb's interval without labels from the region: it widens with novelty (analysis/doubt.ts). */
    buildingProbLow: real('building_prob_low'),
    buildingProbHigh: real('building_prob_high'),
    /** Set for every status, so that ordering by priority covers the whole project. */
    priority: real('priority').notNull(),
    tier: text('tier', { enum: TIERS }).notNull(),
    /** The smoothed IoU's conformal interval (see server/lib/insights/confidence-intervals.ts); null for older rows. */
    iouLow: real('iou_low'),
    iouHigh: real('iou_high'),
    /** The tile's first principal components (9 by default), for the latent view. */
    pcs: text('pcs', { mode: 'json' }).$type<number[]>(),
    footprints: text('footprints', { mode: 'json' }).$type<FootprintsJson>(),
    jobId: integer('job_id').notNull(),
    runId: integer('run_id').notNull(),
    modelId: integer('model_id').notNull(),
    scoredAt: integer('scored_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.z, t.x, t.y] }),
    index('tile_scores_project_priority_idx').on(t.projectId, t.priority),
    check('tile_scores_status_check', oneOf(t.status, TILE_STATUSES)),
    check('tile_scores_tier_check', oneOf(t.tier, TIERS)),
  ],
);

// ── insights: label errors, review marks, per-patch evidence and intervals, run-level records ───────────

export const REVIEW_MARKS = ['label_wrong', 'model_wrong', 'unsure'] as const;
export const INSIGHT_KINDS = ['evidence', 'label_errors', 'confidence', 'families'] as const;

/** What a second pass of the run's model over its dataset measures per patch that the counts cannot say. */
export const patchEvidence = sqliteTable(
  'patch_evidence',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    /** Mean building probability over the labelled footprints' pixels; null when the label is empty. */
    probInside: real('prob_inside'),
    /** Mean building probability over predicted pixels outside the labels; null when there are none. */
    probOutside: real('prob_outside'),
    /** Boundary IoU (Cheng et al. 2021); null when label and prediction are both empty. */
    boundaryIou: real('boundary_iou'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.idx] })],
);

export const labelErrorScores = sqliteTable(
  'label_error_scores',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    /** q · disagreement + (1 − q) · neighbour gap (q = the run's pooled IoU), higher = more likely a wrong label; 1-based rank in `rank`. */
    score: real('score').notNull(),
    rank: integer('rank').notNull(),
    disagreement: real('disagreement').notNull(),
    neighbourGap: real('neighbour_gap').notNull(),
    /** Which way the label and the model disagree. */
    direction: text('direction', { enum: ['missing_in_image', 'missing_in_label', 'none'] }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.idx] }),
    uniqueIndex('label_error_scores_rank_idx').on(t.runId, t.rank),
  ],
);

/** The errors one labelled or predicted object can be (server/lib/insights/label-objects.ts), and the whole-area one. */
export const LABEL_OBJECT_KINDS = ['phantom', 'missing', 'offset', 'area_offset'] as const;

/**
 * Label errors per object, found by the evidence pass: a footprint the model sees nothing under (phantom, fix:
 * delete), a predicted building no footprint covers (missing, fix: add), a footprint that fits moved (offset,
 * fix: move by dx, dy) and a patch whose whole label fits moved the same way (area_offset, reported once in
 * place of its footprints). Only objects tagged with a kind are kept.
 */
export const labelObjects = sqliteTable(
  'label_objects',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    /** Object number within the patch. */
    n: integer('n').notNull(),
    kind: text('kind', { enum: LABEL_OBJECT_KINDS }).notNull(),
    /** Evidence of its kind, 0..1; each kind is ranked by its own. */
    score: real('score').notNull(),
    /** Pixels of the patch as the dataset holds it. */
    areaPx: real('area_px').notNull(),
    /** Suggested move (offset, area_offset) in patch pixels, x right, y down; metres east / north when known. */
    dxPx: real('dx_px'),
    dyPx: real('dy_px'),
    eastM: real('east_m'),
    northM: real('north_m'),
    /** Outline in patch pixels (not closed); for area_offset the patch's outline. */
    outlinePx: text('outline_px', { mode: 'json' }).$type<Array<[number, number]>>().notNull(),
    /** The outline in lon/lat (closed ring) when the patch is on a map. */
    outline: text('outline', { mode: 'json' }).$type<Array<[number, number]>>(),
    lon: real('lon'),
    lat: real('lat'),
    /** area_offset: footprints that fit best moved the same way. */
    members: integer('members'),
    /** area_offset: neighbouring patches whose offsets agree, merged into this one finding (this one's included). */
    patches: integer('patches'),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.idx, t.n] }),
    index('label_objects_kind_score_idx').on(t.runId, t.kind, t.score),
    check('label_objects_kind_check', oneOf(t.kind, LABEL_OBJECT_KINDS)),
  ],
);

export const reviewMarks = sqliteTable(
  'review_marks',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    mark: text('mark', { enum: REVIEW_MARKS }).notNull(),
    note: text('note'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.idx] }),
    check('review_marks_mark_check', oneOf(t.mark, REVIEW_MARKS)),
  ],
);

export const patchIntervals = sqliteTable(
  'patch_intervals',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    iouLow: real('iou_low').notNull(),
    iouHigh: real('iou_high').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.idx] })],
);

/** One JSON record per run and insight kind: settings, measurements and fitted state. */
export const insightRecords = sqliteTable(
  'insight_records',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: INSIGHT_KINDS }).notNull(),
    record: text('record', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.kind] }),
    check('insight_records_kind_check', oneOf(t.kind, INSIGHT_KINDS)),
  ],
);

/**
 * A run's latent-view columns ("tilelens-columns/1", server/lib/latent/columns-format.ts), written once in
 * one pass over its patches when the run is stored (or at the first request for an older run), so opening
 * the latent view reads two small blobs instead of scanning a million patches. `version` is the builder's:
 * columns of an older builder are rebuilt.
 */
export const latentColumns = sqliteTable(
  'latent_columns',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => analysisRuns.id, { onDelete: 'cascade' }),
    /** 'pc1'..'pc9' (one position column each) or 'attributes'. */
    name: text('name').notNull(),
    version: integer('version').notNull(),
    header: text('header', { mode: 'json' }).$type<ColumnsHeader>().notNull(),
    body: blob('body', { mode: 'buffer' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.name] })],
);

// ── trust: calibration samples and the labels volunteers or managers give tiles ────────────────────────

export const LABEL_VALUES = ['building', 'no_building', 'bad_imagery'] as const;
/** 'sample': answers meant to calibrate (the sample's MapSwipe project, labels set in tilelens); 'mapping': a finished project's answers. */
export const LABEL_PURPOSES = ['sample', 'mapping'] as const;
export const LABEL_SOURCES = ['mapswipe-csv', 'mapswipe-geojson', 'tilelens'] as const;

export const calibrationSamples = sqliteTable(
  'calibration_samples',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    projectId: integer('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    seed: integer('seed').notNull(),
    size: integer('size').notNull(),
    /** Strata, allocation and the tile counts the draw saw (server/lib/trust/calibration-sample.ts). */
    design: text('design', { mode: 'json' }).$type<SampleDesign>().notNull(),
    /** The rectangles its MapSwipe drafts cover, so answers for their extra tiles are recognised. */
    rects: text('rects', { mode: 'json' }).$type<TileRectJson[]>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('calibration_samples_project_idx').on(t.projectId, t.id)],
);

export const calibrationSampleTiles = sqliteTable(
  'calibration_sample_tiles',
  {
    sampleId: integer('sample_id')
      .notNull()
      .references(() => calibrationSamples.id, { onDelete: 'cascade' }),
    z: integer('z').notNull(),
    x: integer('x').notNull(),
    y: integer('y').notNull(),
    taskId: text('task_id').notNull(),
    stratum: integer('stratum').notNull(),
    inclusionProb: real('inclusion_prob').notNull(),
    /** Scores when drawn; an estimate refuses a project rescored since. */
    priority: real('priority').notNull(),
    buildingProb: real('building_prob').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.sampleId, t.z, t.x, t.y] }),
    check('calibration_sample_tiles_prob_check', sql`${t.inclusionProb} > 0 and ${t.inclusionProb} <= 1`),
  ],
);

export const labelImports = sqliteTable(
  'label_imports',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    projectId: integer('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    source: text('source', { enum: LABEL_SOURCES }).notNull(),
    purpose: text('purpose', { enum: LABEL_PURPOSES }).notNull(),
    /** MapSwipe's own project id, as the results name it. */
    mapswipeProjectId: text('mapswipe_project_id'),
    /** Rows read, labels stored, and rows outside the project (extra tiles of a sample's MapSwipe drafts). */
    rows: integer('rows').notNull(),
    stored: integer('stored').notNull(),
    outside: integer('outside').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('label_imports_project_idx').on(t.projectId, t.id),
    check('label_imports_source_check', oneOf(t.source, LABEL_SOURCES)),
    check('label_imports_purpose_check', oneOf(t.purpose, LABEL_PURPOSES)),
  ],
);

export const tileLabels = sqliteTable(
  'tile_labels',
  {
    projectId: integer('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: LABEL_PURPOSES }).notNull(),
    z: integer('z').notNull(),
    x: integer('x').notNull(),
    y: integer('y').notNull(),
    taskId: text('task_id').notNull(),
    label: text('label', { enum: LABEL_VALUES }).notNull(),
    /** MapSwipe's answers (0 no, 1 yes, 2 maybe, 3 bad imagery); null for labels set in tilelens. */
    noCount: integer('no_count'),
    yesCount: integer('yes_count'),
    maybeCount: integer('maybe_count'),
    badCount: integer('bad_count'),
    agreement: real('agreement'),
    importId: integer('import_id')
      .notNull()
      .references(() => labelImports.id, { onDelete: 'cascade' }),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.purpose, t.z, t.x, t.y] }),
    check('tile_labels_label_check', oneOf(t.label, LABEL_VALUES)),
    check('tile_labels_purpose_check', oneOf(t.purpose, LABEL_PURPOSES)),
    check(
      'tile_labels_counts_check',
      sql`coalesce(${t.noCount}, 0) >= 0 and coalesce(${t.yesCount}, 0) >= 0 and coalesce(${t.maybeCount}, 0) >= 0 and coalesce(${t.badCount}, 0) >= 0`,
    ),
  ],
);

export interface ProjectAreaJson {
  type: 'FeatureCollection';
  features: Array<{
    type: 'Feature';
    properties: Record<string, unknown>;
    geometry: { type: 'Polygon'; coordinates: number[][][] };
  }>;
}

export interface FootprintsJson {
  type: 'MultiPolygon';
  coordinates: number[][][][];
}

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
export type ImagerySourceRow = typeof imagerySources.$inferSelect;
export type NewImagerySource = typeof imagerySources.$inferInsert;
export type Project = typeof projects.$inferSelect;
export type NewProject = typeof projects.$inferInsert;
export type ScoringJob = typeof scoringJobs.$inferSelect;
export type TileScore = typeof tileScores.$inferSelect;
export type NewTileScore = typeof tileScores.$inferInsert;
export type ReviewMark = typeof reviewMarks.$inferSelect;
export type ReviewMarkKind = (typeof REVIEW_MARKS)[number];
export type CalibrationSampleRow = typeof calibrationSamples.$inferSelect;
export type CalibrationSampleTileRow = typeof calibrationSampleTiles.$inferSelect;
export type LabelImportRow = typeof labelImports.$inferSelect;
export type TileLabelRow = typeof tileLabels.$inferSelect;
export type LabelValue = (typeof LABEL_VALUES)[number];
export type LabelPurpose = (typeof LABEL_PURPOSES)[number];
export type LabelSource = (typeof LABEL_SOURCES)[number];

// ── publishing: projects handed to MapSwipe and the Tasking Manager; fAIr predictions brought in ─────────

export const PUBLISH_TARGETS = ['mapswipe', 'tasking-manager'] as const;
export const PUBLICATION_STATUSES = ['in-progress', 'done', 'failed'] as const;
/**
 * How far one remote project got. MapSwipe: planned → created → asset-uploaded (Find) → configured →
 * submitted. Tasking Manager: planned → created → priority-areas-set → annotated.
 */
export const PUBLISHED_STAGES = [
  'planned',
  'created',
  'asset-uploaded',
  'configured',
  'submitted',
  'priority-areas-set',
  'annotated',
] as const;

/**
 * One publishing of a project to one tool. Written before the first remote call, so a failure half-way
 * leaves a record of what exists; credentials are never part of it.
 */
export const publications = sqliteTable(
  'publications',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    projectId: integer('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    target: text('target', { enum: PUBLISH_TARGETS }).notNull(),
    /** The tool's base URL, as the server setting gave it. */
    baseUrl: text('base_url').notNull(),
    /** What the manager asked for (tiers, organisation, …), credentials never included. */
    request: text('request', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: PUBLICATION_STATUSES }).notNull(),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    index('publications_project_idx').on(t.projectId, t.id),
    check('publications_target_check', oneOf(t.target, PUBLISH_TARGETS)),
    check('publications_status_check', oneOf(t.status, PUBLICATION_STATUSES)),
  ],
);

/** A project a publication makes in the remote tool: its ids, how far it got, and its last polled status. */
export const publishedProjects = sqliteTable(
  'published_projects',
  {
    publicationId: integer('publication_id')
      .notNull()
      .references(() => publications.id, { onDelete: 'cascade' }),
    /** Stable within the publication: `find:high`, `validate`, `sample:3:1`, `tm`. */
    key: text('key').notNull(),
    position: integer('position').notNull(),
    /** The remote project type (FIND, VALIDATE, …; DRAFT for the Tasking Manager). */
    kind: text('kind').notNull(),
    /** The ULID sent as clientId, made once; the same on every retry. */
    clientId: text('client_id').notNull(),
    assetClientId: text('asset_client_id'),
    remoteId: text('remote_id'),
    assetRemoteId: text('asset_remote_id'),
    stage: text('stage', { enum: PUBLISHED_STAGES }).notNull(),
    /** Everything the steps send (area, specifics, task bodies), fixed when planned so a resume sends the same. */
    spec: text('spec', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    remoteStatus: text('remote_status'),
    processingStatus: text('processing_status'),
    statusMessage: text('status_message'),
    polledAt: integer('polled_at', { mode: 'timestamp_ms' }),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.publicationId, t.key] }),
    uniqueIndex('published_projects_client_id_unique').on(t.clientId),
    check('published_projects_stage_check', oneOf(t.stage, PUBLISHED_STAGES)),
  ],
);

/** A fAIr prediction file brought into a project. */
export const fairImports = sqliteTable(
  'fair_imports',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    projectId: integer('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Polygons in the file, stored (inside the project's tiles), and left out (outside them). */
    features: integer('features').notNull(),
    stored: integer('stored').notNull(),
    outside: integer('outside').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('fair_imports_project_idx').on(t.projectId, t.id)],
);

/** One predicted polygon, filed under the project tile that holds its representative point. */
export const fairPredictions = sqliteTable(
  'fair_predictions',
  {
    importId: integer('import_id')
      .notNull()
      .references(() => fairImports.id, { onDelete: 'cascade' }),
    idx: integer('idx').notNull(),
    z: integer('z').notNull(),
    x: integer('x').notNull(),
    y: integer('y').notNull(),
    taskId: text('task_id').notNull(),
    /** fAIr's mean probability inside the polygon; null when the file gave none. */
    confidence: real('confidence'),
    geometry: text('geometry', { mode: 'json' }).$type<FairGeometryJson>().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.importId, t.idx] }),
    index('fair_predictions_tile_idx').on(t.importId, t.z, t.x, t.y),
  ],
);

/** The per-tile signal of a fAIr import: how many polygons fAIr found there, and how sure it was. */
export const fairTileSignals = sqliteTable(
  'fair_tile_signals',
  {
    importId: integer('import_id')
      .notNull()
      .references(() => fairImports.id, { onDelete: 'cascade' }),
    z: integer('z').notNull(),
    x: integer('x').notNull(),
    y: integer('y').notNull(),
    taskId: text('task_id').notNull(),
    polygons: integer('polygons').notNull(),
    confidenceMax: real('confidence_max'),
    confidenceMean: real('confidence_mean'),
  },
  (t) => [primaryKey({ columns: [t.importId, t.z, t.x, t.y] })],
);

export type FairGeometryJson =
  { type: 'Polygon'; coordinates: number[][][] } | { type: 'MultiPolygon'; coordinates: number[][][][] };

export type PublicationRow = typeof publications.$inferSelect;
export type PublishedProjectRow = typeof publishedProjects.$inferSelect;
export type PublishTarget = (typeof PUBLISH_TARGETS)[number];
export type PublishedStage = (typeof PUBLISHED_STAGES)[number];
export type FairImportRow = typeof fairImports.$inferSelect;
export type FairTileSignalRow = typeof fairTileSignals.$inferSelect;
