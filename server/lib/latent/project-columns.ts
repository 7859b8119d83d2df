/**
 * A project's scored tiles in its run's latent space: positions on two components (4 B per tile) and
 * the attributes (smoothed IoU, novelty, priority, building probability, tier, the tile: 9 B per tile),
 * each answer from ONE pass over the tiles, written straight into the bytes it sends.
 *
 * Rows are the tiles placed in the space at `asOf`, west to east then north to south within a column (the
 * primary key's order, so each page of the read is an index range). A scoring job may still be adding tiles:
 * asOf (the attributes' meta carries it) pins one snapshot across requests.
 */
import { readConsistently, type DatabaseHandle } from '../db/client.ts';
import { projectTileComponents, projectTileRows, projectTileStats } from '../db/latent-repo.ts';
import { TIERS } from '../scored-tiles/scored-tile.ts';
import { ColumnsWriter, type ColumnsBody } from './columns-format.ts';
import { LatentError } from './errors.ts';

export interface LatentProject {
  id: number;
  runId: number;
  zoom: number;
}

function checkRows(project: LatentProject, written: number, counted: number) {
  if (written !== counted) {
    throw new LatentError(
      'data-changed',
      `project ${project.id} yields ${written} placed tiles, ${counted} were counted before the scan`,
      'the data changed while it was read; ask again',
    );
  }
}

/** The project's tiles on components x and y (1-based): columns `x` and `y`. */
export async function projectPositions(
  db: DatabaseHandle,
  project: LatentProject,
  x: number,
  y: number,
  asOf = Date.now(),
): Promise<ColumnsBody> {
  // The body's `db` is the read transaction's handle.
  return await readConsistently(db, async (db) => {
    const { n } = await projectTileStats(db, project.id, asOf);
    // Raw values first (16 B per tile), so the pass finds the ranges the codes are quantised over.
    const raw = [new Float64Array(n), new Float64Array(n)];
    const lo = [Infinity, Infinity];
    const hi = [-Infinity, -Infinity];
    let r = 0;
    for await (const row of projectTileComponents(db, project.id, asOf, x, y)) {
      if (r >= n) break;
      for (let k = 0; k < 2; k++) {
        const v = row[k] as number | null;
        raw[k][r] = v ?? Number.NaN;
        if (v !== null && v < lo[k]) lo[k] = v;
        if (v !== null && v > hi[k]) hi[k] = v;
      }
      r++;
    }
    checkRows(project, r, n);
    const range = (k: number) => (Number.isFinite(lo[k]) ? { min: lo[k], max: hi[k] } : { min: 0, max: 0 });
    const out = new ColumnsWriter(
      n,
      [
        { name: 'x', type: 'uint16', ...range(0) },
        { name: 'y', type: 'uint16', ...range(1) },
      ],
      { projectId: project.id, runId: project.runId, axes: [x, y], asOf },
    );
    for (let k = 0; k < 2; k++) for (let i = 0; i < n; i++) out.set(k, i, raw[k][i]);
    return out.result();
  });
}

/** The project's tile attributes, once per project (and again when a scoring job has added tiles). */
export async function projectAttributes(
  db: DatabaseHandle,
  project: LatentProject,
  asOf = Date.now(),
): Promise<ColumnsBody> {
  // The body's `db` is the read transaction's handle.
  return await readConsistently(db, async (db) => {
    const { n, minX, minY } = await projectTileStats(db, project.id, asOf);
    const ox = minX ?? 0;
    const oy = minY ?? 0;
    const out = new ColumnsWriter(
      n,
      [
        { name: 'iouHat', type: 'uint8', min: 0, max: 1 },
        { name: 'novelty', type: 'uint8', min: 0, max: 100 },
        { name: 'priority', type: 'uint8', min: 0, max: 1 },
        { name: 'buildingProb', type: 'uint8', min: 0, max: 1 },
        { name: 'tier', type: 'uint8', categories: [...TIERS] },
        { name: 'tileX', type: 'uint16' },
        { name: 'tileY', type: 'uint16' },
      ],
      { projectId: project.id, runId: project.runId, tileOrigin: { z: project.zoom, x: ox, y: oy }, asOf },
    );
    let r = 0;
    for await (const row of projectTileRows(db, project.id, asOf)) {
      if (r >= n) break;
      for (let k = 0; k < 4; k++) out.set(k, r, row[k] as number | null);
      out.set(4, r, TIERS.indexOf(row[4] as (typeof TIERS)[number]));
      out.set(5, r, (row[5] as number) - ox);
      out.set(6, r, (row[6] as number) - oy);
      r++;
    }
    checkRows(project, r, n);
    return out.result();
  });
}
