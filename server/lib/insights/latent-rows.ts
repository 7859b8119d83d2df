/** The per-patch columns the insights read, streamed from a run in idx order into columnar arrays. */
import type { DatabaseHandle } from '../db/client.ts';
import { insightRunShape, iterateInsightPatches } from '../db/patch-insights-repo.ts';
import { InsightsError } from './errors.ts';

export interface LatentRows {
  n: number;
  /** Principal components used (the run's, up to 9). */
  k: number;
  pcs: Float32Array;
  /** NaN where undefined. */
  iou: Float32Array;
  /**
   * What the run's IoU surface learnt to predict: the IoU, and 1 for empty patches when the run's surfaceEmpty
   * setting is 'one' (NaN where the surface never saw a truth). Residuals of iou_hat are measured against it.
   */
  target: Float32Array;
  iouHat: Float32Array;
  novelty: Float32Array;
  gtFraction: Float32Array;
  predFraction: Float32Array;
  tp: Float64Array;
  fp: Float64Array;
  fn: Float64Array;
  cluster: Int32Array;
  empty: Uint8Array;
  heldOut: Uint8Array;
  groups: string[];
  keys: string[];
  /** NaN where the evidence pass has not run or the value is undefined. */
  probInside: Float32Array;
  probOutside: Float32Array;
  boundaryIou: Float32Array;
  hasEvidence: boolean;
}

/** Columns for n patches with k components, zeroed, evidence unknown (NaN); groups and keys to be filled. */
export function emptyLatentRows(n: number, k: number): LatentRows {
  return {
    n,
    k,
    pcs: new Float32Array(n * k),
    iou: new Float32Array(n),
    target: new Float32Array(n),
    iouHat: new Float32Array(n),
    novelty: new Float32Array(n),
    gtFraction: new Float32Array(n),
    predFraction: new Float32Array(n),
    tp: new Float64Array(n),
    fp: new Float64Array(n),
    fn: new Float64Array(n),
    cluster: new Int32Array(n),
    empty: new Uint8Array(n),
    heldOut: new Uint8Array(n),
    groups: new Array<string>(n),
    keys: new Array<string>(n),
    probInside: new Float32Array(n).fill(Number.NaN),
    probOutside: new Float32Array(n).fill(Number.NaN),
    boundaryIou: new Float32Array(n).fill(Number.NaN),
    hasEvidence: false,
  };
}

const nan = (v: number | null) => (v === null ? Number.NaN : v);

export async function readLatentRows(db: DatabaseHandle, runId: number): Promise<LatentRows> {
  const { patches: n, components, surfaceEmpty } = await insightRunShape(db, runId);
  if (n === 0) throw new InsightsError(`analysis run ${runId} has no patches; analyse its dataset again`);
  const kk = Math.min(9, components);
  const rows = emptyLatentRows(n, kk);
  let i = 0;
  for await (const r of iterateInsightPatches(db, runId, kk)) {
    const idx = r[0] as number;
    if (idx !== i)
      throw new InsightsError(
        `run ${runId}'s patches are not numbered 0..n−1 (found ${idx} at ${i}); re-run the analysis`,
      );
    rows.keys[i] = r[1] as string;
    rows.groups[i] = (r[2] as string | null) ?? '';
    rows.iou[i] = nan(r[3] as number | null);
    rows.target[i] = Number.isFinite(rows.iou[i])
      ? rows.iou[i]
      : surfaceEmpty === 'one' && r[12]
        ? 1
        : Number.NaN;
    rows.iouHat[i] = nan(r[4] as number | null);
    rows.novelty[i] = nan(r[5] as number | null);
    rows.gtFraction[i] = r[6] as number;
    rows.predFraction[i] = r[7] as number;
    rows.tp[i] = r[8] as number;
    rows.fp[i] = r[9] as number;
    rows.fn[i] = r[10] as number;
    rows.cluster[i] = (r[11] as number | null) ?? -1;
    rows.empty[i] = r[12] ? 1 : 0;
    rows.heldOut[i] = r[13] ? 1 : 0;
    rows.probInside[i] = nan(r[14] as number | null);
    rows.probOutside[i] = nan(r[15] as number | null);
    rows.boundaryIou[i] = nan(r[16] as number | null);
    if (r[17] !== null) rows.hasEvidence = true;
    for (let j = 0; j < kk; j++) rows.pcs[i * kk + j] = nan(r[18 + j] as number | null);
    i++;
  }
  return rows;
}
