/**
 * The label-error queue (table `label_error_scores`, one ranked score per patch) and the marks reviewers leave
 * on it (table `review_marks`), read together with the patches they rank.
 */
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, lte, or, type SQL } from 'drizzle-orm';
import { inTransaction, type DatabaseHandle } from './client.ts';
import { insertBatches } from './dialect.ts';
import { saveInsightRecord } from './insight-records.ts';
import { PAGE_ROWS } from './keyset-pages.ts';
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

/** The queue's rows: each score with its patch and its mark, if any, filtered by `where`. */
function reviewSelect(handle: DatabaseHandle, runId: number, where: SQL | undefined) {
  const { labelErrorScores: s, patches: p, reviewMarks: m } = handle.t;
  return handle.db
    .select({
      rank: s.rank,
      idx: s.idx,
      score: s.score,
      disagreement: s.disagreement,
      neighbourGap: s.neighbourGap,
      direction: s.direction,
      patchKey: p.patchKey,
      group: p.groupName,
      z: p.z,
      x: p.x,
      y: p.y,
      lon: p.lon,
      lat: p.lat,
      iou: p.iou,
      gtFraction: p.gtFraction,
      predFraction: p.predFraction,
      mark: m.mark,
      note: m.note,
    })
    .from(s)
    .innerJoin(p, and(eq(p.runId, s.runId), eq(p.idx, s.idx)))
    .leftJoin(m, and(eq(m.runId, s.runId), eq(m.idx, s.idx)))
    .where(and(eq(s.runId, runId), where))
    .orderBy(asc(s.rank));
}

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
  await inTransaction(handle, async (tx) => {
    const { labelErrorScores } = tx.t;
    await tx.db.delete(labelErrorScores).where(eq(labelErrorScores.runId, runId));
    for (const batch of insertBatches(tx, labelErrorScores, rows)) {
      await tx.db.insert(labelErrorScores).values(batch.map((r) => ({ runId, ...r })));
    }
    await saveInsightRecord(tx, runId, 'label_errors', record);
  });
}

export async function countLabelErrorScores(handle: DatabaseHandle, runId: number): Promise<number> {
  const { labelErrorScores } = handle.t;
  const [row] = await handle.db
    .select({ n: count() })
    .from(labelErrorScores)
    .where(eq(labelErrorScores.runId, runId));
  return row?.n ?? 0;
}

export async function reviewRowAt(
  handle: DatabaseHandle,
  runId: number,
  rank: number,
): Promise<ReviewRow | undefined> {
  const [row] = await reviewSelect(handle, runId, eq(handle.t.labelErrorScores.rank, rank));
  return row;
}

/** The nearest rank before ('previous') or after ('next') `rank` that has no mark; null at either end. */
export async function nearestUnmarkedRank(
  handle: DatabaseHandle,
  runId: number,
  rank: number,
  direction: 'previous' | 'next',
): Promise<number | null> {
  const { labelErrorScores: s, reviewMarks: m } = handle.t;
  const [row] = await handle.db
    .select({ rank: s.rank })
    .from(s)
    .leftJoin(m, and(eq(m.runId, s.runId), eq(m.idx, s.idx)))
    .where(
      and(eq(s.runId, runId), isNull(m.mark), direction === 'previous' ? lt(s.rank, rank) : gt(s.rank, rank)),
    )
    .orderBy(direction === 'previous' ? desc(s.rank) : asc(s.rank))
    .limit(1);
  return row?.rank ?? null;
}

/** Up to `limit` rows after the first `offset` ranks, in rank order. */
export async function reviewRows(
  handle: DatabaseHandle,
  runId: number,
  offset: number,
  limit: number,
): Promise<ReviewRow[]> {
  return reviewSelect(handle, runId, gt(handle.t.labelErrorScores.rank, offset)).limit(limit);
}

/** Streams the first `top` ranks and every patch carrying one of `marks`, in rank order, in keyset pages of ranks. */
export async function* iterateReviewRows(
  handle: DatabaseHandle,
  runId: number,
  top: number,
  marks: readonly ReviewMarkKind[],
): AsyncGenerator<ReviewRow> {
  const { labelErrorScores: s, reviewMarks: m } = handle.t;
  const chosen = marks.length > 0 ? or(lte(s.rank, top), inArray(m.mark, [...marks])) : lte(s.rank, top);
  let after = 0;
  for (;;) {
    const rows = await reviewSelect(handle, runId, and(chosen, gt(s.rank, after))).limit(PAGE_ROWS);
    yield* rows;
    if (rows.length < PAGE_ROWS) return;
    after = rows[rows.length - 1].rank;
  }
}

/** Sets (or replaces) a patch's mark; the mark's time is the time of the last change. */
export async function upsertReviewMark(
  handle: DatabaseHandle,
  runId: number,
  idx: number,
  mark: ReviewMarkKind,
  note: string | null,
): Promise<void> {
  const { reviewMarks } = handle.t;
  await handle.db
    .insert(reviewMarks)
    .values({ runId, idx, mark, note })
    .onConflictDoUpdate({
      target: [reviewMarks.runId, reviewMarks.idx],
      set: { mark, note, createdAt: new Date() },
    });
}
