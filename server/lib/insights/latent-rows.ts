/** The per-patch columns the insights read, streamed from a run in idx order into columnar arrays. */
import type { DatabaseHandle } from '../db/client.ts';
import { InsightsError } from './run-dataset.ts';

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

export function readLatentRows(db: DatabaseHandle, runId: number): LatentRows {
  const { n, k, surfaceEmpty } = db.sqlite
    .prepare(
      "select count(*) as n, coalesce(json_extract(r.settings, '$.nComponents'), 9) as k, json_extract(r.settings, '$.surfaceEmpty') as surfaceEmpty from patches p join analysis_runs r on r.id = p.run_id where p.run_id = ?",
    )
    .get(runId) as { n: number; k: number; surfaceEmpty: string | null };
  if (n === 0)
    throw new InsightsError(`analysis run ${runId} has no patches; GET /api/runs lists the stored runs`);
  const kk = Math.min(9, k);
  const rows = emptyLatentRows(n, kk);
  const pcCols = Array.from({ length: kk }, (_, j) => `p.pc${j + 1}`).join(', ');
  const it = db.sqlite
    .prepare(
      `select p.idx, p.patch_key, p.group_name, p.iou, p.iou_hat, p.novelty, p.gt_fraction, p.pred_fraction, p.tp, p.fp, p.fn,
              p.cluster, p.empty, p.estimator_holdout, e.prob_inside, e.prob_outside, e.boundary_iou, e.idx as eidx, ${pcCols}
       from patches p left join patch_evidence e on e.run_id = p.run_id and e.idx = p.idx
       where p.run_id = ? order by p.idx`,
    )
    .raw()
    .iterate(runId) as Iterable<unknown[]>;
  let i = 0;
  for (const r of it) {
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

/** Average ranks scaled to 0..1 (ties share their mean rank), so differently scaled evidence can be averaged. */
export function rankPercentiles(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const r = n === 1 ? 1 : (i + j) / 2 / (n - 1);
    for (let t = i; t <= j; t++) out[order[t]] = r;
    i = j + 1;
  }
  return out;
}
