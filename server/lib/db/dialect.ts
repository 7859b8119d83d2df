/**
 * What still differs between the two stores once the repositories are written against drizzle: the count a
 * write reports, raw rows for keyset pages, table aliases, how many rows one insert statement may carry,
 * reading a value out of a JSON column, the type of a sum, and which errors mean the store refused a write.
 * Repositories call these instead of branching on the dialect themselves.
 */
import Database from 'better-sqlite3';
import { Column, getTableColumns, getTableName, is, sql, SQL, type SQLWrapper } from 'drizzle-orm';
import { alias as pgAlias, type PgColumn, type PgTable } from 'drizzle-orm/pg-core';
import { alias as sqliteAlias, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import type { DatabaseHandle } from './client.ts';

/** Rows an insert, update or delete touched, from either driver's result (`changes` or `rowCount`). */
export function rowsChanged(result: unknown): number {
  const r = result as { changes?: number; rowCount?: number | null };
  return r.changes ?? r.rowCount ?? 0;
}

/**
 * Rows per insert statement for a table of `columns` columns, under the bound parameters one statement may
 * carry (32,766 in the SQLite better-sqlite3 bundles, 65,535 in Postgres); a thousand rows a statement is
 * enough to make the round trips negligible.
 */
export function insertBatchRows(handle: DatabaseHandle, columns: number): number {
  const parameters = handle.dialect === 'sqlite' ? 32_766 : 65_535;
  return Math.max(1, Math.min(1000, Math.floor(parameters / columns)));
}

/** Rows of `rows` in statements of at most as many rows as one may carry for `table`. */
export function* insertBatches<R>(
  handle: DatabaseHandle,
  table: SQLiteTable,
  rows: Iterable<R>,
): Generator<R[]> {
  const size = insertBatchRows(handle, Object.keys(getTableColumns(table)).length);
  let batch: R[] = [];
  for (const row of rows) {
    batch.push(row);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** The same table under another name in one query (a self-join), built by the handle's dialect. */
export function aliasOf<T extends SQLiteTable, A extends string>(handle: DatabaseHandle, table: T, name: A) {
  if (handle.dialect === 'sqlite') return sqliteAlias(table, name);
  return pgAlias(table as unknown as PgTable, name) as unknown as ReturnType<typeof sqliteAlias<T, A>>;
}

/** A select whose rows `selectValues` reads raw. */
interface RawSelect {
  _: { selectedFields: Record<string, unknown> };
  toSQL(): { sql: string; params: unknown[] };
}

/** How a selected field's raw value becomes the value drizzle would hand back; null when it is the same. */
function decoderOf(field: unknown): ((value: unknown) => unknown) | null {
  if (is(field, Column)) {
    const column = field as Column;
    // Integers, doubles and text come back as they are; JSON, timestamps and booleans need the column's mapping.
    if (column.mapFromDriverValue === Column.prototype.mapFromDriverValue) return null;
    return (value) => (value === null ? null : column.mapFromDriverValue(value));
  }
  if (is(field, SQL)) {
    // `sql<T>` fields carry the decoder `.mapWith()` gave them (drizzle keeps it internal).
    const { decoder } = field as unknown as { decoder: { mapFromDriverValue(value: unknown): unknown } };
    return (value) => (value === null ? null : decoder.mapFromDriverValue(value));
  }
  if (is(field, SQL.Aliased)) return decoderOf((field as SQL.Aliased).sql);
  return null;
}

/**
 * The rows of a select as arrays in the order of its fields, each value as drizzle would map it (JSON parsed,
 * timestamps as Dates) — the rows of keyset pages, read without building an object per row. SQLite reads
 * them with better-sqlite3's raw mode; Postgres with node-postgres's array row mode.
 */
export async function selectValues(handle: DatabaseHandle, query: unknown): Promise<unknown[][]> {
  const select = query as RawSelect;
  const decoders = Object.values(select._.selectedFields).map(decoderOf);
  let rows: unknown[][];
  if (handle.dialect === 'sqlite') {
    rows = (query as { values(): unknown[][] }).values();
  } else {
    const { sql, params } = select.toSQL();
    const connection = handle.client ?? handle.pool;
    rows = (await connection.query({ text: sql, values: params, rowMode: 'array' })).rows as unknown[][];
  }
  if (decoders.every((d) => d === null)) return rows;
  for (const row of rows) {
    for (let i = 0; i < decoders.length; i++) {
      const decode = decoders[i];
      if (decode) row[i] = decode(row[i]);
    }
  }
  return rows;
}

/** A multi-row INSERT compiled once and run many times with values already in column order. */
export interface PreparedInsert {
  /** Values per row, in the order of the table's columns. */
  readonly columns: ReadonlyArray<readonly [string, Column]>;
  /** Runs the statement with `rows` × columns values (each already `encode`d). */
  run(values: unknown[]): Promise<void>;
}

/**
 * The INSERT of `rows` rows of `table` that drizzle builds for the handle's dialect, with one placeholder a
 * value, prepared once: a long bulk write (a run's million patches) neither builds nor compiles a statement
 * per batch. Values go through `encodeValue`: each column's own mapping to the driver (JSON, timestamps,
 * booleans), with null kept as SQL NULL, which drizzle's placeholder path would turn into JSON `null`.
 */
export function prepareInsert<T extends SQLiteTable>(
  handle: DatabaseHandle,
  table: T,
  rows: number,
): PreparedInsert {
  const columns = Object.entries(getTableColumns(table)) as Array<[string, Column]>;
  const placeholderRow = Object.fromEntries(columns.map(([key]) => [key, sql.placeholder(key)]));
  const query = handle.db
    .insert(table)
    .values(Array.from({ length: rows }, () => placeholderRow) as unknown as T['$inferInsert'][])
    .toSQL();
  if (query.params.length !== rows * columns.length) {
    throw new Error(
      `the INSERT into ${getTableName(table)} has ${query.params.length} parameters, expected ${rows} × ${columns.length}`,
    );
  }
  if (handle.dialect === 'sqlite') {
    const statement = handle.sqlite.prepare(query.sql);
    return {
      columns,
      run: async (values) => {
        statement.run(values);
      },
    };
  }
  // Named: Postgres parses and plans it once per connection.
  const name = `tilelens_insert_${getTableName(table)}_${rows}`;
  return {
    columns,
    run: async (values) => {
      await (handle.client ?? handle.pool).query({ name, text: query.sql, values });
    },
  };
}

/** A value as a prepared statement takes it: the column's driver mapping, null and undefined as SQL NULL. */
export function encodeValue(column: Column, value: unknown): unknown {
  return value === undefined || value === null ? null : column.mapToDriverValue(value);
}

/** A path into a JSON value: object keys and array positions, outermost first. */
export type JsonPath = ReadonlyArray<string | number>;

/**
 * The value at `path` of a JSON column, as text (a string stays a string; null when absent). SQLite stores
 * JSON as text and reads it with `json_extract`; Postgres stores jsonb and reads it with `#>>`.
 */
export function jsonText(handle: DatabaseHandle, column: SQLWrapper, path: JsonPath): SQL<string | null> {
  if (handle.dialect === 'sqlite') {
    const at = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
    return sql<string | null>`json_extract(${column}, ${`$${at}`})`;
  }
  return sql<string | null>`(${column} #>> ${`{${path.join(',')}}`}::text[])`;
}

/** The number at `path` of a JSON column (null when absent), read inside the database without parsing rows in JS. */
export function jsonNumber(handle: DatabaseHandle, column: SQLWrapper, path: JsonPath): SQL<number | null> {
  const value =
    handle.dialect === 'sqlite'
      ? jsonText(handle, column, path)
      : sql`(${jsonText(handle, column, path)})::double precision`;
  return sql<number | null>`${value}`.mapWith(Number);
}

/**
 * A sum as a number on either store: Postgres sums integers as bigint (or numeric), which node-postgres hands
 * back as text. Null over no rows, as SQL's sum.
 */
export function sumOf(expression: SQLWrapper): SQL<number | null> {
  return sql<number | null>`sum(${expression})`.mapWith(Number);
}

/**
 * The `set` of an upsert that replaces `columns` with the values the insert proposed: `excluded.<column>`,
 * which both dialects spell alike. Keys are the table's property names.
 */
export function proposedValues<T extends SQLiteTable, K extends keyof T['_']['columns'] & string>(
  table: T,
  keys: readonly K[],
): Record<K, SQL> {
  const columns = getTableColumns(table) as Record<string, Column>;
  return Object.fromEntries(
    keys.map((key) => [key, sql`excluded.${sql.identifier(columns[key].name)}`]),
  ) as Record<K, SQL>;
}

/** Postgres's codes for a write the server refused without anything being wrong with it: read-only, busy, locked. */
const PG_REFUSED = new Set(['25006', '40001', '40P01', '55P03', '57014']);

/**
 * Whether an error is the store refusing a write it could take later (a read-only or busy database), as
 * opposed to a fault in the write itself: callers that only cache may skip the write on these.
 */
export function isRefusedWrite(error: unknown): boolean {
  // drizzle wraps the driver's error (its `cause`).
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof Database.SqliteError) return true;
    if (e instanceof pg.DatabaseError) return PG_REFUSED.has(e.code ?? '');
  }
  return false;
}

/** An INSERT of every column of a table from one array per column (Postgres), built once per table. */
interface UnnestInsert {
  name: string;
  text: string;
  columns: Array<[key: string, column: Column]>;
}

const unnestInserts = new WeakMap<SQLiteTable, UnnestInsert>();

/**
 * `insert into t (every column) select … from unnest($1::type[], …) on conflict do nothing`: a batch of any size
 * is one statement with one parameter per column, and its text is the same for every batch, so Postgres parses
 * and plans it once per connection (a named statement). `table` is the handle's own (a Postgres table).
 */
function unnestInsertOf(table: SQLiteTable): UnnestInsert {
  const known = unnestInserts.get(table);
  if (known) return known;
  const columns = Object.entries(getTableColumns(table)) as Array<[string, Column]>;
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const types = columns.map(([, c]) => (c as unknown as PgColumn).getSQLType());
  // JSON travels as text (an array of JSON texts) and is cast value by value.
  const args = types.map((type, i) => `$${i + 1}::${type === 'jsonb' ? 'text' : type}[]`);
  const selected = columns.map(([, c], i) => {
    const value = types[i] === 'jsonb' ? `c${i}::jsonb` : `c${i}`;
    // The one SQL default of the schema is the time of the insert (schema-pg.ts), taken where a row leaves it out.
    return c.hasDefault && is(c.default, SQL) ? `coalesce(${value}, now())` : value;
  });
  const insert: UnnestInsert = {
    name: `tilelens_unnest_${getTableName(table)}`,
    text:
      `insert into ${quote(getTableName(table))} (${columns.map(([, c]) => quote(c.name)).join(', ')}) ` +
      `select ${selected.join(', ')} from unnest(${args.join(', ')}) as u(${columns.map((_, i) => `c${i}`).join(', ')}) ` +
      'on conflict do nothing',
    columns,
  };
  unnestInserts.set(table, insert);
  return insert;
}

/** Rows one unnest statement carries: no parameter limit applies, this bounds the arrays built at once. */
const UNNEST_ROWS = 5000;

/**
 * Inserts `rows`, a row whose key is already stored keeping the stored one (first write wins); returns the rows
 * written. SQLite: drizzle's multi-row INSERT, as many rows a statement as its parameter limit allows.
 * Postgres: one unnest statement per batch (see `unnestInsertOf`), values through each column's own mapping
 * and its defaults as drizzle applies them.
 */
export async function insertKeepingStored<T extends SQLiteTable>(
  handle: DatabaseHandle,
  table: T,
  rows: Array<T['$inferInsert']>,
): Promise<number> {
  let written = 0;
  if (handle.dialect === 'sqlite') {
    for (const batch of insertBatches(handle, table, rows)) {
      written += rowsChanged(await handle.db.insert(table).values(batch).onConflictDoNothing());
    }
    return written;
  }
  const insert = unnestInsertOf(table);
  const connection = handle.client ?? handle.pool;
  for (let i = 0; i < rows.length; i += UNNEST_ROWS) {
    const batch = rows.slice(i, i + UNNEST_ROWS) as Array<Record<string, unknown>>;
    const values = insert.columns.map(([key, column]) =>
      batch.map((row) => {
        let value = row[key];
        if (value === undefined) {
          if (column.defaultFn) value = column.defaultFn();
          else if (column.hasDefault && !is(column.default, SQL)) value = column.default;
        }
        return encodeValue(column, value);
      }),
    );
    const result = await connection.query({ name: insert.name, text: insert.text, values });
    written += result.rowCount ?? 0;
  }
  return written;
}
