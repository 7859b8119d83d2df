/**
 * The tile-level trust of a reference run, fitted once after its latent analysis and stored with it: the shift
 * detector (novelty in the full activation space), the tile classifier (P(building) on a tile), and the doubt that
 * turns novelty into an interval and a priority. Scoring reads it back with `TileModel.fromState`.
 */
import { ActivationReader } from './activation-store.ts';
import { EstimatorError, type EstimatorJSON } from './estimator.ts';
import { IMAGE_STATISTIC_COUNT, ImageShift, imageStatistics, type ImageShiftJSON } from './image-shift.ts';
import { applyLook, LOOKS } from './restoration.ts';
import { ShiftNovelty, type ShiftNoveltyJSON } from './shift-novelty.ts';
import type { ReferenceResult } from './reference.ts';
import { medianDistance, urbanDistances } from './urban-distance.ts';
import { DEFAULT_DOUBT, noveltyRatioOf, tileTrust, type DoubtParams, type TileTrust } from './doubt.ts';
import { TileClassifier, type TileClassifierJSON, type TileEvidence } from './tile-classifier.ts';

export interface TileModelState extends EstimatorJSON {
  kind: 'TileModel';
  classifier: TileClassifierJSON;
  doubt: DoubtParams;
  /** Novelty of the imagery itself; absent in runs fitted before it existed (then novelty is the activations' alone). */
  imageShift?: ImageShiftJSON;
  /**
   * Stored by runs fitted when a tile's novelty ratio was the length of (content ratio, image ratio) in this unit;
   * no longer read: the imagery's ratio alone decides coverage now (doubt.ts, `noveltyRatioOf`).
   */
  noveltyUnit?: number;
  /**
   * What priority ranks by: P(building) from the prediction's own evidence alone — its share, surest pixel,
   * indecision, and how differently it paints the mirror image — fitted on the same tiles as the classifier but
   * without selection: the reference's own log-loss cannot see what keeps a ranking sound on imagery unlike it
   * (a hazy or coarser region, where the classifier's latent features say least). Absent in runs fitted before
   * it existed: the classifier with its other features at their mean stands in.
   */
  ranker?: TileClassifierJSON;
}

export interface FittedTileModel {
  novelty: ShiftNovelty;
  state: TileModelState;
  /** Per reference patch, in table order. */
  perPatch: { noveltyPercentile: Float32Array; noveltyRatio: Float32Array; buildingProb: Float32Array };
  seconds: { novelty: number; classifier: number };
}

/** The reference run's urbanised centroids (the most built-up cluster when none qualified) and their unit. */
function urbanGeometry(result: ReferenceResult): { centroids: number[][]; scale: number } {
  const { kmeans, urbanised, clusters } = result.latent;
  let ids = urbanised.clusters.filter((c) => c < kmeans.centroids.length);
  if (ids.length === 0) {
    const top = clusters.reduce((a, b) => (b.meanGtFraction > a.meanGtFraction ? b : a));
    ids = [top.cluster];
  }
  const centroids = ids.map((c) => kmeans.centroids[c]);
  const k = result.latent.pca.nComponents;
  const d = urbanDistances(result.latent.pcs, result.table.n, k, centroids);
  return { centroids, scale: medianDistance(d) };
}

export async function fitTileModel(
  result: ReferenceResult,
  options: { seed: number; doubt?: DoubtParams },
): Promise<FittedTileModel> {
  const t0 = performance.now();
  const { table, latent } = result;
  const n = table.n;
  const reader = ActivationReader.open(result.activationsPath);
  let novelty: ShiftNovelty;
  const noveltyPercentile = new Float32Array(n);
  const noveltyRatio = new Float32Array(n);
  try {
    const source = { rows: reader.rows, dims: reader.dims, chunks: () => reader.chunks(4096) };
    novelty = await new ShiftNovelty({ seed: options.seed }).fit(source);
    for (const c of reader.chunks(4096)) {
      const s = novelty.score(c.data, c.rows);
      noveltyPercentile.set(s.percentile, c.start);
      noveltyRatio.set(s.ratio, c.start);
    }
  } finally {
    reader.close();
  }
  const stats = table.imageStats.subarray(0, n * IMAGE_STATISTIC_COUNT);
  const imageShift = ImageShift.fit(stats, n, { seed: options.seed });
  const imageRatio = imageShift.ratio(stats, n);
  const t1 = performance.now();

  const k = latent.pca.nComponents;
  const urban = urbanGeometry(result);
  const urbanDistance = urbanDistances(latent.pcs, n, k, urban.centroids);
  const evidence: TileEvidence[] = Array.from({ length: n }, (_, i) => ({
    predFraction: table.predFraction[i],
    maxProb: table.maxProb[i],
    meanProb: table.meanProb[i],
    uncertainty: table.uncertainty[i],
    pcs: latent.pcs.subarray(i * k, (i + 1) * k),
    iouHat: latent.iouHat[i],
    noveltyRatio: noveltyRatio[i],
    urbanDistanceScaled: urbanDistance[i] / urban.scale,
    ...(table.mirrorDisagreement ? { mirrorDisagreement: table.mirrorDisagreement[i] } : {}),
  }));
  const holds = Array.from({ length: n }, (_, i) => table.tp[i] + table.fn[i] > 0);
  // Tiles the segmentation model never trained on say how it behaves on tiles it has not seen.
  const heldOut = [...Array(n).keys()].filter((i) => table.splits[i] !== 'train');
  const kinds = new Set(heldOut.map((i) => holds[i]));
  const rows = heldOut.length >= 40 && kinds.size === 2 ? heldOut : [...Array(n).keys()];
  const fittedOn =
    rows === heldOut
      ? `${rows.length} reference tiles outside the model's training split (${[...new Set(rows.map((i) => table.splits[i]))].join(', ')})`
      : `all ${n} reference tiles (the dataset names no held-out split: the probabilities may be optimistic)`;
  const classifier = TileClassifier.fit(
    rows.map((i) => evidence[i]),
    rows.map((i) => holds[i]),
    fittedOn,
    { seed: options.seed },
  );
  const ranker = TileClassifier.fit(
    rows.map((i) => evidence[i]),
    rows.map((i) => holds[i]),
    fittedOn,
    { seed: options.seed, groups: ['uncertainty', 'agreement'] },
  );
  const buildingProb = classifier.predict(evidence);
  return {
    novelty,
    state: {
      kind: 'TileModel',
      classifier: classifier.toJSON(),
      doubt: options.doubt ?? DEFAULT_DOUBT,
      imageShift: imageShift.toJSON(),
      ranker: ranker.toJSON(),
    },
    perPatch: {
      noveltyPercentile,
      noveltyRatio: noveltyRatio.map((v, i) => noveltyRatioOf({ content: v, image: imageRatio[i] })),
      buildingProb,
    },
    seconds: { novelty: (t1 - t0) / 1000, classifier: (performance.now() - t1) / 1000 },
  };
}

/** Two-sided level of the classifier's own band around each tile's probability. */
export const BAND_LEVEL = 0.9;

/** The stored tile model, ready to score tiles. */
export class TileModel {
  private constructor(
    readonly classifier: TileClassifier,
    readonly doubt: DoubtParams,
    readonly imageShift: ImageShift | null,
    readonly ranker: TileClassifier | null,
  ) {}

  static fromState(state: TileModelState): TileModel {
    return new TileModel(
      TileClassifier.fromJSON(state.classifier),
      state.doubt,
      state.imageShift ? ImageShift.fromJSON(state.imageShift) : null,
      state.ranker ? TileClassifier.fromJSON(state.ranker) : null,
    );
  }

  /** Whether scoring must look at each tile's mirror image too (the classifier or the ranker reads it). */
  get readsMirror(): boolean {
    return this.classifier.readsMirror || (this.ranker?.readsMirror ?? false);
  }

  /**
   * Whether this run can choose the look a region is read through (restoration.ts): it needs the imagery estimator
   * and a ranker; runs fitted before the ranker existed read tiles as served.
   */
  get decidesLook(): boolean {
    return this.imageShift !== null && this.ranker !== null;
  }

  /** Each tile's image novelty ratio under every look, LOOKS' order; only for runs that `decidesLook`. */
  lookRatios(tiles: readonly Uint8Array[], width: number, height: number): Float32Array[] {
    const imageShift = this.imageShift;
    if (!imageShift || !this.decidesLook)
      throw new EstimatorError(
        'lookRatios: this run reads tiles as served (it has no imagery estimator or ranker)',
      );
    const stats = new Float32Array(LOOKS.length * IMAGE_STATISTIC_COUNT);
    return tiles.map((rgb) => {
      LOOKS.forEach((look, k) =>
        imageStatistics(applyLook(rgb, look, width, height), width, height, stats, k * IMAGE_STATISTIC_COUNT),
      );
      return imageShift.ratio(stats, LOOKS.length);
    });
  }

  /** The imagery's novelty ratio per tile (`stats`: IMAGE_STATISTIC_COUNT per tile); zeros for runs without one. */
  imageRatio(stats: Float32Array, n: number): Float32Array {
    return this.imageShift ? this.imageShift.ratio(stats, n) : new Float32Array(n);
  }

  /** P(building), its no-label interval, doubt, coverage and priority per tile. */
  trust(evidence: readonly TileEvidence[], imageRatio?: Float32Array): TileTrust[] {
    const { p, low, high } = this.classifier.predictInterval(evidence, BAND_LEVEL);
    const own = this.ranker ? this.ranker.predict(evidence) : this.classifier.predictOwnEvidence(evidence);
    return evidence.map((e, i) =>
      tileTrust(
        p[i],
        { content: e.noveltyRatio, image: this.imageShift ? imageRatio?.[i] : undefined },
        this.doubt,
        { low: low[i], high: high[i] },
        own[i],
      ),
    );
  }
}

export type { ShiftNoveltyJSON };
