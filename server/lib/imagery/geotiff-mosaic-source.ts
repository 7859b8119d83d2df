/**
 * Slippy-map tiles from a folder of GeoTIFFs (a drone survey delivered as chips, a scene cut into
 * sheets), as if they were one mosaic.
 *
 * Opening reads only each file's header, to index its lon/lat bounds; the index is all that is
 * kept. Files are opened on demand as `GeoTiffSource`s, which do the reprojection, and at most a
 * few stay open (least recently used first out), so a folder of thousands of files holds a few
 * file handles and a few directory caches, not thousands.
 *
 * Where files overlap, the first file by name wins: a tile is cut from each file it touches and
 * each pixel is taken from the first file whose raster lies under it.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fromFile } from 'geotiff';
import proj4 from 'proj4';
import sharp from 'sharp';
import { tileBounds, worldPixelToLonLat, type BBox } from '../geo/tiles.ts';
import {
  geoReferenceOf,
  invertAffine,
  openGeoTiffSource,
  TILE_SIZE,
  type Affine,
  type GeoTiffSource,
  type RasterCrs,
} from './geotiff-source.ts';
import {
  ImageryError,
  invalidTile,
  isValidTile,
  throwIfAborted,
  withFileName,
  type GeoTiffFolderSpec,
  type ImagerySource,
  type TileFetch,
} from './source.ts';

/** Open files kept for the next tile: neighbouring tiles mostly touch the same few files. */
export const OPEN_FILES = 8;
/** A tile touching more files than this is a zoom too coarse for a mosaic of chips. */
export const MAX_FILES_PER_TILE = 64;
const JPEG_QUALITY = 90;
const GEOTIFF_NAME = /\.tiff?$/i;

/** What the index keeps per file: enough to pick the files of a tile and to know which pixels each covers. */
export interface MosaicFile {
  path: string;
  bounds: BBox;
  crs: RasterCrs;
  affine: Affine;
  width: number;
  height: number;
  suggestedZoom: number;
  minZoom: number;
  maxZoom: number;
}

interface OpenEntry {
  source: Promise<GeoTiffSource>;
  users: number;
}

export function bboxIntersects(a: BBox, b: BBox): boolean {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

export function bboxUnion(boxes: readonly BBox[]): BBox {
  const u: BBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (const b of boxes) {
    u[0] = Math.min(u[0], b[0]);
    u[1] = Math.min(u[1], b[1]);
    u[2] = Math.max(u[2], b[2]);
    u[3] = Math.max(u[3], b[3]);
  }
  return u;
}

/**
 * 1 for each tile pixel whose centre lies on the file's raster. Computed from the geotransform,
 * not from the cut tile's colours: black imagery and pixels outside the raster look alike there.
 */
export function tileCoverage(file: MosaicFile, z: number, x: number, y: number): Uint8Array {
  const mask = new Uint8Array(TILE_SIZE * TILE_SIZE);
  const toCrs = file.crs.proj ? proj4('EPSG:4326', file.crs.proj) : undefined;
  for (let py = 0; py < TILE_SIZE; py++) {
    for (let px = 0; px < TILE_SIZE; px++) {
      const lonLat = worldPixelToLonLat(x * TILE_SIZE + px + 0.5, y * TILE_SIZE + py + 0.5, z, TILE_SIZE);
      const [X, Y] = toCrs ? (toCrs.forward(lonLat) as [number, number]) : lonLat;
      const [c, r] = invertAffine(file.affine, X, Y);
      if (c >= 0 && r >= 0 && c < file.width && r < file.height) mask[py * TILE_SIZE + px] = 1;
    }
  }
  return mask;
}

export class GeoTiffMosaicSource implements ImagerySource {
  readonly kind = 'geotiff-folder' as const;
  readonly id: string;
  readonly attribution?: string;
  readonly bounds: BBox;
  readonly minZoom: number;
  readonly maxZoom: number;
  /** Each file's extent: scattered chips leave empty land between them that the bounds would cover. */
  readonly extents: readonly BBox[];
  /** The finest file's native zoom: score at it to lose no detail anywhere. */
  readonly suggestedZoom: number;
  private readonly open = new Map<string, OpenEntry>();

  constructor(
    readonly folder: string,
    readonly files: readonly MosaicFile[],
    /** Files left out at opening, each with why and what to do. */
    readonly warnings: readonly string[],
    private readonly spec: GeoTiffFolderSpec,
  ) {
    this.id = spec.id ?? `geotiff-folder:${basename(folder)}`;
    this.attribution = spec.attribution;
    this.extents = files.map((f) => f.bounds);
    this.bounds = bboxUnion(this.extents);
    this.suggestedZoom = Math.max(...files.map((f) => f.suggestedZoom));
    this.maxZoom = Math.max(...files.map((f) => f.maxZoom));
    // The coarsest zoom at which every file can still cut its part of a tile.
    this.minZoom = Math.min(this.suggestedZoom, Math.max(...files.map((f) => f.minZoom)));
  }

  async getTile(z: number, x: number, y: number, signal?: AbortSignal): Promise<TileFetch> {
    if (!isValidTile(z, x, y)) return invalidTile(z, x, y);
    throwIfAborted(signal);
    const box = tileBounds(z, x, y);
    const candidates = this.files.filter((f) => bboxIntersects(f.bounds, box));
    if (candidates.length === 0)
      return { status: 'missing', reason: `tile ${z}/${x}/${y} lies outside every file of ${this.id}` };
    if (candidates.length > MAX_FILES_PER_TILE) {
      return {
        status: 'error',
        reason: `tile ${z}/${x}/${y} touches ${candidates.length} files of ${this.id} (at most ${MAX_FILES_PER_TILE}); request zoom ${this.suggestedZoom} or build one mosaic with \`gdalbuildvrt\` + \`gdal_translate\``,
      };
    }
    let rgb: Uint8Array | undefined;
    let filled: Uint8Array | undefined;
    let single: TileFetch | undefined;
    let left = TILE_SIZE * TILE_SIZE;
    const reasons: string[] = [];
    for (const file of candidates) {
      const cut = await this.cut(file, z, x, y, signal);
      if (cut.status !== 'ok') {
        reasons.push(cut.reason);
        continue;
      }
      const coverage = tileCoverage(file, z, x, y);
      if (!rgb || !filled) {
        // Most tiles lie inside one file: its tile goes out as cut, without a second JPEG pass.
        single = cut;
        rgb = new Uint8Array(TILE_SIZE * TILE_SIZE * 3);
        filled = new Uint8Array(TILE_SIZE * TILE_SIZE);
      } else {
        single = undefined;
      }
      const pixels = await decodeRgb(cut.bytes);
      for (let k = 0; k < filled.length; k++) {
        if (filled[k] || !coverage[k]) continue;
        filled[k] = 1;
        rgb[k * 3] = pixels[k * 3];
        rgb[k * 3 + 1] = pixels[k * 3 + 1];
        rgb[k * 3 + 2] = pixels[k * 3 + 2];
        left--;
      }
      if (left === 0) break;
    }
    if (!rgb) {
      const failed = reasons.find((r) => !/outside|only nodata/.test(r));
      return failed
        ? { status: 'error', reason: failed }
        : { status: 'missing', reason: `tile ${z}/${x}/${y} holds no data in ${this.id}` };
    }
    if (single && single.status === 'ok') return single;
    const jpeg = await sharp(rgb, { raw: { width: TILE_SIZE, height: TILE_SIZE, channels: 3 } })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer();
    return {
      status: 'ok',
      bytes: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength),
      contentType: 'image/jpeg',
    };
  }

  /** How many files are open now; for tests of the bound. */
  get openFiles(): number {
    return this.open.size;
  }

  async close(): Promise<void> {
    const entries = [...this.open.values()];
    this.open.clear();
    await Promise.all(entries.map(async (e) => (await e.source.catch(() => null))?.close()));
  }

  private async cut(
    file: MosaicFile,
    z: number,
    x: number,
    y: number,
    signal: AbortSignal | undefined,
  ): Promise<TileFetch> {
    const entry = this.acquire(file.path);
    try {
      const source = await entry.source;
      return await source.getTile(z, x, y, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      return {
        status: 'error',
        reason: `${basename(file.path)} of ${this.id} could not be opened (${withFileName((err as Error).message, file.path)}); check the file is still there and readable`,
      };
    } finally {
      entry.users--;
      this.evict();
    }
  }

  private acquire(path: string): OpenEntry {
    let entry = this.open.get(path);
    if (entry) this.open.delete(path);
    else {
      entry = {
        source: openGeoTiffSource({
          kind: 'geotiff',
          path,
          ...(this.spec.bands ? { bands: this.spec.bands } : {}),
          ...(this.spec.nodata !== undefined ? { nodata: this.spec.nodata } : {}),
          ...(this.spec.range ? { range: this.spec.range } : {}),
        }),
        users: 0,
      };
      // A failed open is not kept, so the next tile tries again.
      entry.source.catch(() => {
        if (this.open.get(path) === entry) this.open.delete(path);
      });
    }
    entry.users++;
    // Map order is insertion order: re-inserting marks it most recently used.
    this.open.set(path, entry);
    return entry;
  }

  /** Closes the least recently used files that no tile is reading, down to OPEN_FILES. */
  private evict(): void {
    for (const [path, entry] of this.open) {
      if (this.open.size <= OPEN_FILES) return;
      if (entry.users > 0) continue;
      this.open.delete(path);
      void entry.source.then((s) => s.close()).catch(() => undefined);
    }
  }
}

async function decodeRgb(bytes: Uint8Array): Promise<Uint8Array> {
  const { data } = await sharp(bytes)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data;
}

/** One file's index entry, or why it cannot be used. */
async function indexFile(path: string, spec: GeoTiffFolderSpec): Promise<MosaicFile> {
  const source = await openGeoTiffSource({
    kind: 'geotiff',
    path,
    ...(spec.bands ? { bands: spec.bands } : {}),
    ...(spec.nodata !== undefined ? { nodata: spec.nodata } : {}),
    ...(spec.range ? { range: spec.range } : {}),
  });
  try {
    // The source keeps its geotransform to itself; the header is read again for the coverage masks.
    const tiff = await fromFile(path);
    try {
      const image = await tiff.getImage(0);
      const { affine } = geoReferenceOf(image, path);
      return {
        path,
        bounds: source.bounds,
        crs: source.crs,
        affine,
        width: image.getWidth(),
        height: image.getHeight(),
        suggestedZoom: source.suggestedZoom,
        minZoom: source.minZoom,
        maxZoom: source.maxZoom,
      };
    } finally {
      await tiff.close();
    }
  } finally {
    await source.close();
  }
}

export async function openGeoTiffFolderSource(spec: GeoTiffFolderSpec): Promise<GeoTiffMosaicSource> {
  const folder = spec.path;
  const st = await stat(folder).catch(() => undefined);
  if (!st?.isDirectory())
    throw new ImageryError(`GeoTIFF folder ${folder} does not exist or is not a folder; check the path`);
  const names = (await readdir(folder)).filter((n) => GEOTIFF_NAME.test(n)).sort();
  if (names.length === 0)
    throw new ImageryError(
      `folder ${folder} holds no GeoTIFF (.tif or .tiff); point at the folder that holds the imagery files`,
    );
  const files: MosaicFile[] = [];
  const warnings: string[] = [];
  for (const name of names) {
    // Opening a FIFO or a device named *.tif could block forever; only regular files are read.
    if (!(await stat(join(folder, name)).catch(() => undefined))?.isFile()) {
      warnings.push(`${name} skipped: not a regular file`);
      continue;
    }
    try {
      files.push(await indexFile(join(folder, name), spec));
    } catch (err) {
      if (!(err instanceof ImageryError)) throw err;
      warnings.push(`${name} skipped: ${err.message}`);
    }
  }
  if (files.length === 0) {
    throw new ImageryError(
      `none of the ${names.length} GeoTIFF(s) in ${folder} can be used; fix them or remove them from the folder: ${warnings.join(' | ')}`,
    );
  }
  return new GeoTiffMosaicSource(folder, files, warnings, spec);
}
