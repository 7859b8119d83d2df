/**
 * Storage of fAIr predictions brought into a project (tables `fair_imports`, `fair_predictions`,
 * `fair_tile_signals` in schema.ts). An import is written in one transaction: its polygons in batches,
 * then the per-tile signal aggregated from them by SQL, so a refused or failed import leaves nothing.
 */
import { and, asc, avg, count, desc, eq, gt, lt, max, or, sql } from 'drizzle-orm';
import { inTransaction, type DatabaseHandle } from './client.ts';
import { insertBatches, sumOf } from './dialect.ts';
import { type FairGeometryJson, type FairImportRow, type FairTileSignalRow } from './schema.ts';

export interface NewFairPrediction {
  idx: number;
  z: number;
  x: number;
  y: number;
  taskId: string;
  confidence: number | null;
  geometry: FairGeometryJson;
}

export async function insertFairImport(
  db: DatabaseHandle,
  input: { projectId: number; name: string; features: number },
  predictions: AsyncIterable<NewFairPrediction> | Iterable<NewFairPrediction>,
): Promise<number> {
  return await inTransaction(db, async (tx) => {
    const { fairImports, fairPredictions, fairTileSignals } = tx.t;
    const [{ id }] = await tx.db
      .insert(fairImports)
      .values({ ...input, stored: 0, outside: 0 })
      .returning({ id: fairImports.id });
    let stored = 0;
    let batch: NewFairPrediction[] = [];
    const flush = async () => {
      for (const rows of insertBatches(tx, fairPredictions, batch)) {
        await tx.db.insert(fairPredictions).values(rows.map((p) => ({ ...p, importId: id })));
      }
      stored += batch.length;
      batch = [];
    };
    for await (const p of predictions) {
      batch.push(p);
      // A batch at a time, so a large file never sits in memory whole.
      if (batch.length === 500) await flush();
    }
    await flush();
    // The per-tile signal, aggregated by the database from the rows just written. A tile's task id
    // follows from its z/x/y, so grouping by it too changes nothing but what Postgres accepts.
    const p = fairPredictions;
    await tx.db.insert(fairTileSignals).select(
      tx.db
        .select({
          importId: p.importId,
          z: p.z,
          x: p.x,
          y: p.y,
          taskId: p.taskId,
          polygons: count().as('polygons'),
          confidenceMax: max(p.confidence).as('confidence_max'),
          confidenceMean: avg(p.confidence).as('confidence_mean'),
        })
        .from(p)
        .where(eq(p.importId, id))
        .groupBy(p.importId, p.z, p.x, p.y, p.taskId),
    );
    // Every polygon of the file is stored or lies outside the project's tiles.
    await tx.db
      .update(fairImports)
      .set({ stored, outside: input.features - stored })
      .where(eq(fairImports.id, id));
    return id;
  });
}

export async function getFairImport(
  db: DatabaseHandle,
  importId: number,
): Promise<FairImportRow | undefined> {
  const { fairImports } = db.t;
  const [row] = await db.db.select().from(fairImports).where(eq(fairImports.id, importId));
  return row;
}

export async function listFairImports(db: DatabaseHandle, projectId: number): Promise<FairImportRow[]> {
  const { fairImports } = db.t;
  return db.db
    .select()
    .from(fairImports)
    .where(eq(fairImports.projectId, projectId))
    .orderBy(desc(fairImports.id));
}

export async function fairTileSignalRows(db: DatabaseHandle, importId: number): Promise<FairTileSignalRow[]> {
  const { fairTileSignals } = db.t;
  return db.db
    .select()
    .from(fairTileSignals)
    .where(eq(fairTileSignals.importId, importId))
    .orderBy(asc(fairTileSignals.y), asc(fairTileSignals.x));
}

/** How the import's tiles fall in tilelens's tiers: the cross-check a manager reads first. */
export async function fairSignalsByTier(
  db: DatabaseHandle,
  importId: number,
  projectId: number,
): Promise<Array<{ tier: string; tiles: number; polygons: number }>> {
  const { fairTileSignals: s, tileScores: t } = db.t;
  const tier = sql<string>`coalesce(${t.tier}, 'unscored')`;
  const rows = await db.db
    .select({ tier, tiles: count(), polygons: sumOf(s.polygons) })
    .from(s)
    .leftJoin(t, and(eq(t.projectId, projectId), eq(t.z, s.z), eq(t.x, s.x), eq(t.y, s.y)))
    .where(eq(s.importId, importId))
    .groupBy(tier)
    .orderBy(tier);
  return rows.map((r) => ({ ...r, polygons: r.polygons ?? 0 }));
}

export interface FairObjectRow {
  idx: number;
  taskId: string;
  confidence: number | null;
  geometry: FairGeometryJson;
  priority: number | null;
  tier: string | null;
}

const PAGE_ROWS = 500;

/**
 * The import's polygons, most urgent tile first (tilelens's priority of the tile holding each), in file
 * order within a tile; in pages found by keyset, so no region's polygons sit in memory together.
 */
export async function* iterateFairObjects(
  db: DatabaseHandle,
  projectId: number,
  importId: number,
): AsyncGenerator<FairObjectRow> {
  const { fairPredictions: p, tileScores: t } = db.t;
  // Unscored tiles sort after every priority (0..1).
  const sortKey = sql<number>`coalesce(${t.priority}, -1)`.mapWith(Number);
  let after: { sortKey: number; idx: number } | undefined;
  for (;;) {
    const rows = await db.db
      .select({
        idx: p.idx,
        taskId: p.taskId,
        confidence: p.confidence,
        geometry: p.geometry,
        priority: t.priority,
        tier: t.tier,
        sortKey,
      })
      .from(p)
      .leftJoin(t, and(eq(t.projectId, projectId), eq(t.z, p.z), eq(t.x, p.x), eq(t.y, p.y)))
      .where(
        and(
          eq(p.importId, importId),
          after === undefined
            ? undefined
            : or(lt(sortKey, after.sortKey), and(eq(sortKey, after.sortKey), gt(p.idx, after.idx))),
        ),
      )
      .orderBy(desc(sortKey), asc(p.idx))
      .limit(PAGE_ROWS);
    for (const { sortKey: _, ...r } of rows) yield r;
    if (rows.length < PAGE_ROWS) return;
    after = rows[rows.length - 1];
  }
}

export async function countFairObjects(db: DatabaseHandle, importId: number): Promise<number> {
  const { fairPredictions } = db.t;
  const [row] = await db.db
    .select({ n: count() })
    .from(fairPredictions)
    .where(eq(fairPredictions.importId, importId));
  return row?.n ?? 0;
}
