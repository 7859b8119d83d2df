/**
 * The database reads and writes behind the latent view: a run's patches scanned once for its columns,
 * the columns stored with the run, the scored tiles of a project in the same space, and the patches'
 * components for the nearest-patch search. Whole-run reads are keyset pages (server/lib/db/keyset-pages.ts),
 * never arrays of a million rows.
 */
import { and, asc, count, eq, gt, inArray, isNotNull, lte, max, min } from 'drizzle-orm';
import type { SelectedFields } from 'drizzle-orm/sqlite-core';
import type { ColumnsBody, ColumnsHeader } from './json.ts';
import { inTransaction, type DatabaseHandle } from './client.ts';
import { isRefusedWrite, jsonNumber, selectValues } from './dialect.ts';
import { keysetRows } from './keyset-pages.ts';
import { tileRowsByKey } from './tile-scores-repo.ts';
import type { patches, tileScores } from './schema.ts';

/** The components a run stores per patch (pc1..pc9). */
export const PC_COUNT = 9;
/** The component columns of the handle's `patches` table, pc1 first. */
export const pcColumns = (t: typeof patches) =>
  [t.pc1, t.pc2, t.pc3, t.pc4, t.pc5, t.pc6, t.pc7, t.pc8, t.pc9] as const;

// ── a run's patches ───────────────────────────────────────────────────────────────────────────────

export interface RunPatchStats {
  n: number;
  /** Range of each component (null when every patch lacks it). */
  pcRange: Array<[number, number] | null>;
  /** Tile range of the patches that have a tile, and the deepest zoom among them. */
  tiles: { minX: number; maxX: number; minY: number; maxY: number; zoom: number | null } | null;
  maxCluster: number | null;
  idxRange: [number, number] | null;
}

/** What a single pass over the run needs to know before it starts: counts and ranges, in one aggregate read. */
export async function runPatchStats(db: DatabaseHandle, runId: number): Promise<RunPatchStats> {
  const { patches } = db.t;
  const PC_COLUMNS = pcColumns(patches);
  const [row] = (await db.db
    .select({
      n: count(),
      ...Object.fromEntries(
        PC_COLUMNS.flatMap((c, k) => [
          [`lo${k}`, min(c)],
          [`hi${k}`, max(c)],
        ]),
      ),
      minX: min(patches.x),
      maxX: max(patches.x),
      minY: min(patches.y),
      maxY: max(patches.y),
      zoom: max(patches.z),
      maxCluster: max(patches.cluster),
      minIdx: min(patches.idx),
      maxIdx: max(patches.idx),
    })
    .from(patches)
    .where(eq(patches.runId, runId))) as Array<Record<string, number | null>>;
  const pcRange = PC_COLUMNS.map((_, k) => {
    const lo = row[`lo${k}`];
    const hi = row[`hi${k}`];
    return lo === null || hi === null ? null : ([lo, hi] as [number, number]);
  });
  return {
    n: row.n ?? 0,
    pcRange,
    tiles:
      row.minX === null || row.minY === null
        ? null
        : { minX: row.minX, maxX: row.maxX!, minY: row.minY, maxY: row.maxY!, zoom: row.zoom },
    maxCluster: row.maxCluster,
    idxRange: row.minIdx === null ? null : [row.minIdx, row.maxIdx!],
  };
}

const componentFields = (t: typeof patches) =>
  Object.fromEntries(pcColumns(t).map((c, k) => [`pc${k + 1}`, c]));

/** Every patch of a run in idx order, as raw rows [pc1 … pc9, iou, iouHat, novelty, cluster, groupName, split, x, y, idx]. */
export function runPatchRows(db: DatabaseHandle, runId: number): AsyncGenerator<unknown[]> {
  const { patches } = db.t;
  const fields = {
    ...componentFields(patches),
    iou: patches.iou,
    iouHat: patches.iouHat,
    novelty: patches.novelty,
    cluster: patches.cluster,
    groupName: patches.groupName,
    split: patches.split,
    x: patches.x,
    y: patches.y,
    idx: patches.idx,
  };
  const idxAt = Object.keys(fields).length - 1;
  return keysetRows(
    (after: number | undefined, limit) => selectValues(db, runPatchesAfter(db, runId, fields, after, limit)),
    (row) => row[idxAt] as number,
  );
}

/** One keyset page of a run's patches: on the primary key (run_id, idx), so each page is an index range. */
function runPatchesAfter(
  db: DatabaseHandle,
  runId: number,
  fields: SelectedFields,
  after: number | undefined,
  limit: number,
) {
  const { patches } = db.t;
  return db.db
    .select(fields)
    .from(patches)
    .where(and(eq(patches.runId, runId), after === undefined ? undefined : gt(patches.idx, after)))
    .orderBy(asc(patches.idx))
    .limit(limit);
}

/** Patches of a run, counted on the primary-key index (no table reads). */
export async function countRunPatches(db: DatabaseHandle, runId: number): Promise<number> {
  const { patches } = db.t;
  const [row] = await db.db.select({ n: count() }).from(patches).where(eq(patches.runId, runId));
  return row?.n ?? 0;
}

/** Every patch of a run as raw rows [idx, pc1, …, pc9], in idx order. */
export function runPatchComponents(db: DatabaseHandle, runId: number): AsyncGenerator<unknown[]> {
  const { patches } = db.t;
  const fields = { idx: patches.idx, ...componentFields(patches) };
  return keysetRows(
    (after: number | undefined, limit) => selectValues(db, runPatchesAfter(db, runId, fields, after, limit)),
    (row) => row[0] as number,
  );
}

export interface PatchSummary {
  idx: number;
  patchKey: string;
  groupName: string | null;
  iou: number | null;
  iouHat: number | null;
  cluster: number | null;
}

/** A few patches of a run by idx (any order). */
export async function patchSummaries(
  db: DatabaseHandle,
  runId: number,
  idx: number[],
): Promise<PatchSummary[]> {
  if (idx.length === 0) return [];
  const { patches } = db.t;
  return db.db
    .select({
      idx: patches.idx,
      patchKey: patches.patchKey,
      groupName: patches.groupName,
      iou: patches.iou,
      iouHat: patches.iouHat,
      cluster: patches.cluster,
    })
    .from(patches)
    .where(and(eq(patches.runId, runId), inArray(patches.idx, idx)));
}

// ── columns stored with a run ─────────────────────────────────────────────────────────────────────

/** Stored columns by name, for those of `names` that exist at this builder version. */
export async function getStoredColumns(
  db: DatabaseHandle,
  runId: number,
  names: string[],
  version: number,
): Promise<Map<string, ColumnsBody>> {
  const { latentColumns } = db.t;
  const rows = await db.db
    .select({ name: latentColumns.name, header: latentColumns.header, body: latentColumns.body })
    .from(latentColumns)
    .where(
      and(
        eq(latentColumns.runId, runId),
        eq(latentColumns.version, version),
        inArray(latentColumns.name, names),
      ),
    );
  return new Map(
    rows.map((r) => [
      r.name,
      { header: r.header, body: new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.length) },
    ]),
  );
}

/**
 * Replaces a run's stored columns of these names, in one transaction. Returns false when the store refused
 * the write (a read-only or busy database): the columns are then built again when next asked for.
 */
export async function putStoredColumns(
  db: DatabaseHandle,
  runId: number,
  items: Array<{ name: string; columns: ColumnsBody }>,
  version: number,
): Promise<boolean> {
  try {
    await inTransaction(db, async (tx) => {
      const { latentColumns } = tx.t;
      for (const { name, columns } of items) {
        const row = {
          runId,
          name,
          version,
          header: columns.header satisfies ColumnsHeader,
          body: Buffer.from(columns.body.buffer, columns.body.byteOffset, columns.body.length),
        };
        await tx.db
          .insert(latentColumns)
          .values(row)
          .onConflictDoUpdate({
            target: [latentColumns.runId, latentColumns.name],
            set: { version, header: row.header, body: row.body },
          });
      }
    });
    return true;
  } catch (err) {
    if (isRefusedWrite(err)) return false;
    throw err;
  }
}

// ── a project's scored tiles ──────────────────────────────────────────────────────────────────────

// Tiles are only ever added (first write wins), so "scored at or before asOf" is a snapshot that stays the
// same across the separate requests of one view while a job still runs.
const placedTiles = (t: typeof tileScores, projectId: number, asOf: number) =>
  and(eq(t.projectId, projectId), isNotNull(t.pcs), lte(t.scoredAt, new Date(asOf)));

/** Tiles placed in the latent space at asOf, and the north-west corner of their range. */
export async function projectTileStats(
  db: DatabaseHandle,
  projectId: number,
  asOf: number,
): Promise<{ n: number; minX: number | null; minY: number | null }> {
  const { tileScores } = db.t;
  const [row] = await db.db
    .select({ n: count(), minX: min(tileScores.x), minY: min(tileScores.y) })
    .from(tileScores)
    .where(placedTiles(tileScores, projectId, asOf));
  return row;
}

/** Components x and y (1-based) of each placed tile, in the order of `placedTileRows`. */
export function projectTileComponents(
  db: DatabaseHandle,
  projectId: number,
  asOf: number,
  x: number,
  y: number,
): AsyncGenerator<unknown[]> {
  // pcs is a JSON array: one component is read in the database, without parsing rows in JS.
  const component = (pc: number) => jsonNumber(db, db.t.tileScores.pcs, [pc - 1]);
  return placedTileRows(db, projectId, asOf, { x: component(x), y: component(y) });
}

/** Each placed tile as a raw row [iouHat, novelty, priority, buildingProb, tier, x, y], in the order of `placedTileRows`. */
export function projectTileRows(
  db: DatabaseHandle,
  projectId: number,
  asOf: number,
): AsyncGenerator<unknown[]> {
  const { tileScores } = db.t;
  return placedTileRows(db, projectId, asOf, {
    iouHat: tileScores.iouHat,
    novelty: tileScores.novelty,
    priority: tileScores.priority,
    buildingProb: tileScores.buildingProb,
    tier: tileScores.tier,
    x: tileScores.x,
    y: tileScores.y,
  });
}

/**
 * The placed tiles in the order of the primary key (west to east, north to south within a column), so that
 * each keyset page is a range of the key's index; rows north to south first would sort all of the project's
 * tiles again for every page (no index leads with y).
 */
function placedTileRows(
  db: DatabaseHandle,
  projectId: number,
  asOf: number,
  fields: SelectedFields,
): AsyncGenerator<unknown[]> {
  return tileRowsByKey(db, () => placedTiles(db.t.tileScores, projectId, asOf), fields);
}
