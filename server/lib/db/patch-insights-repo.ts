/**
 * Per-patch results of the insight passes — the evidence pass (table `patch_evidence`) and the confidence
 * intervals (table `patch_intervals`) — and the one read that joins them to the patches for the insights.
 */
import { type DatabaseHandle, sqliteOf } from './client.ts';
import { writeInsightRecord } from './insight-records.ts';

export interface PatchEvidenceRow {
  idx: number;
  probInside: number | null;
  probOutside: number | null;
  boundaryIou: number | null;
}

/** Clears the run's evidence before a pass writes it again batch by batch (`writePatchEvidence`). */
export async function clearPatchEvidence(handle: DatabaseHandle, runId: number): Promise<void> {
  sqliteOf(handle, 'patch insights').prepare('delete from patch_evidence where run_id = ?').run(runId);
}

/** One batch of evidence rows in one transaction. */
export async function writePatchEvidence(
  handle: DatabaseHandle,
  runId: number,
  rows: PatchEvidenceRow[],
): Promise<void> {
  const insert = sqliteOf(handle, 'patch insights').prepare(
    'insert or replace into patch_evidence (run_id, idx, prob_inside, prob_outside, boundary_iou) values (?, ?, ?, ?, ?)',
  );
  sqliteOf(handle, 'patch insights').transaction(() => {
    for (const e of rows) insert.run(runId, e.idx, e.probInside, e.probOutside, e.boundaryIou);
  })();
}

export interface PatchIntervalRow {
  idx: number;
  iouLow: number;
  iouHigh: number;
}

/** Replaces the run's intervals and its 'confidence' record in one transaction. */
export async function replacePatchIntervals(
  handle: DatabaseHandle,
  runId: number,
  rows: Iterable<PatchIntervalRow>,
  record: object,
): Promise<void> {
  const insert = sqliteOf(handle, 'patch insights').prepare(
    'insert into patch_intervals (run_id, idx, iou_low, iou_high) values (?, ?, ?, ?)',
  );
  sqliteOf(handle, 'patch insights').transaction(() => {
    sqliteOf(handle, 'patch insights').prepare('delete from patch_intervals where run_id = ?').run(runId);
    for (const r of rows) insert.run(runId, r.idx, r.iouLow, r.iouHigh);
    writeInsightRecord(handle, runId, 'confidence', record);
  })();
}

/** The run's intervals as columns, in idx order. */
export async function readPatchIntervals(
  handle: DatabaseHandle,
  runId: number,
): Promise<{ idx: number[]; iouLow: number[]; iouHigh: number[] }> {
  const out = { idx: [] as number[], iouLow: [] as number[], iouHigh: [] as number[] };
  const rows = sqliteOf(handle, 'patch insights')
    .prepare('select idx, iou_low, iou_high from patch_intervals where run_id = ? order by idx')
    .raw()
    .iterate(runId) as Iterable<[number, number, number]>;
  for (const [idx, lo, hi] of rows) {
    out.idx.push(idx);
    out.iouLow.push(lo);
    out.iouHigh.push(hi);
  }
  return out;
}

/** What the insights read of a run before its patches: how many, how many components, the surface's target. */
export interface InsightRunShape {
  patches: number;
  /** The run's principal components (absent from very old runs: 9). */
  components: number;
  surfaceEmpty: string | null;
}

export async function insightRunShape(handle: DatabaseHandle, runId: number): Promise<InsightRunShape> {
  return sqliteOf(handle, 'patch insights')
    .prepare(
      `select count(*) as patches, coalesce(json_extract(r.settings, '$.nComponents'), 9) as components,
              json_extract(r.settings, '$.surfaceEmpty') as surfaceEmpty
       from patches p join analysis_runs r on r.id = p.run_id where p.run_id = ?`,
    )
    .get(runId) as InsightRunShape;
}

/**
 * One patch with its evidence as the insights read it: idx, key, group, iou, iouHat, novelty, gtFraction,
 * predFraction, tp, fp, fn, cluster, empty, estimatorHoldout, probInside, probOutside, boundaryIou,
 * evidence idx (null when the evidence pass has not seen the patch), then pc1..pc`components`.
 */
export type InsightPatchTuple = unknown[];

/** Streams the patches in idx order with their evidence, as raw tuples (see InsightPatchTuple): one pass, no objects. */
export async function iterateInsightPatches(
  handle: DatabaseHandle,
  runId: number,
  components: number,
): Promise<Iterable<InsightPatchTuple>> {
  const k = Math.max(0, Math.min(9, Math.floor(components)));
  const pcCols = Array.from({ length: k }, (_, j) => `, p.pc${j + 1}`).join('');
  return sqliteOf(handle, 'patch insights')
    .prepare(
      `select p.idx, p.patch_key, p.group_name, p.iou, p.iou_hat, p.novelty, p.gt_fraction, p.pred_fraction, p.tp, p.fp, p.fn,
              p.cluster, p.empty, p.estimator_holdout, e.prob_inside, e.prob_outside, e.boundary_iou, e.idx as eidx${pcCols}
       from patches p left join patch_evidence e on e.run_id = p.run_id and e.idx = p.idx
       where p.run_id = ? order by p.idx`,
    )
    .raw()
    .iterate(runId) as Iterable<InsightPatchTuple>;
}
