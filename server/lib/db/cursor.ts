/**
 * A drizzle-built select run as a better-sqlite3 cursor of raw rows: drizzle has no streaming read, and
 * the reads that cover a whole project or run (a z5 map tile, a million patches for the latent view)
 * must not collect their rows in an array. Rows are arrays in the order of the select's fields.
 */
import type { DatabaseHandle } from './client.ts';

export async function* cursor(
  db: DatabaseHandle,
  query: { toSQL(): { sql: string; params: unknown[] } },
): AsyncGenerator<unknown[]> {
  const { sql, params } = query.toSQL();
  yield* db.sqlite
    .prepare(sql)
    .raw(true)
    .iterate(...params) as IterableIterator<unknown[]>;
}
