/**
 * The label review queue: patches in label-error rank order, one at a time, with the marks reviewers leave
 * ('label_wrong' | 'model_wrong' | 'unsure'), and exports of them for the OSM mappers who can fix the labels.
 */
import { patchExists, requireRun } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';
import {
  countLabelErrorScores,
  iterateReviewRows,
  nearestUnmarkedRank,
  reviewRowAt,
  reviewRows,
  upsertReviewMark,
  type ReviewRow,
} from '../db/review-repo.ts';
import { REVIEW_MARKS, type ReviewMarkKind } from '../db/schema.ts';
import { NotFoundError } from '../errors.ts';
import { tileFootprint } from '../geo/tiles.ts';
import { InsightsError } from './errors.ts';

export interface ReviewItem {
  rank: number;
  total: number;
  idx: number;
  patchKey: string;
  group: string | null;
  tile: { z: number; x: number; y: number } | null;
  lon: number | null;
  lat: number | null;
  score: number;
  disagreement: number;
  neighbourGap: number;
  direction: string;
  iou: number | null;
  gtFraction: number;
  predFraction: number;
  mark: ReviewMarkKind | null;
  note: string | null;
  /** Ranks to step to; null at either end. */
  previous: number | null;
  next: number | null;
}

function toItem(r: ReviewRow, total: number): ReviewItem {
  const { z, x, y, ...rest } = r;
  return {
    ...rest,
    tile: z === null || x === null || y === null ? null : { z, x, y },
    total,
    previous: r.rank > 1 ? r.rank - 1 : null,
    next: r.rank < total ? r.rank + 1 : null,
  };
}

async function scoredCount(db: DatabaseHandle, runId: number): Promise<number> {
  await requireRun(db, runId);
  const n = await countLabelErrorScores(db, runId);
  if (n === 0) {
    throw new InsightsError(
      `run ${runId} has no label-error scores yet; run \`npx tsx server/lib/insights/run-insights.ts --run ${runId}\` first`,
    );
  }
  return n;
}

/**
 * The item at a rank (1 = most suspicious). `unmarkedOnly` steps over reviewed patches: `next` / `previous`
 * then point at the nearest unmarked ranks.
 */
export async function reviewItem(
  db: DatabaseHandle,
  runId: number,
  rank: number,
  unmarkedOnly = false,
): Promise<ReviewItem> {
  const total = await scoredCount(db, runId);
  const row = Number.isInteger(rank) ? await reviewRowAt(db, runId, rank) : undefined;
  if (!row) {
    throw new NotFoundError(
      `rank ${rank} of run ${runId}'s review queue`,
      `the queue holds ranks 1..${total}`,
    );
  }
  const item = toItem(row, total);
  if (unmarkedOnly) {
    item.previous = await nearestUnmarkedRank(db, runId, rank, 'previous');
    item.next = await nearestUnmarkedRank(db, runId, rank, 'next');
  }
  return item;
}

/** A page of the queue in rank order. */
export async function reviewPage(
  db: DatabaseHandle,
  runId: number,
  offset: number,
  limit: number,
): Promise<ReviewItem[]> {
  const total = await scoredCount(db, runId);
  return (await reviewRows(db, runId, offset, Math.min(limit, 1000))).map((r) => toItem(r, total));
}

export async function markPatch(
  db: DatabaseHandle,
  runId: number,
  idx: number,
  mark: ReviewMarkKind,
  note?: string,
): Promise<void> {
  await requireRun(db, runId);
  if (!(await patchExists(db, runId, idx)))
    throw new NotFoundError(`patch ${idx} of run ${runId}`, 'marks name a patch idx of the run');
  await upsertReviewMark(db, runId, idx, mark, note ?? null);
}

export interface ExportSelection {
  /** Also the first `top` ranks, reviewed or not (0: marked patches only). */
  top?: number;
  /** Only these marks (default: every mark). */
  marks?: ReviewMarkKind[];
}

async function* exportRows(
  db: DatabaseHandle,
  runId: number,
  sel: ExportSelection,
): AsyncGenerator<ReviewItem> {
  const total = await scoredCount(db, runId);
  for await (const r of iterateReviewRows(db, runId, sel.top ?? 0, sel.marks ?? REVIEW_MARKS))
    yield toItem(r, total);
}

const CSV_COLUMNS = [
  'rank',
  'task_id',
  'patch_key',
  'group',
  'lon',
  'lat',
  'score',
  'direction',
  'iou',
  'gt_fraction',
  'pred_fraction',
  'mark',
  'note',
] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function* reviewCsv(
  db: DatabaseHandle,
  runId: number,
  sel: ExportSelection = {},
): AsyncGenerator<string> {
  yield `${CSV_COLUMNS.join(',')}\n`;
  for await (const r of exportRows(db, runId, sel)) {
    const taskId = r.tile ? `${r.tile.z}-${r.tile.x}-${r.tile.y}` : '';
    yield `${[
      r.rank,
      taskId,
      r.patchKey,
      r.group,
      r.lon,
      r.lat,
      r.score.toFixed(4),
      r.direction,
      r.iou,
      r.gtFraction,
      r.predFraction,
      r.mark,
      r.note,
    ]
      .map(csvCell)
      .join(',')}\n`;
  }
}

/** Tile footprints with their review state; patches without a tile are left out (they have no place on a map). */
export async function* reviewGeoJson(
  db: DatabaseHandle,
  runId: number,
  sel: ExportSelection = {},
): AsyncGenerator<string> {
  yield '{"type":"FeatureCollection","features":[';
  let first = true;
  for await (const r of exportRows(db, runId, sel)) {
    if (!r.tile) continue;
    const feature = {
      type: 'Feature',
      geometry: tileFootprint(r.tile.z, r.tile.x, r.tile.y),
      properties: {
        task_id: `${r.tile.z}-${r.tile.x}-${r.tile.y}`,
        rank: r.rank,
        score: Number(r.score.toFixed(4)),
        direction: r.direction,
        mark: r.mark,
        note: r.note,
        iou: r.iou,
        gt_fraction: r.gtFraction,
        pred_fraction: r.predFraction,
        hint:
          r.direction === 'missing_in_image'
            ? 'mapped buildings the imagery may not show (demolished, under construction, or misplaced)'
            : r.direction === 'missing_in_label'
              ? 'buildings the imagery may show that are not mapped'
              : 'check the mapping against the imagery',
      },
    };
    yield `${first ? '' : ','}\n${JSON.stringify(feature)}`;
    first = false;
  }
  yield '\n]}\n';
}
