/**
 * Storage of fAIr predictions brought into a project (tables `fair_imports`, `fair_predictions`,
 * `fair_tile_signals` in schema.ts). An import is written in one transaction: its polygons in batches,
 * then the per-tile signal aggregated from them by SQL, so a refused or failed import leaves nothing.
 */
import { asc, desc, eq, sql } from 'drizzle-orm';
import { inTransaction, type DatabaseHandle, sqliteDb, sqliteOf } from './client.ts';
import {
  fairImports,
  fairPredictions,
  fairTileSignals,
  type FairGeometryJson,
  type FairImportRow,
  type FairTileSignalRow,
} from './schema.ts';

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
    const { id } = sqliteDb(tx, 'fAIr imports')
      .insert(fairImports)
      .values({ ...input, stored: 0, outside: 0 })
      .returning({ id: fairImports.id })
      .get();
    let stored = 0;
    let batch: NewFairPrediction[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      sqliteDb(tx, 'fAIr imports')
        .insert(fairPredictions)
        .values(batch.map((p) => ({ ...p, importId: id })))
        .run();
      stored += batch.length;
      batch = [];
    };
    for await (const p of predictions) {
      batch.push(p);
      // 8 columns × 100 rows stays far below SQLite's bound-parameter limit.
      if (batch.length === 100) flush();
    }
    flush();
    sqliteOf(tx, 'fAIr imports')
      .prepare(
        `insert into fair_tile_signals (import_id, z, x, y, task_id, polygons, confidence_max, confidence_mean)
         select import_id, z, x, y, task_id, count(*), max(confidence), avg(confidence)
         from fair_predictions where import_id = ? group by z, x, y`,
      )
      .run(id);
    // Every polygon of the file is stored or lies outside the project's tiles.
    sqliteDb(tx, 'fAIr imports')
      .update(fairImports)
      .set({ stored, outside: input.features - stored })
      .where(eq(fairImports.id, id))
      .run();
    return id;
  });
}

export async function getFairImport(
  db: DatabaseHandle,
  importId: number,
): Promise<FairImportRow | undefined> {
  return sqliteDb(db, 'fAIr imports').select().from(fairImports).where(eq(fairImports.id, importId)).get();
}

export async function listFairImports(db: DatabaseHandle, projectId: number): Promise<FairImportRow[]> {
  return sqliteDb(db, 'fAIr imports')
    .select()
    .from(fairImports)
    .where(eq(fairImports.projectId, projectId))
    .orderBy(desc(fairImports.id))
    .all();
}

export async function fairTileSignalRows(db: DatabaseHandle, importId: number): Promise<FairTileSignalRow[]> {
  return sqliteDb(db, 'fAIr imports')
    .select()
    .from(fairTileSignals)
    .where(eq(fairTileSignals.importId, importId))
    .orderBy(asc(fairTileSignals.y), asc(fairTileSignals.x))
    .all();
}

/** How the import's tiles fall in tilelens's tiers: the cross-check a manager reads first. */
export async function fairSignalsByTier(
  db: DatabaseHandle,
  importId: number,
  projectId: number,
): Promise<Array<{ tier: string; tiles: number; polygons: number }>> {
  return sqliteOf(db, 'fAIr imports')
    .prepare(
      `select coalesce(t.tier, 'unscored') as tier, count(*) as tiles, sum(s.polygons) as polygons
       from fair_tile_signals s
       left join tile_scores t on t.project_id = ? and t.z = s.z and t.x = s.x and t.y = s.y
       where s.import_id = ? group by 1 order by 1`,
    )
    .all(projectId, importId) as Array<{ tier: string; tiles: number; polygons: number }>;
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
  const page = sqliteOf(db, 'fAIr imports').prepare(
    `select p.idx, p.task_id as taskId, p.confidence, p.geometry, t.priority, t.tier,
            coalesce(t.priority, -1) as sortKey
     from fair_predictions p
     left join tile_scores t on t.project_id = ? and t.z = p.z and t.x = p.x and t.y = p.y
     where p.import_id = ? and (coalesce(t.priority, -1) < ? or (coalesce(t.priority, -1) = ? and p.idx > ?))
     order by sortKey desc, p.idx asc limit ${PAGE_ROWS}`,
  );
  // Above every priority (0..1) and the -1 of unscored tiles.
  let key = 2;
  let idx = -1;
  for (;;) {
    const rows = page.all(projectId, importId, key, key, idx) as Array<
      Omit<FairObjectRow, 'geometry'> & { geometry: string; sortKey: number }
    >;
    for (const r of rows) {
      yield {
        idx: r.idx,
        taskId: r.taskId,
        confidence: r.confidence,
        geometry: JSON.parse(r.geometry) as FairGeometryJson,
        priority: r.priority,
        tier: r.tier,
      };
    }
    if (rows.length < PAGE_ROWS) return;
    key = rows[rows.length - 1].sortKey;
    idx = rows[rows.length - 1].idx;
  }
}

export async function countFairObjects(db: DatabaseHandle, importId: number): Promise<number> {
  return (
    sqliteDb(db, 'fAIr imports')
      .select({ n: sql<number>`count(*)` })
      .from(fairPredictions)
      .where(eq(fairPredictions.importId, importId))
      .get()?.n ?? 0
  );
}
