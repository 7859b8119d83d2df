/**
 * Reading and writing scored tiles (table `tile_scores`, one row per project tile, primary key
 * (project_id, z, x, y), so no tile is ever stored twice).
 */
import { and, asc, desc, eq, gte, inArray, lte, ne, sql, type SQL } from 'drizzle-orm';
import { tileScores, type NewTileScore, type TileScore } from '../db/schema.ts';
import { parseTaskId, tilesCoveringBBox, type BBox, type TileCoord } from '../geo/tiles.ts';
import { getPatches } from '../db/analysis-repo.ts';
import { effortCurve, fitCalibration, type BuildingCalibration, type EffortPoint } from './effort.ts';
import type { ScoredTile } from './scored-tile.ts';
import { buildingProbability, loadBuildingProb } from './building-prob.ts';
import type { ScoringContext } from './context.ts';
import { ScoringError } from './errors.ts';
import { requireProject } from './projects.ts';

/**
 * The numbers a tile the model never saw is given in a ScoredTile (the database holds null for them):
 * no trust (iouHat 0), farthest from the training set (novelty 100), and a building as likely as not.
 */
const UNSCORED = { buildingProb: 0.5, predFraction: 0, iouHat: 0, novelty: 100, urbanDistance: 0 } as const;

export function toScoredTile(row: TileScore): ScoredTile {
  const scored = row.status === 'scored';
  const tile: ScoredTile = {
    z: row.z,
    x: row.x,
    y: row.y,
    taskId: row.taskId,
    quadkey: row.quadkey,
    status: row.status,
    buildingProb: scored ? (row.buildingProb ?? 0) : UNSCORED.buildingProb,
    predFraction: scored ? (row.predFraction ?? 0) : UNSCORED.predFraction,
    iouHat: scored ? (row.iouHat ?? 0) : UNSCORED.iouHat,
    urbanDistance: scored ? (row.urbanDistance ?? 0) : UNSCORED.urbanDistance,
    novelty: scored ? (row.novelty ?? 100) : UNSCORED.novelty,
    priority: row.priority,
    tier: row.tier,
    modelId: String(row.modelId),
    runId: row.runId,
  };
  if (row.error) tile.error = row.error;
  tile.attempts = row.attempts;
  if (scored && row.iouLow !== null && row.iouHigh !== null)
    Object.assign(tile, { iouLow: row.iouLow, iouHigh: row.iouHigh });
  if (row.footprints) tile.footprints = row.footprints;
  return tile;
}

/** Rows a job writes in one transaction; a tile already stored keeps its row (first write wins). */
export function insertTileScores(ctx: ScoringContext, rows: NewTileScore[]): number {
  let written = 0;
  // 22 columns × 40 rows stays far below SQLite's bound-parameter limit.
  for (let i = 0; i < rows.length; i += 40) {
    written += ctx.db.db
      .insert(tileScores)
      .values(rows.slice(i, i + 40))
      .onConflictDoNothing()
      .run().changes;
  }
  return written;
}

/** Statuses a retry takes up again: the imagery failed or was unreadable (missing imagery stays missing). */
export const RETRYABLE_STATUSES = ['failed', 'undecodable'] as const;

/**
 * Rows of a retry job: each replaces the tile's failed row, adding the reads it took to the tile's
 * attempts. A tile scored in the meantime keeps its row. Returns the rows written.
 */
export function replaceFailedTileScores(ctx: ScoringContext, rows: NewTileScore[]): number {
  let written = 0;
  for (const row of rows) {
    const { projectId: _p, z: _z, x: _x, y: _y, taskId: _t, quadkey: _q, ...values } = row;
    written += ctx.db.db
      .insert(tileScores)
      .values(row)
      .onConflictDoUpdate({
        target: [tileScores.projectId, tileScores.z, tileScores.x, tileScores.y],
        // Every score column, so a healed tile loses its error and a tile failing again gets the new reason.
        set: {
          buildingProb: null,
          predFraction: null,
          iouHat: null,
          urbanDistance: null,
          urbanDistanceScaled: null,
          novelty: null,
          iouLow: null,
          iouHigh: null,
          pcs: null,
          footprints: null,
          error: null,
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
export function* retryableTiles(ctx: ScoringContext, projectId: number, jobId: number): Generator<TileCoord> {
  let last: { y: number; x: number } | undefined;
  for (;;) {
    const page = ctx.db.db
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

export function isTileStored(
  ctx: ScoringContext,
  projectId: number,
  z: number,
  x: number,
  y: number,
): boolean {
  return !!ctx.db.db
    .select({ one: sql`1` })
    .from(tileScores)
    .where(
      and(eq(tileScores.projectId, projectId), eq(tileScores.z, z), eq(tileScores.x, x), eq(tileScores.y, y)),
    )
    .get();
}

export interface IterateOptions {
  /** Only tiles intersecting [west, south, east, north]. */
  bbox?: BBox;
  /** 'priority': highest first (the (project_id, priority) index); default: row by row, north to south. */
  orderBy?: 'priority';
}

const PAGE_ROWS = 500;

/**
 * Rows in pages of PAGE_ROWS, each page found by keyset (the last row's sort key), so a whole region's
 * tiles never sit in memory together and no statement stays open between pages: a running job keeps
 * writing to the same connection while a route streams.
 */
export function* iterateTileRows(
  ctx: ScoringContext,
  projectId: number,
  options: IterateOptions = {},
): Generator<TileScore> {
  const project = requireProject(ctx, projectId);
  const where: SQL[] = [eq(tileScores.projectId, projectId)];
  if (options.bbox) {
    const [w, s, e, n] = options.bbox;
    if (![w, s, e, n].every(Number.isFinite) || !(w <= e && s <= n)) {
      throw new ScoringError(
        'invalid-request',
        `bbox must be [west, south, east, north] with west ≤ east and south ≤ north`,
      );
    }
    const r = tilesCoveringBBox(options.bbox, project.zoom);
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
    const page = ctx.db.db
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

export function* iterateScoredTiles(
  ctx: ScoringContext,
  projectId: number,
  options: IterateOptions = {},
): Generator<ScoredTile> {
  for (const row of iterateTileRows(ctx, projectId, options)) yield toScoredTile(row);
}

export interface TileCounts {
  total: number;
  scored: number;
  missing: number;
  undecodable: number;
  failed: number;
}

export function countScoredTiles(ctx: ScoringContext, projectId: number): TileCounts {
  const counts: TileCounts = { total: 0, scored: 0, missing: 0, undecodable: 0, failed: 0 };
  const rows = ctx.db.db
    .select({ status: tileScores.status, n: sql<number>`count(*)` })
    .from(tileScores)
    .where(eq(tileScores.projectId, projectId))
    .groupBy(tileScores.status)
    .all();
  for (const r of rows) {
    counts[r.status] = r.n;
    counts.total += r.n;
  }
  return counts;
}

export function getTileRow(ctx: ScoringContext, projectId: number, taskId: string): TileScore | undefined {
  let t;
  try {
    t = parseTaskId(taskId);
  } catch (cause) {
    throw new ScoringError('invalid-request', (cause as Error).message, { cause });
  }
  return ctx.db.db
    .select()
    .from(tileScores)
    .where(
      and(
        eq(tileScores.projectId, projectId),
        eq(tileScores.z, t.z),
        eq(tileScores.x, t.x),
        eq(tileScores.y, t.y),
      ),
    )
    .get();
}

export function getScoredTile(
  ctx: ScoringContext,
  projectId: number,
  taskId: string,
): ScoredTile | undefined {
  const row = getTileRow(ctx, projectId, taskId);
  return row ? toScoredTile(row) : undefined;
}

/**
 * The table that turns a tile's building_prob into the share of training tiles that really held a
 * building, from the run's own patches. building_prob is already calibrated on them, so this mostly
 * confirms it; it matters for tiles whose building_prob came from elsewhere (an imported score table).
 */
export function referenceCalibration(ctx: ScoringContext, runId: number): BuildingCalibration {
  const cal = loadBuildingProb(ctx.db, runId);
  function* tiles() {
    for (let offset = 0; ; offset += 10_000) {
      const page = getPatches(ctx.db, runId, {
        columns: ['predFraction', 'tp', 'fn'],
        limit: 10_000,
        offset,
      });
      for (const p of page) {
        yield { buildingProb: buildingProbability(cal, p.predFraction), holdsBuilding: p.tp + p.fn > 0 };
      }
      if (page.length < 10_000) return;
    }
  }
  return fitCalibration(tiles());
}

export function effortForProject(ctx: ScoringContext, projectId: number): EffortPoint[] {
  const project = requireProject(ctx, projectId);
  return effortCurve(iterateScoredTiles(ctx, projectId), {
    calibration: referenceCalibration(ctx, project.runId),
  });
}
