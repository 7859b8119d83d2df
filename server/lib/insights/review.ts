/**
 * The label review queue: patches in label-error rank order, one at a time, with the marks reviewers leave
 * ('label_wrong' | 'model_wrong' | 'unsure'), and exports of them for the OSM mappers who can fix the labels.
 */
import type { DatabaseHandle } from '../db/client.ts';
import type { ReviewMarkKind } from '../db/schema.ts';
import { tileFootprint } from '../geo/tiles.ts';
import { InsightsError, requireRun } from './run-dataset.ts';

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

const ITEM_SQL = `select s.rank, s.idx, s.score, s.disagreement, s.neighbour_gap as neighbourGap, s.direction,
    p.patch_key as patchKey, p.group_name as "group", p.z, p.x, p.y, p.lon, p.lat, p.iou,
    p.gt_fraction as gtFraction, p.pred_fraction as predFraction, m.mark, m.note
  from label_error_scores s
  join patches p on p.run_id = s.run_id and p.idx = s.idx
  left join review_marks m on m.run_id = s.run_id and m.idx = s.idx
  where s.run_id = ?`;

type ItemRow = Omit<ReviewItem, 'tile' | 'total' | 'previous' | 'next'> & {
  z: number | null;
  x: number | null;
  y: number | null;
};

function toItem(r: ItemRow, total: number): ReviewItem {
  const { z, x, y, ...rest } = r;
  return {
    ...rest,
    tile: z === null || x === null || y === null ? null : { z, x, y },
    total,
    previous: r.rank > 1 ? r.rank - 1 : null,
    next: r.rank < total ? r.rank + 1 : null,
  };
}

function scoredCount(db: DatabaseHandle, runId: number): number {
  requireRun(db, runId);
  const { n } = db.sqlite
    .prepare('select count(*) as n from label_error_scores where run_id = ?')
    .get(runId) as { n: number };
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
export function reviewItem(
  db: DatabaseHandle,
  runId: number,
  rank: number,
  unmarkedOnly = false,
): ReviewItem {
  const total = scoredCount(db, runId);
  if (!Number.isInteger(rank) || rank < 1 || rank > total) {
    throw new InsightsError(
      `rank ${rank} is outside run ${runId}'s review queue of ${total}; ask for 1..${total}`,
    );
  }
  const row = db.sqlite.prepare(`${ITEM_SQL} and s.rank = ?`).get(runId, rank) as ItemRow;
  const item = toItem(row, total);
  if (unmarkedOnly) {
    const step = (op: '<' | '>', order: 'desc' | 'asc') =>
      (
        db.sqlite
          .prepare(
            `select s.rank from label_error_scores s left join review_marks m on m.run_id = s.run_id and m.idx = s.idx
             where s.run_id = ? and m.mark is null and s.rank ${op} ? order by s.rank ${order} limit 1`,
          )
          .get(runId, rank) as { rank: number } | undefined
      )?.rank ?? null;
    item.previous = step('<', 'desc');
    item.next = step('>', 'asc');
  }
  return item;
}

/** A page of the queue in rank order. */
export function reviewPage(db: DatabaseHandle, runId: number, offset: number, limit: number): ReviewItem[] {
  const total = scoredCount(db, runId);
  const rows = db.sqlite
    .prepare(`${ITEM_SQL} and s.rank > ? order by s.rank limit ?`)
    .all(runId, offset, Math.min(limit, 1000)) as ItemRow[];
  return rows.map((r) => toItem(r, total));
}

export function markPatch(
  db: DatabaseHandle,
  runId: number,
  idx: number,
  mark: ReviewMarkKind,
  note?: string,
): void {
  requireRun(db, runId);
  const exists = db.sqlite.prepare('select 1 from patches where run_id = ? and idx = ?').get(runId, idx);
  if (!exists)
    throw new InsightsError(`patch ${idx} of run ${runId} does not exist; marks name a patch idx of the run`);
  db.sqlite
    .prepare(
      `insert into review_marks (run_id, idx, mark, note) values (?, ?, ?, ?)
       on conflict (run_id, idx) do update set mark = excluded.mark, note = excluded.note,
         created_at = cast(unixepoch('subsec') * 1000 as integer)`,
    )
    .run(runId, idx, mark, note ?? null);
}

export interface ExportSelection {
  /** Also the first `top` ranks, reviewed or not (0: marked patches only). */
  top?: number;
  /** Only these marks (default: every mark). */
  marks?: ReviewMarkKind[];
}

function* exportRows(db: DatabaseHandle, runId: number, sel: ExportSelection): Generator<ReviewItem> {
  const total = scoredCount(db, runId);
  const marks = sel.marks ?? ['label_wrong', 'model_wrong', 'unsure'];
  const placeholders = marks.map(() => '?').join(', ');
  const it = db.sqlite
    .prepare(`${ITEM_SQL} and (s.rank <= ? or m.mark in (${placeholders || "''"})) order by s.rank`)
    .iterate(runId, sel.top ?? 0, ...marks) as Iterable<ItemRow>;
  for (const r of it) yield toItem(r, total);
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

export function* reviewCsv(db: DatabaseHandle, runId: number, sel: ExportSelection = {}): Generator<string> {
  yield `${CSV_COLUMNS.join(',')}\n`;
  for (const r of exportRows(db, runId, sel)) {
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
export function* reviewGeoJson(
  db: DatabaseHandle,
  runId: number,
  sel: ExportSelection = {},
): Generator<string> {
  yield '{"type":"FeatureCollection","features":[';
  let first = true;
  for (const r of exportRows(db, runId, sel)) {
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
