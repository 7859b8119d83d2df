/**
 * Likely label errors: a score per patch from two independent kinds of evidence, combined by rank average.
 *
 * 1. Confident disagreement between model and label. Either the label holds buildings the model is sure are not
 *    there (mean probability inside the labelled footprints low, over a footprint area that matters), or the
 *    model is sure of buildings the label lacks (mean probability of its predicted pixels outside the labels
 *    high, over an area that matters). Without the evidence pass, recall and precision stand in for the two
 *    mean probabilities.
 * 2. Latent neighbours that do well where this patch does badly: the mean agreement of its k nearest patches in
 *    PC space minus its own. Agreement is the IoU, and 1 where label and prediction are both empty (they agree).
 *    A model failure is shared by look-alikes (a parking lot's neighbours are parking lots, scored badly too); a
 *    wrong label sits among look-alikes the model gets right.
 *
 * Combined as q · disagreement + (1 − q) · neighbour gap, where q is the model's pooled IoU over the run: the
 * model's disagreement with a label is evidence only as far as the model is usually right, and where it is weak
 * the latent neighbours carry the score. Measured (scripts/bench/insights.ts), average precision:
 *   demo world, 24 planted construction sites in 1600 tiles, q = 0.78: this 1.00; disagreement alone 1.00,
 *     gap alone 0.14, equal rank average 0.45, disagreement + 0.25 · gap 1.00;
 *   Accra drone masks, 59 erased in 450, demo model (q = 0.18): this 0.92; disagreement alone 0.20, gap alone
 *     0.95, equal rank average 0.44, disagreement + 0.25 · gap 0.34.
 * The gap needs k larger than a group of systematic look-alike errors — a construction site's nearest
 * neighbours are other construction sites, failing just as badly — hence k = 50 by default.
 */
import { requireRun } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { replaceLabelErrorScores } from '../db/review-repo.ts';
import { KdTree } from '../analysis/kdtree.ts';
import { readLatentRows, type LatentRows } from './latent-rows.ts';

export interface LabelErrorOptions {
  /** Latent neighbours per patch. */
  k?: number;
  /** Weight of the disagreement (the gap gets 1 − it); default the run's pooled IoU. */
  modelWeight?: number;
  /** Labelled / predicted share of the tile at which the disagreement counts fully (smaller areas count less). */
  areaScale?: number;
}

export type ErrorDirection = 'missing_in_image' | 'missing_in_label' | 'none';

export interface LabelErrorResult {
  score: Float64Array;
  disagreement: Float64Array;
  neighbourGap: Float64Array;
  direction: ErrorDirection[];
  /** The disagreement's weight used. */
  modelWeight: number;
}

/** The pure scoring over columns, for tests and the benchmark. */
export function labelErrorScores(rows: LatentRows, options: LabelErrorOptions = {}): LabelErrorResult {
  const { n, k: dims, pcs } = rows;
  const kNeighbours = Math.min(options.k ?? 50, n - 1);
  const areaScale = options.areaScale ?? 0.02;
  const disagreement = new Float64Array(n);
  const direction: ErrorDirection[] = new Array(n);
  const agreement = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const tp = rows.tp[i];
    const fp = rows.fp[i];
    const fn = rows.fn[i];
    const pixels = rows.gtFraction[i] > 0 ? (tp + fn) / rows.gtFraction[i] : tp + fp + fn + 1;
    const inside = Number.isFinite(rows.probInside[i])
      ? rows.probInside[i]
      : tp + fn > 0
        ? tp / (tp + fn)
        : 1;
    const outside = Number.isFinite(rows.probOutside[i])
      ? rows.probOutside[i]
      : fp > 0
        ? 1 - tp / (tp + fp)
        : 0;
    const missedInImage =
      rows.gtFraction[i] > 0 ? (1 - inside) * Math.min(1, rows.gtFraction[i] / areaScale) : 0;
    const fpShare = fp / Math.max(1, pixels);
    const missedInLabel = fp > 0 ? outside * (fp / (tp + fp)) * Math.min(1, fpShare / areaScale) : 0;
    disagreement[i] = Math.max(missedInImage, missedInLabel);
    direction[i] =
      disagreement[i] < 0.05
        ? 'none'
        : missedInImage >= missedInLabel
          ? 'missing_in_image'
          : 'missing_in_label';
    agreement[i] = Number.isFinite(rows.iou[i]) ? rows.iou[i] : 1;
  }
  const neighbourGap = new Float64Array(n);
  if (kNeighbours > 0) {
    const tree = new KdTree(pcs, dims);
    const dist = new Float64Array(kNeighbours);
    const nb = new Int32Array(kNeighbours);
    for (let i = 0; i < n; i++) {
      tree.knn(pcs, i * dims, kNeighbours, dist, i, nb);
      let s = 0;
      let m = 0;
      for (let j = 0; j < kNeighbours; j++) {
        if (nb[j] < 0 || !Number.isFinite(dist[j])) continue;
        s += agreement[nb[j]];
        m++;
      }
      neighbourGap[i] = m ? s / m - agreement[i] : 0;
    }
  }
  let tp = 0;
  let errors = 0;
  for (let i = 0; i < n; i++) {
    tp += rows.tp[i];
    errors += rows.fp[i] + rows.fn[i];
  }
  const q = options.modelWeight ?? (tp + errors > 0 ? tp / (tp + errors) : 0.5);
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) score[i] = q * disagreement[i] + (1 - q) * neighbourGap[i];
  return { score, disagreement, neighbourGap, direction, modelWeight: q };
}

/** Scores every patch of a stored run and stores the scores with their ranks (1 = most likely a wrong label). */
export async function scoreLabelErrors(
  db: DatabaseHandle,
  runId: number,
  options: LabelErrorOptions = {},
): Promise<{ patches: number; usedEvidence: boolean; seconds: number }> {
  const t0 = performance.now();
  await requireRun(db, runId);
  const rows = await readLatentRows(db, runId);
  const r = labelErrorScores(rows, options);
  const order = Array.from({ length: rows.n }, (_, i) => i).sort(
    (x, y) => r.score[y] - r.score[x] || r.disagreement[y] - r.disagreement[x] || x - y,
  );
  const scores = order.map((i, pos) => ({
    idx: i,
    score: r.score[i],
    rank: pos + 1,
    disagreement: r.disagreement[i],
    neighbourGap: r.neighbourGap[i],
    direction: r.direction[i],
  }));
  await replaceLabelErrorScores(db, runId, scores, {
    k: options.k ?? 50,
    modelWeight: r.modelWeight,
    areaScale: options.areaScale ?? 0.02,
    usedEvidence: rows.hasEvidence,
    combine: 'modelWeight × disagreement + (1 − modelWeight) × neighbour gap; modelWeight = pooled IoU',
  });
  return { patches: rows.n, usedEvidence: rows.hasEvidence, seconds: (performance.now() - t0) / 1000 };
}

/** Precision among the first k of a ranking (1 = every one of them is a true error). */
export function precisionAtK(
  ranked: ArrayLike<number>,
  isPositive: (i: number) => boolean,
  k: number,
): number {
  const m = Math.min(k, ranked.length);
  let hits = 0;
  for (let j = 0; j < m; j++) if (isPositive(ranked[j])) hits++;
  return m ? hits / m : Number.NaN;
}

/** Average precision of a ranking: the mean of precision@rank over the ranks of the true errors. */
export function averagePrecision(ranked: ArrayLike<number>, isPositive: (i: number) => boolean): number {
  let hits = 0;
  let sum = 0;
  for (let j = 0; j < ranked.length; j++) {
    if (isPositive(ranked[j])) {
      hits++;
      sum += hits / (j + 1);
    }
  }
  return hits ? sum / hits : Number.NaN;
}
