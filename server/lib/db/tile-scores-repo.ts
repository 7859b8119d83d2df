/**
 * Scored tiles (table `tile_scores`, one row per project tile, primary key (project_id, z, x, y), so no
 * tile is ever stored twice): writing a job's batches and every read of them — pages for exports and
 * overlay tiles, counts, single tiles, and two projects' tiles side by side.
 *
 * Nothing here holds a project's tiles at once: whole-project reads and map tiles come in keyset pages (no
 * statement stays open between pages, so a running job keeps writing to the same connection while a route
 * streams).
 */
import { and, asc, desc, eq, getTableColumns, gte, inArray, lte, ne, sql, type SQL } from 'drizzle-orm';
import type { SelectedFields } from 'drizzle-orm/sqlite-core';
import type { DatabaseHandle } from './client.ts';
import { keysetRows, PAGE_ROWS as KEYSET_PAGE_ROWS } from './keyset-pages.ts';
import type { TileCoord } from '../geo/tiles.ts';
import { tileScores, type FootprintsJson, type NewTileScore, type TileScore } from './schema.ts';

/** Inclusive tile x / y ranges at the project's zoom. */
export interface TileRange {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

/** Rows a job writes; a tile already stored keeps its row (first write wins). Returns the rows written. */
export async function insertTileScores(handle: DatabaseHandle, rows: NewTileScore[]): Promise<number> {
  return insertTileScoreRows(handle, rows);
}

/** `insertTileScores` inside a transaction of this layer (SQLite's run synchronously). */
export function insertTileScoreRows(handle: DatabaseHandle, rows: NewTileScore[]): number {
  let written = 0;
  // 22 columns × 40 rows stays far below SQLite's bound-parameter limit.
  for (let i = 0; i < rows.length; i += 40) {
    written += handle.db
      .insert(tileScores)
      .values(rows.slice(i, i + 40))
      .onConflictDoNothing()
      .run().changes;
  }
  return written;
}

/** Statuses a retry takes up again: the imagery failed or was unreadable (missing imagery stays missing). */
export const RETRYABLE_STATUSES = ['failed', 'undecodable'] as const;

/** Every column a row may leave null (the scores, the error), set to null. */
const CLEARED = Object.fromEntries(
  Object.entries(getTableColumns(tileScores))
    .filter(([, column]) => !column.notNull)
    .map(([key]) => [key, null]),
) as { [K in keyof NewTileScore as null extends NewTileScore[K] ? K : never]?: null };

/**
 * Rows of a retry job: each replaces the tile's failed row, adding the reads it took to the tile's
 * attempts. A tile scored in the meantime keeps its row. Returns the rows written.
 */
export async function replaceFailedTileScores(handle: DatabaseHandle, rows: NewTileScore[]): Promise<number> {
  return replaceFailedTileScoreRows(handle, rows);
}

/** `replaceFailedTileScores` inside a transaction of this layer. */
export function replaceFailedTileScoreRows(handle: DatabaseHandle, rows: NewTileScore[]): number {
  let written = 0;
  for (const row of rows) {
    const { projectId: _p, z: _z, x: _x, y: _y, taskId: _t, quadkey: _q, ...values } = row;
    written += handle.db
      .insert(tileScores)
      .values(row)
      .onConflictDoUpdate({
        target: [tileScores.projectId, tileScores.z, tileScores.x, tileScores.y],
        // Every nullable column cleared first, so a healed tile loses its error and a tile failing again
        // keeps no score of an earlier one.
        set: {
          ...CLEARED,
          ...values,
          attempts: sql`${tileScores.attempts} + ${row.attempts ?? 1}`,
        },
        setWhere: inArray(tileScores.status, [...RETRYABLE_STATUSES]),
      })
      .run().changes;
  }
  return written;
}

/** Tiles of the project a retry job still has to take up: failed or undecodable, not yet retried by `jobId`. */
export async function* retryableTiles(
  handle: DatabaseHandle,
  projectId: number,
  jobId: number,
): AsyncGenerator<TileCoord> {
  let last: { y: number; x: number } | undefined;
  for (;;) {
    const page = handle.db
      .select({ z: tileScores.z, x: tileScores.x, y: tileScores.y })
      .from(tileScores)
      .where(
        and(
          eq(tileScores.projectId, projectId),
          inArray(tileScores.status, [...RETRYABLE_STATUSES]),
          ne(tileScores.jobId, jobId),
          last
            ? sql`(${tileScores.y} > ${last.y} or (${tileScores.y} = ${last.y} and ${tileScores.x} > ${last.x}))`
            : undefined,
        ),
      )
      .orderBy(asc(tileScores.y), asc(tileScores.x))
      .limit(PAGE_ROWS)
      .all();
    yield* page;
    if (page.length < PAGE_ROWS) return;
    last = page[page.length - 1];
  }
}

const tileKey = (projectId: number, z: number, x: number, y: number) =>
  and(eq(tileScores.projectId, projectId), eq(tileScores.z, z), eq(tileScores.x, x), eq(tileScores.y, y));

export async function isTileStored(
  handle: DatabaseHandle,
  projectId: number,
  z: number,
  x: number,
  y: number,
): Promise<boolean> {
  return !!handle.db
    .select({ one: sql`1` })
    .from(tileScores)
    .where(tileKey(projectId, z, x, y))
    .get();
}

export async function getTileScore(
  handle: DatabaseHandle,
  projectId: number,
  z: number,
  x: number,
  y: number,
): Promise<TileScore | undefined> {
  return handle.db
    .select()
    .from(tileScores)
    .where(tileKey(projectId, z, x, y))
    .get();
}

export interface TilePageOptions {
  /** Only tiles in this range (any zoom's rows are compared by x and y alone, as stored). */
  range?: TileRange;
  /** 'priority': highest first (the (project_id, priority) index); default: row by row, north to south. */
  orderBy?: 'priority';
}

const PAGE_ROWS = 500;

/** A project's rows in pages of PAGE_ROWS, each page found by keyset (the last row's sort key). */
export async function* iterateTileScores(
  handle: DatabaseHandle,
  projectId: number,
  options: TilePageOptions = {},
): AsyncGenerator<TileScore> {
  const where: SQL[] = [eq(tileScores.projectId, projectId)];
  if (options.range) {
    const r = options.range;
    where.push(
      gte(tileScores.x, r.minX),
      lte(tileScores.x, r.maxX),
      gte(tileScores.y, r.minY),
      lte(tileScores.y, r.maxY),
    );
  }
  const byPriority = options.orderBy === 'priority';
  const order = byPriority
    ? [desc(tileScores.priority), asc(tileScores.y), asc(tileScores.x)]
    : [asc(tileScores.y), asc(tileScores.x)];
  let last: TileScore | undefined;
  for (;;) {
    let after: SQL | undefined;
    if (last) {
      const rowAfter = sql`(${tileScores.y} > ${last.y} or (${tileScores.y} = ${last.y} and ${tileScores.x} > ${last.x}))`;
      after = byPriority
        ? sql`(${tileScores.priority} < ${last.priority} or (${tileScores.priority} = ${last.priority} and ${rowAfter}))`
        : rowAfter;
    }
    const page = handle.db
      .select()
      .from(tileScores)
      .where(and(...where, after))
      .orderBy(...order)
      .limit(PAGE_ROWS)
      .all();
    yield* page;
    if (page.length < PAGE_ROWS) return;
    last = page[page.length - 1];
  }
}

export type TileStatus = TileScore['status'];

/** Stored tiles of a project by status. */
export async function countTileStatuses(
  handle: DatabaseHandle,
  projectId: number,
): Promise<Map<TileStatus, number>> {
  return tileStatusCounts(handle, projectId);
}

/** `countTileStatuses` inside a transaction of this layer. */
export function tileStatusCounts(handle: DatabaseHandle, projectId: number): Map<TileStatus, number> {
  const rows = handle.db
    .select({ status: tileScores.status, n: sql<number>`count(*)` })
    .from(tileScores)
    .where(eq(tileScores.projectId, projectId))
    .groupBy(tileScores.status)
    .all();
  return new Map(rows.map((r) => [r.status, r.n]));
}

// ── map tiles: keyset pages over one index range ─────────────────────────────────────────────────────────

/** The columns of a scored tile the raster overlays read. */
export interface OverlayCellRow {
  x: number;
  y: number;
  status: TileStatus;
  priority: number;
  iouHat: number | null;
  novelty: number | null;
  iouLow: number | null;
  iouHigh: number | null;
  /** P(building)'s no-label interval (analysis/doubt.ts); its width is the tile's doubt. */
  buildingProbLow: number | null;
  buildingProbHigh: number | null;
}

/** …and what the vector tiles add to them. */
export interface VectorCellRow extends OverlayCellRow {
  taskId: string;
  tier: TileScore['tier'];
  buildingProb: number | null;
  footprints: FootprintsJson | null;
}

/**
 * A range on the primary key: x as an index range, y checked inside the index, so a map tile touches only
 * the index entries of its own columns — never the whole project — whatever the project's size.
 */
function inRange(projectId: number, zoom: number, r: TileRange) {
  return and(
    eq(tileScores.projectId, projectId),
    eq(tileScores.z, zoom),
    gte(tileScores.x, r.minX),
    lte(tileScores.x, r.maxX),
    gte(tileScores.y, r.minY),
    lte(tileScores.y, r.maxY),
  );
}

/** The columns every cell reads, in the order `overlayCell` expects them. */
const CELL_COLUMNS = {
  x: tileScores.x,
  y: tileScores.y,
  status: tileScores.status,
  priority: tileScores.priority,
  iouHat: tileScores.iouHat,
  novelty: tileScores.novelty,
  iouLow: tileScores.iouLow,
  iouHigh: tileScores.iouHigh,
  buildingProbLow: tileScores.buildingProbLow,
  buildingProbHigh: tileScores.buildingProbHigh,
};
const CELL_WIDTH = Object.keys(CELL_COLUMNS).length;

function overlayCell(row: unknown[]): OverlayCellRow {
  return {
    x: row[0] as number,
    y: row[1] as number,
    status: row[2] as TileStatus,
    priority: row[3] as number,
    iouHat: row[4] as number | null,
    novelty: row[5] as number | null,
    iouLow: row[6] as number | null,
    iouHigh: row[7] as number | null,
    buildingProbLow: row[8] as number | null,
    buildingProbHigh: row[9] as number | null,
  };
}

/** A tile's place on the primary key within its project: [z, x, y]. */
export type TileKey = [number, number, number];

/**
 * Rows of `fields`, followed by the tile's z, x and y, of the project tiles that `where(after)` keeps, in
 * keyset pages along the primary key: each page a range of the key's index that starts where the last ended.
 */
export function tileRowsByKey(
  handle: DatabaseHandle,
  where: (after: TileKey | undefined) => SQL | undefined,
  fields: SelectedFields,
): AsyncGenerator<unknown[]> {
  const keyed = { ...fields, keyZ: tileScores.z, keyX: tileScores.x, keyY: tileScores.y };
  const at = Object.keys(fields).length;
  return keysetRows(
    (after: TileKey | undefined, limit) =>
      handle.db
        .select(keyed)
        .from(tileScores)
        .where(
          and(
            where(after),
            after === undefined
              ? undefined
              : sql`(${tileScores.z}, ${tileScores.x}, ${tileScores.y}) > (${after[0]}, ${after[1]}, ${after[2]})`,
          ),
        )
        .orderBy(asc(tileScores.z), asc(tileScores.x), asc(tileScores.y))
        .limit(limit),
    (row): TileKey => [row[at] as number, row[at + 1] as number, row[at + 2] as number],
  );
}

/** The cells of a range, CELL_COLUMNS first. */
function cellsInRange(
  handle: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: TileRange,
  fields: SelectedFields & typeof CELL_COLUMNS,
): AsyncGenerator<unknown[]> {
  // The index range itself starts at the last column read, so no page walks the columns before it again.
  const where = (after: TileKey | undefined) =>
    inRange(projectId, zoom, after ? { ...r, minX: Math.max(r.minX, after[1]) } : r);
  return tileRowsByKey(handle, where, fields);
}

/** Streams the raster cells of a range. */
export async function* iterateOverlayCells(
  handle: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: TileRange,
): AsyncGenerator<OverlayCellRow> {
  for await (const row of cellsInRange(handle, projectId, zoom, r, CELL_COLUMNS)) yield overlayCell(row);
}

/** Streams the vector cells of a range. */
export async function* iterateVectorCells(
  handle: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: TileRange,
): AsyncGenerator<VectorCellRow> {
  const fields = {
    ...CELL_COLUMNS,
    taskId: tileScores.taskId,
    tier: tileScores.tier,
    buildingProb: tileScores.buildingProb,
    footprints: tileScores.footprints,
  };
  for await (const row of cellsInRange(handle, projectId, zoom, r, fields)) {
    const extra = row.slice(CELL_WIDTH);
    yield {
      ...overlayCell(row),
      taskId: extra[0] as string,
      tier: extra[1] as TileScore['tier'],
      buildingProb: extra[2] as number | null,
      // Raw rows skip drizzle's JSON column mapping.
      footprints: extra[3] === null ? null : (JSON.parse(extra[3] as string) as FootprintsJson),
    };
  }
}

// ── two projects over the same tiles ────────────────────────────────────────────────────────────────

/** One tile scored in both projects: A's and B's priority, smoothed IoU, interval and tier. */
export interface TilePairRow {
  taskId: string;
  z: number;
  x: number;
  y: number;
  priorityA: number;
  priorityB: number;
  iouHatA: number | null;
  iouHatB: number | null;
  lowA: number | null;
  highA: number | null;
  lowB: number | null;
  highB: number | null;
  tierA: string;
  tierB: string;
}

const PAIRS_SQL = `select a.task_id as taskId, a.z, a.x, a.y, a.priority as priorityA, b.priority as priorityB,
    a.iou_hat as iouHatA, b.iou_hat as iouHatB, a.iou_low as lowA, a.iou_high as highA, b.iou_low as lowB,
    b.iou_high as highB, a.tier as tierA, b.tier as tierB
  from tile_scores a join tile_scores b on b.project_id = ? and b.z = a.z and b.x = a.x and b.y = a.y
  where a.project_id = ? and (a.z, a.x, a.y) > (?, ?, ?)
  order by a.z, a.x, a.y
  limit ?`;

/**
 * Streams the tiles both projects scored, matched by z / x / y (one join over the primary keys), in keyset
 * pages along A's primary key.
 */
export async function* iterateTilePairs(
  handle: DatabaseHandle,
  a: number,
  b: number,
): AsyncGenerator<TilePairRow> {
  const page = handle.sqlite.prepare(PAIRS_SQL);
  // Below every stored tile: z, x and y are never negative.
  let after = [-1, -1, -1];
  for (;;) {
    const rows = page.all(b, a, ...after, KEYSET_PAGE_ROWS) as TilePairRow[];
    for (const row of rows) yield row;
    if (rows.length < KEYSET_PAGE_ROWS) return;
    const last = rows[rows.length - 1];
    after = [last.z, last.x, last.y];
  }
}

/** Stored tiles of a project, whatever their status. */
export async function countProjectTiles(handle: DatabaseHandle, projectId: number): Promise<number> {
  return (
    handle.db
      .select({ n: sql<number>`count(*)` })
      .from(tileScores)
      .where(eq(tileScores.projectId, projectId))
      .get()?.n ?? 0
  );
}
