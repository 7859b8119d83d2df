/**
 * Direct SQL on a store, for the tests that check the store itself: its catalogue and pragmas, counts and
 * rows no repository function returns, damage set up on purpose, and writes that bypass the repositories to
 * prove the constraints hold. The application reads and writes through the repositories only; these exist so
 * that no test reaches a handle's connection, whatever the store behind it.
 */
import type { DatabaseHandle } from './client.ts';

/** Every row of a statement, as objects keyed by column name. */
export async function sqlAll<T = Record<string, unknown>>(
  handle: DatabaseHandle,
  text: string,
  ...params: unknown[]
): Promise<T[]> {
  return handle.sqlite.prepare(text).all(...params) as T[];
}

/** The first row of a statement, or undefined. */
export async function sqlGet<T = Record<string, unknown>>(
  handle: DatabaseHandle,
  text: string,
  ...params: unknown[]
): Promise<T | undefined> {
  return handle.sqlite.prepare(text).get(...params) as T | undefined;
}

/** The first column of every row. */
export async function sqlColumn<T = unknown>(
  handle: DatabaseHandle,
  text: string,
  ...params: unknown[]
): Promise<T[]> {
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
  return handle.sqlite
    .prepare(text)
    .pluck()
    .get(...params) as T;
}

/** Runs one statement; rejects with the store's own error (a constraint, a syntax error). */
export async function sqlRun(handle: DatabaseHandle, text: string, ...params: unknown[]): Promise<void> {
  handle.sqlite.prepare(text).run(...params);
}

/** Rows rendered by a pragma (`foreign_key_check`, `table_info(patches)`). */
export async function pragmaRows<T = Record<string, unknown>>(
  handle: DatabaseHandle,
  text: string,
): Promise<T[]> {
  return handle.sqlite.pragma(text) as T[];
}

/** The single value of a pragma (`journal_mode`, `integrity_check`). */
export async function pragmaValue<T = unknown>(handle: DatabaseHandle, text: string): Promise<T> {
  return handle.sqlite.pragma(text, { simple: true }) as T;
}
