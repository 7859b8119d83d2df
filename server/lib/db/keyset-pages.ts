/**
 * Reads that cover a whole project or run (a z5 map tile, a million patches for the latent view) as keyset
 * pages: each page is one short query ordered by a unique key, started after the last key of the page
 * before, and read whole. Nothing is held beyond a page, and no statement stays open between pages:
 * better-sqlite3 refuses every other statement on a connection while one iterates, and a consumer that
 * awaits between rows lets other requests (a scoring job's writes among them) use the same connection.
 * Drizzle has no streaming read; a page is a drizzle-built select read as arrays in the order of the
 * select's fields (`selectValues` in dialect.ts), on either store.
 */

/** Rows per page: a few hundred kilobytes at the widest rows, and few enough queries for a million rows. */
export const PAGE_ROWS = 4096;

/**
 * Yields every row of the pages `page(after, limit)` returns, `after` being `keyOf` of the previous page's
 * last row (undefined for the first). `page` must order by the key and return only rows after it.
 */
export async function* keysetRows<K>(
  page: (after: K | undefined, limit: number) => Promise<unknown[][]>,
  keyOf: (row: unknown[]) => K,
  pageRows = PAGE_ROWS,
): AsyncGenerator<unknown[]> {
  let after: K | undefined;
  for (;;) {
    const rows = await page(after, pageRows);
    for (const row of rows) yield row;
    if (rows.length < pageRows) return;
    after = keyOf(rows[rows.length - 1]);
  }
}
