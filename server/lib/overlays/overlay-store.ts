/**
 * The database reads behind overlay and vector tiles. Every read is a range on the tile_scores primary
 * key (project_id, z, x, y): x as an index range, y checked inside the index, so a map tile touches only
 * the index entries of its own columns — never the whole project — whatever the project's size.
 */
import { and, desc, eq, gte, lte } from 'drizzle-orm';
import type { DatabaseHandle } from '../db/client.ts';
import { cursor } from '../db/cursor.ts';
import { scoringJobs, tileScores, type FootprintsJson } from '../db/schema.ts';
import type { OverlayCell } from './layers.ts';
import type { ScoringRange } from './overlay-grid.ts';

type Range = Pick<ScoringRange, 'minX' | 'maxX' | 'minY' | 'maxY'>;

function inRange(projectId: number, zoom: number, r: Range) {
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
};
const CELL_WIDTH = Object.keys(CELL_COLUMNS).length;

function overlayCell(row: unknown[]): OverlayCell {
  return {
    x: row[0] as number,
    y: row[1] as number,
    status: row[2] as OverlayCell['status'],
    priority: row[3] as number,
    iouHat: row[4] as number | null,
    novelty: row[5] as number | null,
    iouLow: row[6] as number | null,
    iouHigh: row[7] as number | null,
  };
}

/** Streams the cells of a range. */
export function* iterateOverlayCells(
  db: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: Range,
): Generator<OverlayCell> {
  const query = db.db
    .select(CELL_COLUMNS)
    .from(tileScores)
    .where(inRange(projectId, zoom, r));
  for (const row of cursor(db, query)) yield overlayCell(row);
}

export interface VectorCell extends OverlayCell {
  taskId: string;
  tier: 'high' | 'medium' | 'low' | 'skip';
  buildingProb: number | null;
  footprints: FootprintsJson | null;
}

export function* iterateVectorCells(
  db: DatabaseHandle,
  projectId: number,
  zoom: number,
  r: Range,
): Generator<VectorCell> {
  const query = db.db
    .select({
      ...CELL_COLUMNS,
      taskId: tileScores.taskId,
      tier: tileScores.tier,
      buildingProb: tileScores.buildingProb,
      footprints: tileScores.footprints,
    })
    .from(tileScores)
    .where(inRange(projectId, zoom, r));
  for (const row of cursor(db, query)) {
    const extra = row.slice(CELL_WIDTH);
    yield {
      ...overlayCell(row),
      taskId: extra[0] as string,
      tier: extra[1] as VectorCell['tier'],
      buildingProb: extra[2] as number | null,
      // Raw rows skip drizzle's JSON column mapping.
      footprints: extra[3] === null ? null : (JSON.parse(extra[3] as string) as FootprintsJson),
    };
  }
}

/**
 * What the overlays of a project look like now, as a short string: the latest scoring job and how far it
 * got. Tiles only ever gain rows while a job runs, so equal versions mean equal tiles; it is the ETag and
 * the cache key. Projects whose tiles were written without a job (imports) are version "static".
 */
export function overlayVersion(db: DatabaseHandle, projectId: number): { version: string; final: boolean } {
  const job = db.db
    .select({ id: scoringJobs.id, done: scoringJobs.done, status: scoringJobs.status })
    .from(scoringJobs)
    .where(eq(scoringJobs.projectId, projectId))
    .orderBy(desc(scoringJobs.id))
    .limit(1)
    .get();
  if (!job) return { version: 'static', final: true };
  const final = job.status === 'done' || job.status === 'failed' || job.status === 'cancelled';
  return { version: `j${job.id}-${job.done}-${job.status}`, final };
}
