/**
 * The label-error queue (table `label_error_scores`, one ranked score per patch) and the marks reviewers leave
 * on it (table `review_marks`), read together with the patches they rank.
 */
import { type DatabaseHandle, sqliteOf } from './client.ts';
import { writeInsightRecord } from './insight-records.ts';
import type { ReviewMarkKind } from './schema.ts';

/** One scored patch as the queue shows it: its score, the patch, and its mark if any. */
export interface ReviewRow {
  rank: number;
  idx: number;
  score: number;
  disagreement: number;
  neighbourGap: number;
  direction: string;
  patchKey: string;
  group: string | null;
  z: number | null;
  x: number | null;
  y: number | null;
  lon: number | null;
  lat: number | null;
  iou: number | null;
  gtFraction: number;
  predFraction: number;
  mark: ReviewMarkKind | null;
  note: string | null;
}

/** A patch's label-error score as a pass writes it; ranks are 1-based, 1 = most likely a wrong label. */
export interface LabelErrorScoreRow {
  idx: number;
  score: number;
  rank: number;
  disagreement: number;
  neighbourGap: number;
  direction: 'missing_in_image' | 'missing_in_label' | 'none';
}

const ROW_SQL = `select s.rank, s.idx, s.score, s.disagreement, s.neighbour_gap as neighbourGap, s.direction,
    p.patch_key as patchKey, p.group_name as "group", p.z, p.x, p.y, p.lon, p.lat, p.iou,
    p.gt_fraction as gtFraction, p.pred_fraction as predFraction, m.mark, m.note
  from label_error_scores s
  join patches p on p.run_id = s.run_id and p.idx = s.idx
  left join review_marks m on m.run_id = s.run_id and m.idx = s.idx
  where s.run_id = ?`;

/**
 * Replaces the run's scores, and its record of how they were made (insight kind 'label_errors'), in one
 * transaction.
 */
export async function replaceLabelErrorScores(
  handle: DatabaseHandle,
  runId: number,
  rows: Iterable<LabelErrorScoreRow>,
  record: object,
): Promise<void> {
  const insert = sqliteOf(handle, 'review marks').prepare(
    'insert into label_error_scores (run_id, idx, score, rank, disagreement, neighbour_gap, direction) values (?, ?, ?, ?, ?, ?, ?)',
  );
  sqliteOf(handle, 'review marks').transaction(() => {
    sqliteOf(handle, 'review marks').prepare('delete from label_error_scores where run_id = ?').run(runId);
    for (const r of rows)
      insert.run(runId, r.idx, r.score, r.rank, r.disagreement, r.neighbourGap, r.direction);
    writeInsightRecord(handle, runId, 'label_errors', record);
  })();
}

export async function countLabelErrorScores(handle: DatabaseHandle, runId: number): Promise<number> {
  const { n } = sqliteOf(handle, 'review marks')
    .prepare('select count(*) as n from label_error_scores where run_id = ?')
    .get(runId) as { n: number };
  return n;
}

export async function reviewRowAt(
  handle: DatabaseHandle,
  runId: number,
  rank: number,
): Promise<ReviewRow | undefined> {
  return sqliteOf(handle, 'review marks').prepare(`${ROW_SQL} and s.rank = ?`).get(runId, rank) as
    ReviewRow | undefined;
}

/** The nearest rank before ('previous') or after ('next') `rank` that has no mark; null at either end. */
export async function nearestUnmarkedRank(
  handle: DatabaseHandle,
  runId: number,
  rank: number,
  direction: 'previous' | 'next',
): Promise<number | null> {
  const [op, order] = direction === 'previous' ? ['<', 'desc'] : ['>', 'asc'];
  const row = sqliteOf(handle, 'review marks')
    .prepare(
      `select s.rank from label_error_scores s left join review_marks m on m.run_id = s.run_id and m.idx = s.idx
       where s.run_id = ? and m.mark is null and s.rank ${op} ? order by s.rank ${order} limit 1`,
    )
    .get(runId, rank) as { rank: number } | undefined;
  return row?.rank ?? null;
}

/** Up to `limit` rows after the first `offset` ranks, in rank order. */
export async function reviewRows(
  handle: DatabaseHandle,
  runId: number,
  offset: number,
  limit: number,
): Promise<ReviewRow[]> {
  return sqliteOf(handle, 'review marks')
    .prepare(`${ROW_SQL} and s.rank > ? order by s.rank limit ?`)
    .all(runId, offset, limit) as ReviewRow[];
}

/** Streams the first `top` ranks and every patch carrying one of `marks`, in rank order. */
export async function* iterateReviewRows(
  handle: DatabaseHandle,
  runId: number,
  top: number,
  marks: readonly ReviewMarkKind[],
): AsyncGenerator<ReviewRow> {
  const placeholders = marks.map(() => '?').join(', ');
  yield* sqliteOf(handle, 'review marks')
    .prepare(`${ROW_SQL} and (s.rank <= ? or m.mark in (${placeholders || "''"})) order by s.rank`)
    .iterate(runId, top, ...marks) as Iterable<ReviewRow>;
}

/** Sets (or replaces) a patch's mark; the mark's time is the time of the last change. */
export async function upsertReviewMark(
  handle: DatabaseHandle,
  runId: number,
  idx: number,
  mark: ReviewMarkKind,
  note: string | null,
): Promise<void> {
  sqliteOf(handle, 'review marks')
    .prepare(
      `insert into review_marks (run_id, idx, mark, note) values (?, ?, ?, ?)
       on conflict (run_id, idx) do update set mark = excluded.mark, note = excluded.note,
         created_at = cast(unixepoch('subsec') * 1000 as integer)`,
    )
    .run(runId, idx, mark, note);
}
