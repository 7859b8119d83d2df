/**
 * Upload bodies read under a size limit, for every route that takes a file as its body (MapSwipe results,
 * fAIr predictions).
 */
import type { Context } from 'hono';
import { ApiError } from './errors.ts';

/**
 * The request body, read chunk by chunk and refused as soon as it passes the limit, so an oversized
 * upload never sits in memory whole.
 */
export async function boundedBody(c: Context, max: number): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > max) throw uploadTooLarge(declared, max);
  const stream = c.req.raw.body;
  if (!stream) return new Uint8Array();
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw uploadTooLarge(size, max);
    }
    parts.push(value);
  }
  return Buffer.concat(parts);
}

function uploadTooLarge(size: number, max: number): ApiError {
  return new ApiError(
    413,
    'upload-too-large',
    `the upload is over ${max.toLocaleString('en')} bytes (at least ${size.toLocaleString('en')}); nothing was stored`,
    'send the gzip-compressed file, or start the server with a larger --max-upload-bytes',
  );
}
