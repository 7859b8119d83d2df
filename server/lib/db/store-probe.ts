/**
 * Direct SQL on a store, for the tests that check the store itself: its catalogue and pragmas, counts and
 * rows no repository function returns, damage set up on purpose, and writes that bypass the repositories to
 * prove the constraints hold. The application reads and writes through the repositories only; these exist so
 * that no test reaches a handle's connection, whatever the store behind it.
 *
 * The text is the store's own SQL: `?` parameters on SQLite, `$1, $2, …` on Postgres.
 */
import type Database from 'better-sqlite3';
import type { DatabaseHandle } from './client.ts';

/** Rows of a statement on a Postgres handle: objects, or arrays when `arrays`. */
async function pgRows(
  handle: Extract<DatabaseHandle, { dialect: 'postgres' }>,
  text: string,
  params: unknown[],
  arrays = false,
): Promise<unknown[]> {
  const query = { text, values: params, ...(arrays ? { rowMode: 'array' as const } : {}) };
  return (await (handle.client ?? handle.pool).query(query)).rows;
}

/** Every row of a statement, as objects keyed by column name. */
export async function sqlAll<T = Record<string, unknown>>(
  handle: DatabaseHandle,
  text: string,
  ...params: unknown[]
): Promise<T[]> {
  if (handle.dialect === 'postgres') return (await pgRows(handle, text, params)) as T[];
  return handle.sqlite.prepare(text).all(...params) as T[];
}

/** The first row of a statement, or undefined. */
export async function sqlGet<T = Record<string, unknown>>(
  handle: DatabaseHandle,
  text: string,
  ...params: unknown[]
): Promise<T | undefined> {
  if (handle.dialect === 'postgres') return (await pgRows(handle, text, params))[0] as T | undefined;
  return handle.sqlite.prepare(text).get(...params) as T | undefined;
}

/** The first column of every row. */
export async function sqlColumn<T = unknown>(
  handle: DatabaseHandle,
  text: string,
  ...params: unknown[]
): Promise<T[]> {
  if (handle.dialect === 'postgres') {
    return ((await pgRows(handle, text, params, true)) as unknown[][]).map((r) => r[0] as T);
  }
  return handle.sqlite
    .prepare(text)
    .pluck()
    .all(...params) as T[];
}

/** The first column of the first row (a count, a single value). */
export async function sqlValue<T = unknown>(
  handle: DatabaseHandle,
  text: string,
  ...params: unknown[]
): Promise<T> {
  if (handle.dialect === 'postgres') {
    return ((await pgRows(handle, text, params, true)) as unknown[][])[0]?.[0] as T;
  }
  return handle.sqlite
    .prepare(text)
    .pluck()
    .get(...params) as T;
}

/** Runs one statement; rejects with the store's own error (a constraint, a syntax error). */
export async function sqlRun(handle: DatabaseHandle, text: string, ...params: unknown[]): Promise<void> {
  if (handle.dialect === 'postgres') await pgRows(handle, text, params);
  else handle.sqlite.prepare(text).run(...params);
}

/** The SQLite connection a pragma runs on; a Postgres store has no pragmas. */
function pragmaConnection(handle: DatabaseHandle): Database.Database {
  if (handle.dialect === 'sqlite') return handle.sqlite;
  throw new Error(`pragmas are SQLite's own; ${handle.where} is a Postgres database`);
}

/** Rows rendered by a pragma (`foreign_key_check`, `table_info(patches)`): SQLite only. */
export async function pragmaRows<T = Record<string, unknown>>(
  handle: DatabaseHandle,
  text: string,
): Promise<T[]> {
  return pragmaConnection(handle).pragma(text) as T[];
}

/** The single value of a pragma (`journal_mode`, `integrity_check`): SQLite only. */
export async function pragmaValue<T = unknown>(handle: DatabaseHandle, text: string): Promise<T> {
  return pragmaConnection(handle).pragma(text, { simple: true }) as T;
}
