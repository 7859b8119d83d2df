/**
 * The embedded Postgres (PGlite) store, as far as choosing the embedded store needs it: opened on a folder,
 * given every table of `schema.ts` in Postgres's types, and the three operations that decide (tile-score
 * writes idempotent on project + z/x/y, a run's latent columns read as one streamed scan, the scored tiles
 * of one map tile's box). `scripts/bench/store.ts` runs them beside today's SQLite repositories;
 * docs/scale-out.md holds the figures and the decision. No route or job opens this store.
 *
 * The tables are the Postgres schema tilelens has (schema-pg.ts, derived from the SQLite declaration, with its
 * generated migrations), so the store measured is the one a Postgres server would hold, table for table.
 */
import { PGlite } from '@electric-sql/pglite';
import { getTableColumns, is, SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { DEFAULT_PG_MIGRATIONS_FOLDER } from './pg-migrate.ts';
import * as schema from './schema.ts';
import { pgTableOf } from './schema-pg.ts';
import type { NewPatch, NewTileScore } from './schema.ts';
import type { TileRange } from './tile-scores-repo.ts';

export interface PgliteStore {
  pg: PGlite;
  close(): Promise<void>;
}

/** The Postgres type of a SQLite-schema column: its column in the derived table (schema-pg.ts). */
function pgType(table: SQLiteTable, column: SQLiteColumn): string {
  const key = Object.entries(getTableColumns(table)).find(([, c]) => c === column)![0];
  return (pgTableOf(table)[key] as PgColumn).getSQLType();
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Opens (creating) the store in `dir`, or in memory when `dir` is undefined, and brings it to the schema with
 * the same generated migrations a Postgres server gets (`migrations/pg`, from schema-pg.ts).
 */
export async function openPgliteStore(dir?: string): Promise<PgliteStore> {
  const pg = await PGlite.create(dir);
  await migrate(drizzle(pg), { migrationsFolder: DEFAULT_PG_MIGRATIONS_FOLDER });
  return { pg, close: () => pg.close() };
}

// ── writes: one unnest statement per batch ─────────────────────────────────────────────────────────────

/** A value as Postgres takes it: dates as ISO text, JSON as text. */
function driverValue(type: string, column: SQLiteColumn, value: unknown): unknown {
  if (value === undefined || value === null)
    return column.hasDefault && !is(column.default, SQL) ? column.default : null;
  if (value instanceof Date) return value.toISOString();
  if (type === 'jsonb') return JSON.stringify(value);
  return value;
}

/**
 * Inserts `rows` of a SQLite-schema table with one statement: one array per column, unnested, so a batch of
 * any size is one round trip and no parameter limit applies. `conflict` names the key on which a row already
 * stored is kept (first write wins). Returns the ids of the rows written when the table has an `id`.
 */
export async function insertRowsPg<T extends SQLiteTable>(
  store: PgliteStore,
  table: T,
  rows: Array<T['$inferInsert']>,
  conflict?: string[],
): Promise<{ written: number; ids: number[] }> {
  if (rows.length === 0) return { written: 0, ids: [] };
  const config = getTableConfig(table);
  const keys = Object.entries(table).filter(
    ([key, v]) =>
      config.columns.includes(v as SQLiteColumn) &&
      rows.some((r) => (r as Record<string, unknown>)[key] !== undefined),
  ) as Array<[string, SQLiteColumn]>;
  const types = keys.map(([, column]) => pgType(table, column));
  const arrays = keys.map(([key, column], i) =>
    rows.map((row) => driverValue(types[i], column, (row as Record<string, unknown>)[key])),
  );
  const names = keys.map(([, c]) => quote(c.name));
  const args = keys.map((_, i) => `$${i + 1}::${types[i] === 'jsonb' ? 'text' : types[i]}[]`);
  const values = keys.map((_, i) => (types[i] === 'jsonb' ? `c${i}::jsonb` : `c${i}`));
  const hasId = config.columns.some((c) => c.name === 'id');
  const result = await store.pg.query<{ id: number }>(
    `insert into ${quote(config.name)} (${names.join(', ')})
       select ${values.join(', ')} from unnest(${args.join(', ')}) as u(${keys.map((_, i) => `c${i}`).join(', ')})` +
      (conflict ? ` on conflict (${conflict.map(quote).join(', ')}) do nothing` : '') +
      (hasId ? ' returning id' : ''),
    arrays,
  );
  return { written: result.affectedRows ?? 0, ids: hasId ? result.rows.map((r) => r.id) : [] };
}

// ── tile scores ───────────────────────────────────────────────────────────────────────────────────────

/** Rows a job writes; a tile already stored keeps its row (first write wins). Returns the rows written. */
export async function insertTileScoresPg(store: PgliteStore, rows: NewTileScore[]): Promise<number> {
  const { written } = await insertRowsPg(store, schema.tileScores, rows, ['project_id', 'z', 'x', 'y']);
  return written;
}

export async function countProjectTilesPg(store: PgliteStore, projectId: number): Promise<number> {
  const r = await store.pg.query<{ n: number }>(
    'select count(*)::int as n from tile_scores where project_id = $1',
    [projectId],
  );
  return r.rows[0].n;
}

/** The raster cells of one box, as `iterateOverlayCells` reads them (same columns, same order). */
export async function overlayCellsPg(
  store: PgliteStore,
  projectId: number,
  zoom: number,
  r: TileRange,
): Promise<unknown[][]> {
  const result = await store.pg.query<unknown[]>(
    `select x, y, status, priority, iou_hat, novelty, iou_low, iou_high, building_prob_low, building_prob_high
       from tile_scores where project_id = $1 and z = $2 and x between $3 and $4 and y between $5 and $6`,
    [projectId, zoom, r.minX, r.maxX, r.minY, r.maxY],
    { rowMode: 'array' },
  );
  return result.rows;
}

// ── a run's patches ───────────────────────────────────────────────────────────────────────────────────

/** Writes a run's patches in batches inside one transaction, as `saveAnalysisRun` does. */
export async function insertPatchesPg(
  store: PgliteStore,
  runId: number,
  rows: Iterable<NewPatch>,
  batchRows = 5000,
): Promise<number> {
  let written = 0;
  await store.pg.exec('begin');
  try {
    let batch: Array<NewPatch & { runId: number }> = [];
    for (const row of rows) {
      batch.push({ ...row, runId });
      if (batch.length === batchRows) {
        written += (await insertRowsPg(store, schema.patches, batch)).written;
        batch = [];
      }
    }
    written += (await insertRowsPg(store, schema.patches, batch)).written;
    await store.pg.exec('commit');
  } catch (err) {
    await store.pg.exec('rollback');
    throw err;
  }
  return written;
}

/** Columns the latent view's scan reads, in `runPatchRows`'s order. */
const LATENT_SELECT = `pc1, pc2, pc3, pc4, pc5, pc6, pc7, pc8, pc9, iou, iou_hat, novelty, cluster, group_name, split, x, y, idx`;

/**
 * Every patch of a run in idx order, as raw rows in `runPatchRows`'s column order: keyset pages, so no
 * statement stays open between pages and no page holds more than `pageRows` rows.
 */
export async function* runPatchRowsPg(
  store: PgliteStore,
  runId: number,
  pageRows = 10_000,
): AsyncGenerator<unknown[]> {
  let after = -1;
  for (;;) {
    const page = await store.pg.query<unknown[]>(
      `select ${LATENT_SELECT} from patches where run_id = $1 and idx > $2 order by idx limit $3`,
      [runId, after, pageRows],
      { rowMode: 'array' },
    );
    yield* page.rows;
    if (page.rows.length < pageRows) return;
    after = page.rows[page.rows.length - 1][17] as number;
  }
}
