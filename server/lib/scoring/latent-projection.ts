/**
 * A new tile in the reference run's latent space: pooled bottleneck → the run's PCA → its first PCs, and
 * from them the three things the paper's space tells about a tile:
 * - iou_hat: the run's IoU surface (the MLP over the first 9 PCs), clamped to 0..1;
 * - novelty: how far the pooled activations lie from the reference set's (shift-novelty.ts), as a percentile
 *   (0..100) of the reference set's own and as a ratio to its 99th percentile (noveltyRatio, unbounded);
 * - urban_distance: Euclidean distance, in PC units, to the nearest urbanised cluster centroid (the
 *   k-means space is the PCs), and the same divided by the median distance of the reference patches
 *   (urban_distance_scaled: 1 = as far from a settlement as a typical training tile).
 */
import type { DatabaseHandle } from '../db/client.ts';
import { getClusters, getPatches } from '../db/analysis-repo.ts';
import type { AnalysisRun } from '../db/schema.ts';
import { MeanRegressor, MLPRegressor, type MeanRegressorJSON, type MLPJSON } from '../analysis/mlp.ts';
import { ShiftNovelty, type ShiftNoveltyJSON } from '../analysis/shift-novelty.ts';
import { StreamingPCA, type StreamingPCAJSON } from '../analysis/pca.ts';
import { ScoringError } from './errors.ts';
import { medianDistance, urbanDistances } from '../analysis/urban-distance.ts';

export interface LatentProjection {
  /** n × nComponents, row-major. */
  pcs: Float32Array;
  nComponents: number;
  iouHat: Float32Array;
  novelty: Float32Array;
  noveltyRatio: Float32Array;
  urbanDistance: Float32Array;
  urbanDistanceScaled: Float32Array;
}

export interface LatentProjectorState {
  runId: number;
  pca: StreamingPCA;
  estimator: MLPRegressor | MeanRegressor;
  novelty: ShiftNovelty;
  /** Urbanised centroids in PC space, each of `centroidDims` values. */
  urbanCentroids: number[][];
  /** Median urban distance of the reference patches; the unit of urban_distance_scaled. */
  urbanScale: number;
  /** Why these centroids: the run's own reason, or the fallback used when it marked none. */
  urbanReason: string;
}

function unusable(run: AnalysisRun, what: string): never {
  throw new ScoringError(
    'run-unusable',
    `reference run ${run.id} cannot score tiles: ${what}; re-run the reference analysis with this tilelens version`,
  );
}

export class LatentProjector {
  constructor(readonly state: LatentProjectorState) {}

  get nComponents(): number {
    return this.state.pca.nComponents;
  }

  get dims(): number {
    return this.state.pca.dims;
  }

  /** Distance of each row of `pcs` (n × k) to the nearest urbanised centroid. */
  urbanDistances(pcs: Float32Array, n: number): Float32Array {
    return urbanDistances(pcs, n, this.nComponents, this.state.urbanCentroids);
  }

  /** `pooled` holds n rows of `dims` pooled activations. */
  project(pooled: Float32Array, n: number): LatentProjection {
    const { pca, estimator, novelty, urbanScale } = this.state;
    const k = pca.nComponents;
    const pcs = pca.transform(pooled, n);
    const f = estimator.nFeatures;
    const head = new Float32Array(n * f);
    for (let r = 0; r < n; r++) head.set(pcs.subarray(r * k, r * k + f), r * f);
    const iouHat = estimator
      .predict(head, n)
      .map((v) => Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)));
    const shift = novelty.score(pooled, n);
    const urbanDistance = this.urbanDistances(pcs, n);
    const urbanDistanceScaled = urbanDistance.map((d) => d / urbanScale);
    return {
      pcs,
      nComponents: k,
      iouHat,
      novelty: shift.percentile,
      noveltyRatio: shift.ratio,
      urbanDistance,
      urbanDistanceScaled,
    };
  }
}

const PAGE = 10_000;
const PC_COLUMNS = ['pc1', 'pc2', 'pc3', 'pc4', 'pc5', 'pc6', 'pc7', 'pc8', 'pc9'] as const;

/** Builds the projector from a stored run: its estimators' JSON, its clusters, and its patches' PCs (paged). */
export async function loadLatentProjector(
  handle: DatabaseHandle,
  run: AnalysisRun,
): Promise<LatentProjector> {
  const pca = StreamingPCA.fromJSON(run.pca as unknown as StreamingPCAJSON);
  const k = pca.nComponents;
  const model = run.estimator.model as { kind?: string };
  const estimator =
    model.kind === 'MLPRegressor'
      ? MLPRegressor.fromJSON(model as MLPJSON)
      : model.kind === 'MeanRegressor'
        ? MeanRegressor.fromJSON(model as MeanRegressorJSON)
        : unusable(run, `its IoU estimator is a "${String(model.kind)}", not an MLPRegressor`);
  if (estimator.nFeatures > k)
    unusable(run, `its IoU estimator reads ${estimator.nFeatures} PCs but the PCA keeps ${k}`);
  if (!run.novelty || run.novelty.kind !== 'ShiftNovelty')
    unusable(run, 'it has no shift-novelty estimator (it predates tile-level trust)');
  const novelty = ShiftNovelty.fromJSON(run.novelty as unknown as ShiftNoveltyJSON);
  if (novelty.dims !== pca.dims)
    unusable(run, `its novelty estimator reads ${novelty.dims} pooled values but its PCA ${pca.dims}`);

  const centroids = run.kmeans.centroids;
  if (centroids.some((c) => c.length > k))
    unusable(run, `its k-means centroids have more dims than its ${k} PCs`);
  let urbanised = run.urbanised.clusters.filter((c) => c < centroids.length);
  let urbanReason = run.urbanised.reason;
  if (urbanised.length === 0) {
    // No cluster qualified as urbanised: the most built-up one is still the settlement pole of the space.
    const clusters = await getClusters(handle, run.id);
    const top = clusters.reduce<(typeof clusters)[number] | undefined>(
      (best, c) => (!best || c.meanGtFraction > best.meanGtFraction ? c : best),
      undefined,
    );
    if (!top) unusable(run, 'it has no clusters');
    urbanised = [top.cluster];
    urbanReason = `no cluster was marked urbanised (${run.urbanised.reason}); distances are to cluster ${top.cluster}, the one with the highest building share`;
  }
  const projector = new LatentProjector({
    runId: run.id,
    pca,
    estimator,
    novelty,
    urbanCentroids: urbanised.map((c) => centroids[c]),
    urbanScale: 1,
    urbanReason,
  });
  projector.state.urbanScale = await medianReferenceDistance(handle, run, projector);
  return projector;
}

async function medianReferenceDistance(
  handle: DatabaseHandle,
  run: AnalysisRun,
  projector: LatentProjector,
): Promise<number> {
  const k = projector.nComponents;
  const columns = PC_COLUMNS.slice(0, Math.min(k, PC_COLUMNS.length));
  const distances: number[] = [];
  const row = new Float32Array(k);
  for (let offset = 0; ; offset += PAGE) {
    const page = await getPatches(handle, run.id, { columns, limit: PAGE, offset });
    for (const p of page) {
      const values = columns.map((c) => p[c]);
      if (values.some((v) => v === null)) continue;
      row.fill(0);
      values.forEach((v, j) => (row[j] = v as number));
      distances.push(projector.urbanDistances(row, 1)[0]);
    }
    if (page.length < PAGE) break;
  }
  return medianDistance(distances);
}
