/** Writing chunked text to a Node stream without outrunning it. */
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export async function writeChunks(
  chunks: AsyncIterable<string> | Iterable<string>,
  out: Writable,
): Promise<void> {
  for await (const chunk of chunks) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
}

export async function collectText(chunks: AsyncIterable<string> | Iterable<string>): Promise<string> {
  let s = '';
  for await (const c of chunks) s += c;
  return s;
}
