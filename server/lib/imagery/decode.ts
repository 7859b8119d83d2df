/**
 * Tile image bytes (JPEG, PNG, WebP …) ↔ raw RGB, HWC, uint8 — the layout models and masks use.
 */
import sharp, { type OutputInfo } from 'sharp';
import { TilelensError } from '../errors.ts';

export class TileDecodeError extends TilelensError {
  override name = 'TileDecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('undecodable', message, { status: 422, cause: options?.cause });
  }
}

export interface DecodedImage {
  /** RGB, row-major, 3 bytes per pixel (HWC). */
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodeOptions {
  /** Side the tile must have; null accepts any size. Default 256. */
  expectedSize?: number | null;
  /** Names the tile in errors, e.g. 'tile 18-155668-139360'. */
  label?: string;
}

export async function decodeTileImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
  const label = options.label ?? 'tile image';
  const expected = options.expectedSize === undefined ? 256 : options.expectedSize;
  if (!bytes || bytes.length === 0) {
    throw new TileDecodeError(`${label} is empty (0 bytes); the imagery source returned no data for it`);
  }
  let out: { data: Buffer; info: OutputInfo };
  try {
    // Grey tiles become 3 equal bands and alpha is dropped, so every tile reaches the model as RGB.
    out = await sharp(bytes, { failOn: 'error' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new TileDecodeError(
      `${label} could not be decoded (${bytes.length} bytes, starting ${Buffer.from(bytes.subarray(0, 4)).toString('hex')}): ${(err as Error).message}; check that the imagery source serves JPEG/PNG/WebP`,
    );
  }
  const { width, height, channels } = out.info;
  if (channels !== 3) {
    throw new TileDecodeError(`${label} decoded to ${channels} bands, expected 3 (RGB)`);
  }
  if (expected !== null && (width !== expected || height !== expected)) {
    throw new TileDecodeError(
      `${label} is ${width}×${height} px, expected ${expected}×${expected}; pick the imagery source's matching tile size`,
    );
  }
  return { data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength), width, height };
}

/**
 * Why `bytes` cannot be used as an image, or undefined when every pixel decodes. A JPEG cut short still
 * starts `FF D8 FF`, and decoders fill the missing rows with grey unless asked to fail, so only a full
 * decode tells a whole tile from a truncated one: tiles are checked this way before they are cached or served.
 */
export async function imageProblem(bytes: Uint8Array): Promise<string | undefined> {
  if (bytes.length === 0) return 'it is empty';
  try {
    await sharp(bytes, { failOn: 'error' }).raw().toBuffer();
    return undefined;
  } catch (err) {
    return `it does not decode (${(err as Error).message.replace(/\s+/g, ' ').trim()})`;
  }
}

/** Encodes RGB HWC pixels as baseline JPEG with 4:2:0 chroma, as imagery services serve it. */
export async function encodeJpeg(
  rgb: Uint8Array,
  width: number,
  height: number,
  quality = 85,
): Promise<Uint8Array> {
  if (rgb.length !== width * height * 3) {
    throw new TileDecodeError(
      `encodeJpeg got ${rgb.length} bytes for ${width}×${height} RGB; expected ${width * height * 3}`,
    );
  }
  const buf = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: '4:2:0' })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Encodes RGB HWC pixels as PNG, for previews and lossless fixtures. */
export async function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const buf = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
