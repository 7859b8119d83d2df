/**
 * Tiles from imagery to the rows a job stores: each tile fetched and decoded on its own (the source handles
 * retries and caching; the job keeps a window of them in flight), then per batch one model call, the
 * bottleneck pooled the way the reference run did and projected into its latent space, and the tile's
 * numbers and footprints derived.
 *
 * A tile whose imagery is missing or broken is a row too (status 'missing' / 'undecodable' / 'failed'),
 * so the project is complete and volunteers' tile lists have no silent holes. A model failure is not a
 * tile's fault: it throws, and the job fails with it.
 */
import type { NewTileScore } from '../db/schema.ts';
import { tileToQuadkey, taskId as tileTaskId, type TileCoord } from '../geo/tiles.ts';
import { decodeTileImage, TileDecodeError } from '../imagery/decode.ts';
import type { ImagerySource } from '../imagery/source.ts';
import type { SegmentationModel } from '../model/runtime.ts';
import { poolActivationsBatch, type PoolingMode } from '../analysis/pooling.ts';
import { tierOf } from '../scored-tiles/tiers.ts';
import { UNREADABLE_PRIORITY } from '../analysis/doubt.ts';
import { IMAGE_STATISTIC_COUNT, imageStatistics } from '../analysis/image-shift.ts';
import { mirrorDisagreement, mirrorTiles, predictionEvidence } from '../analysis/prediction-evidence.ts';
import type { TileModel } from '../analysis/tile-model.ts';
import { applyLook, type Look } from '../analysis/restoration.ts';
import type { LatentProjector } from './latent-projection.ts';
import { vectorizeMask, type VectorizeOptions } from './vectorize.ts';
import { tileInterval, type MondrianConformal } from '../analysis/conformal.ts';

export const TILE_SIZE = 256;

export interface ScoringPipeline {
  runId: number;
  modelId: number;
  model: SegmentationModel;
  projector: LatentProjector;
  /** The run's tile classifier and doubt: P(building), its interval and the priority. */
  tileModel: TileModel;
  /** The look the tile model reads the region's tiles through (region-look.ts); as served when absent. */
  look?: Look;
  pooling: PoolingMode;
  /** Probability at and above which a pixel counts as building (the run's own threshold). */
  threshold: number;
  vectorize?: VectorizeOptions;
  /** The run's conformal interval model (null until `tilelens insights` calibrated one). */
  intervals?: MondrianConformal | null;
}

/** A stored row before the job stamps it with its project, job and time. */
export type TileScoreValues = Omit<NewTileScore, 'projectId' | 'jobId' | 'scoredAt'>;

/** One tile's imagery, fetched and decoded (or why not), with the reads it took. */
export type FetchedTile =
  | { tile: TileCoord; ok: true; rgb: Uint8Array; attempts: number }
  | {
      tile: TileCoord;
      ok: false;
      status: 'missing' | 'undecodable' | 'failed';
      error: string;
      attempts: number;
    };

export async function fetchTile(
  source: ImagerySource,
  tile: TileCoord,
  signal?: AbortSignal,
): Promise<FetchedTile> {
  const got = await source.getTile(tile.z, tile.x, tile.y, signal);
  const attempts = got.attempts ?? 1;
  if (got.status !== 'ok') {
    return {
      tile,
      ok: false,
      status: got.status === 'error' ? 'failed' : got.status,
      error: got.reason,
      attempts,
    };
  }
  try {
    const img = await decodeTileImage(got.bytes, {
      expectedSize: TILE_SIZE,
      label: `tile ${tileTaskId(tile.z, tile.x, tile.y)}`,
    });
    return { tile, ok: true, rgb: img.data, attempts };
  } catch (err) {
    if (err instanceof TileDecodeError)
      return { tile, ok: false, status: 'undecodable', error: err.message, attempts };
    throw err;
  }
}

function identity(tile: TileCoord) {
  return {
    z: tile.z,
    x: tile.x,
    y: tile.y,
    taskId: tileTaskId(tile.z, tile.x, tile.y),
    quadkey: tileToQuadkey(tile.z, tile.x, tile.y),
  };
}

/**
 * The row of a tile the model never saw. Missing imagery cannot be judged by volunteers either, so it
 * gets priority 0; unreadable imagery gets an even chance, so a person looks.
 */
export function unscoredRow(
  pipeline: Pick<ScoringPipeline, 'runId' | 'modelId'>,
  tile: TileCoord,
  status: 'missing' | 'undecodable' | 'failed',
  error: string,
  attempts = 1,
): TileScoreValues {
  const priority = status === 'missing' ? 0 : UNREADABLE_PRIORITY;
  return {
    ...identity(tile),
    status,
    error,
    attempts,
    priority,
    tier: status === 'missing' ? 'skip' : tierOf(priority),
    runId: pipeline.runId,
    modelId: pipeline.modelId,
  };
}

const round = (v: number, digits = 6) => Number(v.toFixed(digits));

/** The tiles (TILE_SIZE² RGB each) as `look` shows them, one after another in a new batch. */
function restoredBatch(tiles: readonly Uint8Array[], look: Look): Uint8Array {
  const tileBytes = TILE_SIZE * TILE_SIZE * 3;
  const out = new Uint8Array(tiles.length * tileBytes);
  tiles.forEach((rgb, i) => out.set(applyLook(rgb, look, TILE_SIZE, TILE_SIZE), i * tileBytes));
  return out;
}

/** Rows for tiles already fetched: one model call for those that decoded, an unscored row for the rest. */
export async function scoreFetched(
  fetched: FetchedTile[],
  pipeline: ScoringPipeline,
): Promise<TileScoreValues[]> {
  const ok = fetched.filter((f): f is Extract<FetchedTile, { ok: true }> => f.ok);
  const rows = new Map<TileCoord, TileScoreValues>();
  for (const f of fetched)
    if (!f.ok) rows.set(f.tile, unscoredRow(pipeline, f.tile, f.status, f.error, f.attempts));
  if (ok.length > 0) {
    const n = ok.length;
    const tileBytes = TILE_SIZE * TILE_SIZE * 3;
    const batch = new Uint8Array(n * tileBytes);
    ok.forEach((f, i) => batch.set(f.rgb, i * tileBytes));
    const prediction = await pipeline.model.predict(batch, n, [TILE_SIZE, TILE_SIZE]);
    const [h, w] = pipeline.model.info.inputSize;
    const plane = h * w;
    const [C, ah, aw] = prediction.activationShape;
    const pooled = poolActivationsBatch(prediction.activations, [n, C, ah, aw], pipeline.pooling);
    const latent = pipeline.projector.project(pooled, n);
    const k = latent.nComponents;
    const stats = new Float32Array(n * IMAGE_STATISTIC_COUNT);
    ok.forEach((f, i) => imageStatistics(f.rgb, TILE_SIZE, TILE_SIZE, stats, i * IMAGE_STATISTIC_COUNT));
    const imageRatio = pipeline.tileModel.imageRatio(stats, n);
    // In a hazy or coarse region the tile model reads the model's answer on the restored look (restoration.ts);
    // the row keeps what the model paints on the imagery as served.
    const look = pipeline.look ?? 'original';
    const seen =
      look === 'original'
        ? batch
        : restoredBatch(
            ok.map((f) => f.rgb),
            look,
          );
    const seenProbs =
      look === 'original'
        ? prediction.probs
        : (await pipeline.model.predict(seen, n, [TILE_SIZE, TILE_SIZE])).probs;
    // A second inference only where the run's tile classifier learnt from the mirror image.
    const mirrored = pipeline.tileModel.readsMirror
      ? await pipeline.model.predict(mirrorTiles(seen, n, TILE_SIZE, TILE_SIZE), n, [TILE_SIZE, TILE_SIZE])
      : null;
    const mask = new Uint8Array(plane);
    const painted = (probs: Float32Array) => {
      let positive = 0;
      for (let p = 0; p < plane; p++) if (probs[p] >= pipeline.threshold) positive++;
      return positive / plane;
    };
    const served = ok.map((_, i) => {
      const probs = prediction.probs.subarray(i * plane, (i + 1) * plane);
      return { predFraction: painted(probs), ...predictionEvidence(probs) };
    });
    const evidence = ok.map((_, i) => {
      const probs = seenProbs.subarray(i * plane, (i + 1) * plane);
      return {
        ...(look === 'original' ? served[i] : { predFraction: painted(probs), ...predictionEvidence(probs) }),
        pcs: latent.pcs.subarray(i * k, (i + 1) * k),
        iouHat: latent.iouHat[i],
        noveltyRatio: latent.noveltyRatio[i],
        urbanDistanceScaled: latent.urbanDistanceScaled[i],
        ...(mirrored
          ? {
              mirrorDisagreement: mirrorDisagreement(
                probs,
                mirrored.probs.subarray(i * plane, (i + 1) * plane),
                w,
                h,
              ),
            }
          : {}),
      };
    });
    const trust = pipeline.tileModel.trust(evidence, imageRatio);
    for (let i = 0; i < n; i++) {
      const probs = prediction.probs.subarray(i * plane, (i + 1) * plane);
      for (let p = 0; p < plane; p++) mask[p] = probs[p] >= pipeline.threshold ? 1 : 0;
      const e = served[i];
      const iouHat = latent.iouHat[i];
      const novelty = Math.min(100, Math.max(0, latent.novelty[i]));
      const t = trust[i];
      const priority = round(t.priority);
      const tile = ok[i].tile;
      rows.set(tile, {
        ...identity(tile),
        status: 'scored',
        attempts: ok[i].attempts,
        buildingProb: round(t.buildingProb),
        buildingProbLow: round(t.buildingProbLow),
        buildingProbHigh: round(t.buildingProbHigh),
        predFraction: round(e.predFraction),
        maxProb: round(e.maxProb),
        uncertainty: round(e.uncertainty),
        iouHat: round(iouHat),
        ...(pipeline.intervals ? tileInterval(pipeline.intervals, iouHat, novelty) : {}),
        urbanDistance: round(latent.urbanDistance[i]),
        urbanDistanceScaled: round(latent.urbanDistanceScaled[i]),
        novelty: round(novelty, 3),
        noveltyRatio: round(t.noveltyRatio, 4),
        priority,
        tier: tierOf(priority),
        pcs: Array.from(latent.pcs.subarray(i * k, (i + 1) * k), (v) => round(v, 5)),
        footprints: e.predFraction > 0 ? vectorizeMask(mask, w, h, tile, pipeline.vectorize) : null,
        runId: pipeline.runId,
        modelId: pipeline.modelId,
      });
    }
  }
  return fetched.map((f) => rows.get(f.tile)!);
}
