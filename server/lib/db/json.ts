/**
 * Shapes of the JSON blobs stored in the database.
 *
 * SQLite keeps them as text, so nothing but these schemas stands between a run written by an older
 * build (or edited by hand) and the scoring side that projects new tiles through the stored PCA and
 * estimator. Only the fields the readers depend on are pinned; each estimator's own learned state
 * stays opaque (it is checked by that estimator's `fromJSON`), and extra keys pass through so that a
 * newer writer does not break an older reader.
 */
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const vector = z.array(finite);

/**
 * The options a run was made with and what it measured on the way. Older runs lack the optional fields;
 * their readers say what the absence means.
 */
export const runSettingsSchema = z.looseObject({
  /** How the bottleneck's spatial grid was reduced to one vector per patch. */
  pooling: z.enum(['mean', 'max', 'mean+max']),
  /** What IoU an empty patch (no ground truth, no prediction) gets: null (default), 1 or 0 (the paper's artefact). */
  emptyPolicy: z.enum(['null', 'one', 'zero']),
  /** What the IoU surface learnt from an empty patch whose IoU is undefined; absent = 'exclude'. */
  surfaceEmpty: z.enum(['one', 'exclude']).optional(),
  seed: z.number().int(),
  /** Probability above which a pixel counts as building; absent = 0.5. */
  threshold: z.number().min(0).max(1).optional(),
  batchSize: z.number().int().positive().optional(),
  activationDtype: z.enum(['float32', 'float16']).optional(),
  kMin: z.number().int().positive().optional(),
  kMax: z.number().int().positive().optional(),
  /** Principal components kept; the IoU estimator reads the first 9 of them. */
  nComponents: z.number().int().positive(),
  /** The model's own IoU, on the split it was measured on (its held-out test split when the dataset has one). */
  modelQuality: z.object({ split: z.string(), patches: z.number().int().nonnegative() }).optional(),
  /** Which space k-means clustered ('pcs' or the like). */
  clusteringSpace: z.string().optional(),
  explainedVarianceRatio: vector.optional(),
});

export const pcaStateSchema = z
  .looseObject({
    kind: z.literal('StreamingPCA'),
    /** nComponents rows of `dims` values each. */
    components: z.array(vector).min(1),
    mean: vector,
    explainedVariance: vector,
    explainedVarianceRatio: vector.optional(),
  })
  .superRefine((pca, ctx) => {
    pca.components.forEach((row, i) => {
      if (row.length !== pca.mean.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['components', i],
          message: `component ${i} has ${row.length} values but mean has ${pca.mean.length}; every row must span the activation dims`,
        });
      }
    });
    if (pca.explainedVariance.length !== pca.components.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['explainedVariance'],
        message: `explainedVariance has ${pca.explainedVariance.length} values for ${pca.components.length} components`,
      });
    }
  });

const regressionScoreSchema = z.looseObject({ r2: finite, mae: finite });

export const estimatorStateSchema = z.looseObject({
  /** The MLP's learned state as its own `toJSON` wrote it. */
  model: z.unknown().refine((s) => s !== undefined && s !== null, 'the estimator state is missing'),
  /** Scores on the held-out split (15 % by default)… */
  heldOut: regressionScoreSchema.extend({ n: z.number().int().nonnegative() }),
  /** …always shown beside a predictor that answers the training mean, so a useless surface is visible. */
  meanPredictor: regressionScoreSchema,
});

export const kmeansStateSchema = z
  .looseObject({
    sweep: z.array(z.looseObject({ k: z.number().int().min(1), silhouette: finite })),
    chosenK: z.number().int().min(1),
    silhouette: finite,
    centroids: z.array(vector).min(1),
  })
  .refine((km) => km.centroids.length === km.chosenK, {
    path: ['centroids'],
    message: 'kmeans must store one centroid per cluster (centroids.length === chosenK)',
  });

export const dbscanStateSchema = z.looseObject({
  eps: finite,
  minPts: z.number().int().positive(),
  nClusters: z.number().int().nonnegative(),
  noiseShare: finite,
  /** Agreement with k-means' labels. */
  adjustedRand: finite.optional(),
});

export const urbanisedStateSchema = z.looseObject({
  clusters: z.array(z.number().int().nonnegative()),
  threshold: finite,
  /** A sentence a person can read: why these clusters count as urbanised. */
  reason: z.string().min(1),
});

/** The fitted novelty estimator as its own `toJSON` wrote it (KnnNovelty by default). */
export const noveltyStateSchema = z.looseObject({
  kind: z.string().min(1),
});

/** The tile-level trust of a run (analysis/tile-model.ts): the tile classifier, the ranker and the doubt parameters. */
export const tileModelStateSchema = z.looseObject({
  kind: z.literal('TileModel'),
  classifier: z.looseObject({ kind: z.literal('TileClassifier') }),
  ranker: z.looseObject({ kind: z.literal('TileClassifier') }).optional(),
  doubt: z.object({ edge: finite, steepness: finite }),
});

/** Stage name → seconds. */
export const timingsSchema = z.record(z.string(), finite);

export const modelSidecarSchema = z.record(z.string(), z.unknown());
export const datasetSourceSchema = z.record(z.string(), z.unknown());
export const patchPhenomenaSchema = z.array(z.string().min(1));
export const clusterRepresentativesSchema = z.array(z.number().int().nonnegative());
export const clusterCentroidSchema = vector;

const share = z.number().min(0).max(1);

/** A calibration sample's design (server/lib/trust/calibration-sample.ts): what its estimates rest on. */
export const sampleStratumSchema = z.looseObject({
  index: z.number().int().nonnegative(),
  /** Priority bins [binLow, binHigh): priority in [low, high), the top stratum including 1. */
  binLow: z.number().int().nonnegative(),
  binHigh: z.number().int().positive(),
  low: share,
  high: share,
  /** N_h: scored tiles in the stratum. */
  tiles: z.number().int().nonnegative(),
  /** n_h: tiles drawn. */
  size: z.number().int().nonnegative(),
  inclusionProb: share,
  /** The model's mean buildingProb over the stratum, for the record. */
  meanBuildingProb: share,
});

export const sampleDesignSchema = z.looseObject({
  method: z.literal('stratified-srswor'),
  seed: z.number().int(),
  size: z.number().int().positive(),
  priorityBins: z.number().int().positive(),
  floorRate: share,
  minPerStratum: z.number().int().positive(),
  /** Scored tiles the sample was drawn from. */
  tiles: z.number().int().nonnegative(),
  /** Tiles that are not scored (missing imagery…): never drawn, never in a figure. */
  keptApart: z.number().int().nonnegative(),
  strata: z.array(sampleStratumSchema).min(1),
});

export const tileRectSchema = z.object({
  x0: z.number().int(),
  x1: z.number().int(),
  y0: z.number().int(),
  y1: z.number().int(),
});

/**
 * The look the scoring job read a project's tiles through (scoring/region-look.ts): decided once per job from a
 * sample of the project's own tiles, kept so the panel, the API and the exports can say it.
 */
export const regionLookSchema = z.object({
  look: z.enum(['original', 'dehazed', 'sharpened']),
  /** Median image novelty ratio of the sampled tiles under each look. */
  medians: z.object({ original: z.number(), dehazed: z.number(), sharpened: z.number() }),
  sampled: z.number().int().nonnegative(),
  /** The job that decided it. */
  jobId: z.number().int().positive(),
});

export type RegionLookJson = z.infer<typeof regionLookSchema>;
export type SampleStratum = z.infer<typeof sampleStratumSchema>;
export type SampleDesign = z.infer<typeof sampleDesignSchema>;
export type TileRectJson = z.infer<typeof tileRectSchema>;
// ── the latent view's stored columns ("tilelens-columns/1", server/lib/latent/columns-format.ts) ─────────

export type ColumnType = 'uint8' | 'uint16' | 'uint32' | 'float32';

/** What a column holds; the layout (offset, length, null code) follows from it and the row count. */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Quantised range: codes 0..nullCode−1 span [min, max]. */
  min?: number;
  max?: number;
  categories?: string[];
}

export interface ColumnHeader extends ColumnSpec {
  offset: number;
  byteLength: number;
  nullCode?: number;
}

export interface ColumnsHeader {
  format: string;
  rows: number;
  columns: ColumnHeader[];
  meta: Record<string, unknown>;
  bodyBytes: number;
}

/** A header and the body it describes: what is stored for a run and cut into answers. */
export interface ColumnsBody {
  header: ColumnsHeader;
  body: Uint8Array;
}

export type RunSettings = z.infer<typeof runSettingsSchema>;
export type PcaState = z.infer<typeof pcaStateSchema>;
export type EstimatorState = z.infer<typeof estimatorStateSchema>;
export type KmeansState = z.infer<typeof kmeansStateSchema>;
export type DbscanState = z.infer<typeof dbscanStateSchema>;
export type UrbanisedState = z.infer<typeof urbanisedStateSchema>;
export type NoveltyState = z.infer<typeof noveltyStateSchema>;
export type Timings = z.infer<typeof timingsSchema>;
export type TileModelStateJson = z.infer<typeof tileModelStateSchema>;
export type ModelSidecar = z.infer<typeof modelSidecarSchema>;
export type DatasetSource = z.infer<typeof datasetSourceSchema>;
export type PatchPhenomena = z.infer<typeof patchPhenomenaSchema>;
export type ClusterRepresentatives = z.infer<typeof clusterRepresentativesSchema>;
