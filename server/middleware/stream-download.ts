/**
 * Streamed downloads of what the tile table holds (exports, fAIr objects): read from a connection of their
 * own, so a slow download never holds the shared one, and failing as JSON until the first byte is sent.
 */
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { openReadOnly } from '../lib/db/client.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';

/** Streams `chunksFor`'s text from a read-only connection of its own (see openReadOnly), closed when the body ends. */
export async function streamDownload(
  c: Context,
  ctx: ScoringContext,
  chunksFor: (reader: ScoringContext) => AsyncIterable<string> | Iterable<string>,
  type: string,
  filename: string,
) {
  const db = await openReadOnly(ctx.db);
  const reader = { ctx: { ...ctx, db }, close: async () => await db.close() };
  let chunks: AsyncIterator<string> | Iterator<string>;
  let first: IteratorResult<string>;
  try {
    const made = chunksFor(reader.ctx);
    chunks = Symbol.asyncIterator in made ? made[Symbol.asyncIterator]() : made[Symbol.iterator]();
    // Pulled before any byte is sent, so a project that cannot be exported gets a JSON error, not a short file.
    first = await chunks.next();
  } catch (err) {
    await reader.close();
    throw err;
  }
  c.header('Content-Type', type);
  c.header('Content-Disposition', `attachment; filename="${filename}"`);
  return stream(
    c,
    async (s) => {
      try {
        for (let r = first; !r.done && !s.aborted; r = await chunks.next()) await s.write(r.value);
      } finally {
        await reader.close();
      }
    },
    async (err, s) => {
      // Headers are gone already: break the transfer so the client sees a failed download, not a complete-looking file.
      ctx.log?.(`export ${filename} failed mid-stream: ${err.message}`);
      s.abort();
    },
  );
}
