/**
 * Scored tiles (table `tile_scores`, one row per project tile, primary key (project_id, z, x, y), so no
 * tile is ever stored twice): writing a job's batches and every read of them — pages for exports and
 * overlay tiles, counts, single tiles, and two projects' tiles side by side.
 *
 * Nothing here holds a project's tiles at once: whole-project reads and map tiles come in keyset pages (no
 * statement stays open between pages, so a running job keeps writing to the same connection while a route
 * streams).
 */
import {
  and,
  asc,
  count,
  desc,
  eq,
  getTableColumns,
  gte,
  inArray,
  lte,
  ne,
  sql,
  type SQL,
} from 'drizzle-orm';
import type { SelectedFields } from 'drizzle-orm/sqlite-core';
import type { DatabaseHandle } from './client.ts';
import { aliasOf, insertKeepingStored, rowsChanged, selectValues } from './dialect.ts';
import { keysetRows, PAGE_ROWS as KEYSET_PAGE_ROWS } from './keyset-pages.ts';
import type { TileCoord } from '../geo/tiles.ts';
import {
  tileScores as sqliteTileScores,
  type FootprintsJson,
  type NewTileScore,
  type TileScore,
} from './schema.ts';

/** Inclusive tile x / y ranges at the project's zoom. */
export interface TileRange {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

/** Rows a job writes; a tile already stored keeps its row (first write wins). Returns the rows written. */
export async function insertTileScores(handle: DatabaseHandle, rows: NewTileScore[]): Promise<number> {
  return insertKeepingStored(handle, handle.t.tileScores, rows);
}

/** Statuses a retry takes up again: the imagery failed or was unreadable (missing imagery stays missing). */
export const RETRYABLE_STATUSES = ['failed', 'undecodable'] as const;

/** Every column a row may leave null (the scores, the error), set to null. */
const CLEARED = Object.fromEntries(
  Object.entries(getTableColumns(sqliteTileScores))
    .filter(([, column]) => !column.notNull)
    .map(([key]) => [key, null]),
) as { [K in keyof NewTileScore as null extends NewTileScore[K] ? K : never]?: null };

/**
 * Rows of a retry job: each replaces the tile's failed row, adding the reads it took to the tile's
 * attempts. A tile scored in the meantime keeps its row. Returns the rows written.
 */
export async function replaceFailedTileScores(handle: DatabaseHandle, rows: NewTileScore[]): Promise<number> {
  const { tileScores } = handle.t;
  let written = 0;
  for (const row of rows) {
    const { projectId: _p, z: _z, x: _x, y: _y, taskId: _t, quadkey: _q, ...values } = row;
    written += rowsChanged(
      await handle.db
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
        }),
    );
  }
  return written;
}

/** Tiles of the project a retry job still has to take up: failed or undecodable, not yet retried by `jobId`. */
export async function* retryableTiles(
  handle: DatabaseHandle,
  projectId: number,
  jobId: number,
): AsyncGenerator<TileCoord> {
  const { tileScores } = handle.t;
  let last: { y: number; x: number } | undefined;
  for (;;) {
    const page = await handle.db
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
      .limit(PAGE_ROWS);
    yield* page;
    if (page.length < PAGE_ROWS) return;
    last = page[page.length - 1];
  }
}

/** What a stored tile is, for a chunk deciding which of its tiles to take: its status and the job that wrote it. */
export interface StoredTileState {
  status: TileScore['status'];
  jobId: number | null;
}

/**
 * The stored rows among `tiles` (a chunk's: a few rows of the grid), keyed by `taskId`-style "z/x/y": one query
 * over the rows' x extents, so a chunk asks once instead of once per tile.
 */
export async function storedTileStates(
  handle: DatabaseHandle,
  projectId: number,
  tiles: readonly TileCoord[],
): Promise<Map<string, StoredTileState>> {
  const { tileScores } = handle.t;
  const out = new Map<string, StoredTileState>();
  if (tiles.length === 0) return out;
  const rows = new Map<number, { z: number; minX: number; maxX: number }>();
  for (const t of tiles) {
    const r = rows.get(t.y);
    if (!r) rows.set(t.y, { z: t.z, minX: t.x, maxX: t.x });
    else {
      r.minX = Math.min(r.minX, t.x);
      r.maxX = Math.max(r.maxX, t.x);
    }
  }
  const wanted = new Set(tiles.map((t) => `${t.z}/${t.x}/${t.y}`));
  for (const [y, r] of rows) {
    const found = await handle.db
      .select({ z: tileScores.z, x: tileScores.x, status: tileScores.status, jobId: tileScores.jobId })
      .from(tileScores)
      .where(
        and(
          eq(tileScores.projectId, projectId),
          eq(tileScores.z, r.z),
          eq(tileScores.y, y),
          gte(tileScores.x, r.minX),
          lte(tileScores.x, r.maxX),
        ),
      );
    for (const f of found) {
      const key = `${f.z}/${f.x}/${y}`;
      if (wanted.has(key)) out.set(key, { status: f.status, jobId: f.jobId });
    }
  }
  return out;
}

const tileKey = (handle: DatabaseHandle, projectId: number, z: number, x: number, y: number) => {
  const { tileScores } = handle.t;
  return and(
    eq(tileScores.projectId, projectId),
    eq(tileScores.z, z),
    eq(tileScores.x, x),
    eq(tileScores.y, y),
  );
};

export async function isTileStored(
  handle: DatabaseHandle,
  projectId: number,
  z: number,
  x: number,
  y: number,
): Promise<boolean> {
  const rows = await handle.db
    .select({ one: sql`1` })
    .from(handle.t.tileScores)
    .where(tileKey(handle, projectId, z, x, y))
    .limit(1);
  return rows.length > 0;
}

export async function getTileScore(
  handle: DatabaseHandle,
  projectId: number,
  z: number,
  x: number,
  y: number,
): Promise<TileScore | undefined> {
  const [row] = await handle.db
    .select()
    .from(handle.t.tileScores)
    .where(tileKey(handle, projectId, z, x, y));
  return row;
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
  const { tileScores } = handle.t;
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
    const page = await handle.db
      .select()
      .from(tileScores)
      .where(and(...where, after))
      .orderBy(...order)
      .limit(PAGE_ROWS);
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
  const { tileScores } = handle.t;
  const rows = await handle.db
    .select({ status: tileScores.status, n: count() })
    .from(tileScores)
    .where(eq(tileScores.projectId, projectId))
    .groupBy(tileScores.status);
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
function inRange(handle: DatabaseHandle, projectId: number, zoom: number, r: TileRange) {
  const { tileScores } = handle.t;
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
const cellColumns = (tileScores: typeof sqliteTileScores) => ({
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
});
const CELL_WIDTH = Object.keys(cellColumns(sqliteTileScores)).length;

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
  const { tileScores } = handle.t;
  const keyed = { ...fields, keyZ: tileScores.z, keyX: tileScores.x, keyY: tileScores.y };
  const at = Object.keys(fields).length;
  return keysetRows(
    (after: TileKey | undefined, limit) =>
      selectValues(
        handle,
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
      ),
    (row): TileKey => [row[at] as number, row[at + 1] as number, row[at + 2] as number],
  );
}

/** The cells of a range, CELL_COLUMNS first. */
function cellsInRange(
  handle: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: TileRange,
  fields: SelectedFields & ReturnType<typeof cellColumns>,
): AsyncGenerator<unknown[]> {
  // The index range itself starts at the last column read, so no page walks the columns before it again.
  const where = (after: TileKey | undefined) =>
    inRange(handle, projectId, zoom, after ? { ...r, minX: Math.max(r.minX, after[1]) } : r);
  return tileRowsByKey(handle, where, fields);
}

/** Streams the raster cells of a range. */
export async function* iterateOverlayCells(
  handle: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: TileRange,
): AsyncGenerator<OverlayCellRow> {
  for await (const row of cellsInRange(handle, projectId, zoom, r, cellColumns(handle.t.tileScores)))
    yield overlayCell(row);
}

/** Streams the vector cells of a range. */
export async function* iterateVectorCells(
  handle: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: TileRange,
): AsyncGenerator<VectorCellRow> {
  const { tileScores } = handle.t;
  const fields = {
    ...cellColumns(handle.t.tileScores),
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
      footprints: extra[3] as FootprintsJson | null,
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

/**
 * Streams the tiles both projects scored, matched by z / x / y (one join over the primary keys), in keyset
 * pages along A's primary key.
 */
export async function* iterateTilePairs(
  handle: DatabaseHandle,
  a: number,
  b: number,
): AsyncGenerator<TilePairRow> {
  const ta = aliasOf(handle, handle.t.tileScores, 'a');
  const tb = aliasOf(handle, handle.t.tileScores, 'b');
  // Below every stored tile: z, x and y are never negative.
  let after = [-1, -1, -1];
  for (;;) {
    const rows: TilePairRow[] = await handle.db
      .select({
        taskId: ta.taskId,
        z: ta.z,
        x: ta.x,
        y: ta.y,
        priorityA: ta.priority,
        priorityB: tb.priority,
        iouHatA: ta.iouHat,
        iouHatB: tb.iouHat,
        lowA: ta.iouLow,
        highA: ta.iouHigh,
        lowB: tb.iouLow,
        highB: tb.iouHigh,
        tierA: ta.tier,
        tierB: tb.tier,
      })
      .from(ta)
      .innerJoin(tb, and(eq(tb.projectId, b), eq(tb.z, ta.z), eq(tb.x, ta.x), eq(tb.y, ta.y)))
      .where(
        and(eq(ta.projectId, a), sql`(${ta.z}, ${ta.x}, ${ta.y}) > (${after[0]}, ${after[1]}, ${after[2]})`),
      )
      .orderBy(asc(ta.z), asc(ta.x), asc(ta.y))
      .limit(KEYSET_PAGE_ROWS);
    for (const row of rows) yield row;
    if (rows.length < KEYSET_PAGE_ROWS) return;
    const last = rows[rows.length - 1];
    after = [last.z, last.x, last.y];
  }
}

/** Stored tiles of a project, whatever their status. */
export async function countProjectTiles(handle: DatabaseHandle, projectId: number): Promise<number> {
  const { tileScores } = handle.t;
  const [row] = await handle.db
    .select({ n: count() })
    .from(tileScores)
    .where(eq(tileScores.projectId, projectId));
  return row?.n ?? 0;
}
