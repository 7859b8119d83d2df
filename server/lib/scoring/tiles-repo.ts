/**
 * Scored tiles as the rest of the library reads them: rows of `tile_scores` (db/tile-scores-repo.ts) turned
 * into ScoredTile, found by task id or bbox, counted, and the effort curve over them.
 */
import type { TileScore } from '../db/schema.ts';
import {
  countTileStatuses,
  getTileScore,
  iterateTileScores,
  type TileRange,
} from '../db/tile-scores-repo.ts';
import { parseTaskId, tilesCoveringBBox, type BBox } from '../geo/tiles.ts';
import { effortCurve, type EffortCurve } from './effort.ts';
import type { ScoredTile } from '../scored-tiles/scored-tile.ts';
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
  if (scored && row.buildingProbLow !== null && row.buildingProbHigh !== null)
    Object.assign(tile, { buildingProbLow: row.buildingProbLow, buildingProbHigh: row.buildingProbHigh });
  if (scored && row.noveltyRatio !== null) tile.noveltyRatio = row.noveltyRatio;
  if (scored && row.maxProb !== null) tile.maxProb = row.maxProb;
  if (row.footprints) tile.footprints = row.footprints;
  return tile;
}

export interface IterateOptions {
  /** Only tiles intersecting [west, south, east, north]. */
  bbox?: BBox;
  /** 'priority': highest first; default: row by row, north to south. */
  orderBy?: 'priority';
}

/** A project's tiles in pages, never all in memory (see db/tile-scores-repo.ts). */
export async function* iterateScoredTiles(
  ctx: ScoringContext,
  projectId: number,
  options: IterateOptions = {},
): AsyncGenerator<ScoredTile> {
  const project = await requireProject(ctx, projectId);
  let range: TileRange | undefined;
  if (options.bbox) {
    const [w, s, e, n] = options.bbox;
    if (![w, s, e, n].every(Number.isFinite) || !(w <= e && s <= n)) {
      throw new ScoringError(
        'invalid-request',
        `bbox must be [west, south, east, north] with west ≤ east and south ≤ north`,
      );
    }
    range = tilesCoveringBBox(options.bbox, project.zoom);
  }
  for await (const row of iterateTileScores(ctx.db, projectId, { range, orderBy: options.orderBy })) {
    yield toScoredTile(row);
  }
}

export interface TileCounts {
  total: number;
  scored: number;
  missing: number;
  undecodable: number;
  failed: number;
}

export async function countScoredTiles(ctx: ScoringContext, projectId: number): Promise<TileCounts> {
  const counts: TileCounts = { total: 0, scored: 0, missing: 0, undecodable: 0, failed: 0 };
  for (const [status, n] of await countTileStatuses(ctx.db, projectId)) {
    counts[status] = n;
    counts.total += n;
  }
  return counts;
}

export async function getTileRow(
  ctx: ScoringContext,
  projectId: number,
  taskId: string,
): Promise<TileScore | undefined> {
  let t;
  try {
    t = parseTaskId(taskId);
  } catch (cause) {
    throw new ScoringError('invalid-request', (cause as Error).message, { cause });
  }
  return await getTileScore(ctx.db, projectId, t.z, t.x, t.y);
}

export async function getScoredTile(
  ctx: ScoringContext,
  projectId: number,
  taskId: string,
): Promise<ScoredTile | undefined> {
  const row = await getTileRow(ctx, projectId, taskId);
  return row ? toScoredTile(row) : undefined;
}

/** The project's effort curve from its stored tiles (one pass), with the reference run's no-label interval. */
export async function effortForProject(ctx: ScoringContext, projectId: number): Promise<EffortCurve> {
  await requireProject(ctx, projectId);
  async function* tiles() {
    for await (const t of iterateScoredTiles(ctx, projectId)) {
      if (t.status !== 'scored') continue;
      yield {
        priority: t.priority,
        buildingProb: t.buildingProb,
        buildingProbLow: t.buildingProbLow,
        buildingProbHigh: t.buildingProbHigh,
        covered: t.noveltyRatio === undefined ? null : t.noveltyRatio <= 1,
        modelEmpty: t.predFraction === 0,
      };
    }
  }
  return await effortCurve(tiles());
}
