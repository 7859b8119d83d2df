/**
 * One interface over every imagery the scoring job reads: a local PMTiles archive, an XYZ tile
 * server, a geo-referenced GeoTIFF cut into slippy-map tiles on the fly, or a folder of them.
 *
 * A tile that is missing or cannot be used is a result (`TileFetch`), never a thrown error: the
 * scoring job records it per tile and moves on. Configuration problems throw `ImageryError` when
 * the source is created, so a job with a wrong path or URL fails before it starts. The sources are opened by
 * `createImagerySource` (source-factory.ts); this module is what they all share.
 */
import { basename } from 'node:path';
import { z } from 'zod';
import { TilelensError } from '../errors.ts';
import type { BBox } from '../geo/tiles.ts';

/**
 * `attempts`: reads it took (an XYZ source retries transient failures); absent means one. Reasons name
 * the source by its id, never by a server path: they are stored per tile and shown in the browser.
 */
export type TileFetch =
  | { status: 'ok'; bytes: Uint8Array; contentType: string; attempts?: number }
  | { status: 'missing' | 'undecodable' | 'error'; reason: string; attempts?: number };

/** Deepest zoom any route or source accepts: 2^24 tiles a side, far past any imagery's resolution. */
export const MAX_TILE_ZOOM = 24;

export interface ImagerySource {
  readonly id: string;
  readonly kind: ImagerySpec['kind'];
  readonly attribution?: string;
  readonly bounds?: BBox;
  /**
   * Where within `bounds` the imagery lies, one box per part, when it is patchy (scattered GeoTIFF chips):
   * an area drawn from the bounds alone would bring in the empty land between the parts.
   */
  readonly extents?: readonly BBox[];
  /** What the source noticed at opening and skipped (files it could not use), for a person to read. */
  readonly warnings?: readonly string[];
  readonly minZoom: number;
  readonly maxZoom: number;
  /** Rejects only when `signal` aborts (with the signal's reason); every other outcome is a TileFetch. */
  getTile(z: number, x: number, y: number, signal?: AbortSignal): Promise<TileFetch>;
  close(): Promise<void>;
}

export class ImageryError extends TilelensError {
  override name = 'ImageryError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('imagery', message, { status: 422, cause: options?.cause });
  }
}

const bboxSchema = z
  .tuple([
    z.number().min(-180).max(180),
    z.number().min(-90).max(90),
    z.number().min(-180).max(180),
    z.number().min(-90).max(90),
  ])
  .refine(
    ([w, s, e, n]) => w < e && s < n,
    'bounds must be [west, south, east, north] with west < east and south < north',
  );

const zoom = z.number().int().min(0).max(30);

export const pmtilesSpecSchema = z.object({
  kind: z.literal('pmtiles'),
  path: z.string().min(1),
  id: z.string().min(1).optional(),
});

export const xyzSpecSchema = z.object({
  kind: z.literal('xyz'),
  /** `{z}` `{x}` `{y}` | `{-y}` (TMS) | `{quadkey}` (Bing) and optional `{s}` (one of `subdomains`). */
  url: z.string().min(1).max(2048),
  id: z.string().min(1).max(200).optional(),
  headers: z.record(z.string().max(200), z.string().max(4096)).optional(),
  subdomains: z.array(z.string().min(1)).min(1).optional(),
  concurrency: z.number().int().min(1).max(64).optional(),
  retries: z.number().int().min(0).max(10).optional(),
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
  /** First backoff delay; later ones double, with full jitter. */
  retryBaseMs: z.number().int().min(0).max(60_000).optional(),
  cacheDir: z.string().min(1).optional(),
  cacheMaxBytes: z.number().int().min(1).optional(),
  attribution: z.string().optional(),
  bounds: bboxSchema.optional(),
  minZoom: zoom.optional(),
  maxZoom: zoom.optional(),
});

export const geotiffSpecSchema = z.object({
  kind: z.literal('geotiff'),
  path: z.string().min(1),
  id: z.string().min(1).optional(),
  /** 1-based band numbers as in GDAL (`-b 3 -b 2 -b 1`): three for RGB, or one shown as grey. */
  bands: z
    .union([
      z.tuple([z.number().int().min(1)]),
      z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
    ])
    .optional(),
  /** Overrides the file's GDAL_NODATA. */
  nodata: z.number().optional(),
  /** Value range mapped to 0..255 for data deeper than 8 bits; default the 2nd..98th percentile per band. */
  range: z
    .tuple([z.number(), z.number()])
    .refine(([lo, hi]) => lo < hi, 'range must be [low, high] with low < high')
    .optional(),
  attribution: z.string().optional(),
});

/** Every .tif / .tiff in `path` as one mosaic; `bands`, `nodata` and `range` apply to each file. */
export const geotiffFolderSpecSchema = geotiffSpecSchema.extend({ kind: z.literal('geotiff-folder') });

export const imagerySpecSchema = z.discriminatedUnion('kind', [
  pmtilesSpecSchema,
  xyzSpecSchema,
  geotiffSpecSchema,
  geotiffFolderSpecSchema,
]);

export type ImagerySpec = z.infer<typeof imagerySpecSchema>;
export type PMTilesSpec = z.infer<typeof pmtilesSpecSchema>;
export type XyzSpec = z.infer<typeof xyzSpecSchema>;
export type GeoTiffSpec = z.infer<typeof geotiffSpecSchema>;
export type GeoTiffFolderSpec = z.infer<typeof geotiffFolderSpecSchema>;

export function parseImagerySpec(input: unknown): ImagerySpec {
  const parsed = imagerySpecSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`)
      .join('; ');
    throw new ImageryError(
      `imagery spec is invalid (${problems}); give {kind:'pmtiles', path} | {kind:'xyz', url} | {kind:'geotiff', path} | {kind:'geotiff-folder', path: DIR}`,
    );
  }
  return parsed.data;
}

/** Requests in flight to one imagery host unless a spec or the server's settings say otherwise. */
export const DEFAULT_HOST_CONCURRENCY = 8;

export interface OpenSourceOptions {
  /** Where XYZ requests may go (server/lib/imagery/outbound.ts); default: public addresses only. */
  outbound?: import('./outbound.ts').OutboundPolicy;
  /** Requests in flight per XYZ source (its host) when the spec does not say. */
  concurrency?: number;
  /** Paces every request to a remote host: one token per request, shared by whoever shares the pacer. */
  pacer?: RequestPacer;
}

/**
 * Takes a host's token before each request (server/lib/queue/host-rate-limit.ts implements it: in memory for the
 * embedded store, a Postgres row every worker shares on the shared one). Declared here, by shape, so imagery
 * does not lean on the queue layer.
 */
export interface RequestPacer {
  take(host: string, n?: number, signal?: AbortSignal): Promise<unknown>;
}

export type RasterImageType = 'image/jpeg' | 'image/png' | 'image/webp';

/** The image type the leading bytes announce, whatever a server or archive header claims. */
export function sniffImageType(bytes: Uint8Array): RasterImageType | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'image/png';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP')
    return 'image/webp';
  return undefined;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

/** Leading bytes as hex, for a reason that lets a person recognise what came instead of an image. */
export function describeLeadingBytes(bytes: Uint8Array, n = 8): string {
  if (bytes.length === 0) return 'an empty body';
  const hex = Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `${bytes.length} bytes starting ${hex}`;
}

/** The tile coordinates a source must accept before it does any work. */
export function isValidTile(z: number, x: number, y: number): boolean {
  if (!Number.isInteger(z) || z < 0 || z > MAX_TILE_ZOOM) return false;
  const n = 2 ** z;
  return Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < n && y < n;
}

export function invalidTile(z: number, x: number, y: number): TileFetch {
  return {
    status: 'error',
    reason: `tile ${z}/${x}/${y} is not on the slippy-map grid (zoom 0..${MAX_TILE_ZOOM}, x and y in 0..2^z-1)`,
  };
}

/** `message` with a server path cut down to the file's name: tile reasons are stored and shown in browsers. */
export function withFileName(message: string, path: string): string {
  return message.split(path).join(basename(path));
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
}
