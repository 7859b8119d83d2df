/**
 * Slippy-map tiles cut on the fly from a geo-referenced GeoTIFF (a drone orthomosaic, a satellite
 * scene) in EPSG:4326, EPSG:3857 or a UTM zone.
 *
 * Each tile reads only the raster window it covers, from the coarsest overview that still has at
 * least one raster pixel per tile pixel, so memory stays bounded whatever the raster's size. The
 * tile's pixels are mapped into the raster by projecting a coarse grid exactly and interpolating
 * between its nodes: at tile scale the projection is smooth, and this is ~300 projections a tile
 * instead of 65 536.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { fromFile, type GeoTIFF, type GeoTIFFImage, type TypedArray } from 'geotiff';
import proj4 from 'proj4';
import sharp from 'sharp';
import { worldPixelToLonLat, type BBox } from '../geo/tiles.ts';
import {
  ImageryError,
  invalidTile,
  isValidTile,
  throwIfAborted,
  withFileName,
  type GeoTiffSpec,
  type ImagerySource,
  type TileFetch,
} from './source.ts';

type GeoTiffImage = Awaited<ReturnType<GeoTIFF['getImage']>>;

export const TILE_SIZE = 256;
/** Grid cells per tile side: 16 keeps the interpolation error far below a pixel at zoom ≥ 10. */
const GRID_CELLS = 16;
/** A tile may read at most this many raster pixels per band (4096²); past it, overviews are needed. */
export const MAX_WINDOW_PIXELS = 4096 * 4096;
const STRETCH_PERCENTILES: [number, number] = [2, 98];
const JPEG_QUALITY = 90;
const EQUATOR_METRES = 40075016.686;

// ---- coordinate reference systems --------------------------------------------------------------

export interface RasterCrs {
  epsg: number;
  /** proj4 definition, or undefined when the raster is in WGS 84 longitude/latitude. */
  proj?: string;
  geographic: boolean;
}

const GEOGRAPHIC: Record<number, string | undefined> = {
  4326: undefined,
  4269: '+proj=longlat +datum=NAD83 +no_defs',
  4258: '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs',
};

/** The proj4 definition of the projected EPSG codes we read, or undefined when unsupported. */
export function projectedDefinition(epsg: number): string | undefined {
  if (epsg === 3857 || epsg === 900913 || epsg === 3785 || epsg === 102100) return 'EPSG:3857';
  const zone = epsg % 100;
  const family = Math.floor(epsg / 100);
  if (zone >= 1 && zone <= 60) {
    if (family === 326) return `+proj=utm +zone=${zone} +datum=WGS84 +units=m +no_defs`;
    if (family === 327) return `+proj=utm +zone=${zone} +south +datum=WGS84 +units=m +no_defs`;
    if (family === 269 && zone <= 23) return `+proj=utm +zone=${zone} +datum=NAD83 +units=m +no_defs`;
    if (family === 258 && zone >= 28 && zone <= 38)
      return `+proj=utm +zone=${zone} +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs`;
  }
  return undefined;
}

/** Reads the CRS from the GeoKeys; a file we cannot place on the map is a configuration error. */
export function crsFromGeoKeys(keys: Record<string, unknown> | null, path: string): RasterCrs {
  const name = basename(path);
  const projected = Number(keys?.ProjectedCSTypeGeoKey ?? NaN);
  const geographic = Number(keys?.GeographicTypeGeoKey ?? NaN);
  const model = Number(keys?.GTModelTypeGeoKey ?? NaN);
  const reproject = `reproject it with \`gdalwarp -t_srs EPSG:3857 ${name} out.tif\``;
  if (Number.isFinite(projected) && model !== 2) {
    if (projected === 32767)
      throw new ImageryError(
        `file ${path} uses a user-defined projection, which is not read here; ${reproject}`,
      );
    const proj = projectedDefinition(projected);
    if (!proj) {
      throw new ImageryError(
        `file ${path} is in EPSG:${projected}; supported are EPSG:4326, EPSG:3857 and UTM zones (326xx, 327xx, 269xx, 258xx); ${reproject}`,
      );
    }
    return { epsg: projected, proj, geographic: false };
  }
  if (Number.isFinite(geographic) && model !== 1) {
    if (!(geographic in GEOGRAPHIC)) {
      throw new ImageryError(
        `file ${path} is in geographic EPSG:${geographic}; supported are EPSG:4326, 4269 and 4258; ${reproject}`,
      );
    }
    return { epsg: geographic, proj: GEOGRAPHIC[geographic], geographic: true };
  }
  throw new ImageryError(
    `file ${path} has no coordinate reference system; add one with \`gdal_edit.py -a_srs EPSG:4326 ${name}\` (or the EPSG code it was made in)`,
  );
}

// ---- raster geometry -----------------------------------------------------------------------------

/**
 * GDAL-order affine from pixel-corner coordinates (col, row) to CRS coordinates:
 * X = a + b·col + c·row, Y = d + e·col + f·row.
 */
export type Affine = [a: number, b: number, c: number, d: number, e: number, f: number];

export function affineFromTags(
  tags: {
    transformation?: ArrayLike<number>;
    tiepoint?: ArrayLike<number>;
    scale?: ArrayLike<number>;
    pixelIsPoint: boolean;
  },
  path: string,
): Affine {
  let t: Affine;
  const m = tags.transformation;
  if (m && m.length >= 16) {
    t = [m[3], m[0], m[1], m[7], m[4], m[5]];
  } else if (tags.tiepoint && tags.tiepoint.length >= 6 && tags.scale && tags.scale.length >= 2) {
    const [i, j, , x, y] = Array.from(tags.tiepoint);
    const [sx, sy] = Array.from(tags.scale);
    t = [x - i * sx, sx, 0, y + j * sy, 0, -sy];
  } else {
    throw new ImageryError(
      `file ${path} has no geotransform (ModelTiepoint + ModelPixelScale or ModelTransformation); geo-reference it with gdal_translate -a_ullr or gdalwarp`,
    );
  }
  if (tags.pixelIsPoint) {
    // The tie point names a pixel's centre; move the origin to its corner as GDAL does.
    t = [t[0] - 0.5 * (t[1] + t[2]), t[1], t[2], t[3] - 0.5 * (t[4] + t[5]), t[4], t[5]];
  }
  if (t[1] * t[5] - t[2] * t[4] === 0)
    throw new ImageryError(
      `file ${path} has a degenerate geotransform (zero pixel size); fix its geo-referencing`,
    );
  return t;
}

/** CRS and geotransform of a GeoTIFF image, refused with what to do when either is missing. */
export function geoReferenceOf(image: GeoTIFFImage, path: string): { crs: RasterCrs; affine: Affine } {
  const fd = image.getFileDirectory();
  const keys = image.getGeoKeys() as Record<string, unknown> | null;
  const crs = crsFromGeoKeys(keys, path);
  const affine = affineFromTags(
    {
      transformation: fd.getValue('ModelTransformation') as ArrayLike<number> | undefined,
      tiepoint: fd.getValue('ModelTiepoint') as ArrayLike<number> | undefined,
      scale: fd.getValue('ModelPixelScale') as ArrayLike<number> | undefined,
      pixelIsPoint: Number(keys?.GTRasterTypeGeoKey) === 2,
    },
    path,
  );
  return { crs, affine };
}

export function invertAffine([a, b, c, d, e, f]: Affine, X: number, Y: number): [col: number, row: number] {
  const det = b * f - c * e;
  const dx = X - a;
  const dy = Y - d;
  return [(f * dx - c * dy) / det, (-e * dx + b * dy) / det];
}

export function applyAffine([a, b, c, d, e, f]: Affine, col: number, row: number): [X: number, Y: number] {
  return [a + b * col + c * row, d + e * col + f * row];
}

/** Zoom whose tile pixels are the raster's ground size at `lat`. */
export function zoomForResolution(metres: number, lat: number): number {
  return Math.log2((EQUATOR_METRES * Math.cos((lat * Math.PI) / 180)) / (TILE_SIZE * metres));
}

// ---- the source ------------------------------------------------------------------------------

export interface RasterLevel {
  image: GeoTiffImage;
  /** Full-resolution pixels per pixel of this level. */
  factor: number;
  width: number;
  height: number;
}

interface Stretch {
  lo: number;
  hi: number;
}

export class GeoTiffSource implements ImagerySource {
  readonly kind = 'geotiff' as const;
  readonly id: string;
  readonly attribution?: string;
  readonly bounds: BBox;
  readonly minZoom: number;
  readonly maxZoom: number;
  /** Zoom at which a tile pixel is about one raster pixel; score at or below it. */
  readonly suggestedZoom: number;
  /** Ground size of a raster pixel at the raster's centre, in metres. */
  readonly resolutionMetres: number;

  private readonly toCrs: ((lonLat: [number, number]) => [number, number]) | undefined;

  constructor(
    private readonly tiff: GeoTIFF,
    readonly path: string,
    readonly crs: RasterCrs,
    private readonly affine: Affine,
    private readonly levels: RasterLevel[],
    /** 0-based sample indices: one (grey) or three (RGB). */
    readonly samples: number[],
    private readonly alphaSample: number | undefined,
    private readonly nodata: number | undefined,
    /** Per chosen sample; undefined for 8-bit data shown as is. */
    private readonly stretch: Stretch[] | undefined,
    id: string | undefined,
    attribution: string | undefined,
  ) {
    this.id = id ?? `geotiff:${basename(path)}`;
    this.attribution = attribution;
    const converter = crs.proj ? proj4('EPSG:4326', crs.proj) : undefined;
    this.toCrs = converter ? (p) => converter.forward(p) as [number, number] : undefined;
    const fromCrs = converter
      ? (p: [number, number]) => converter.inverse(p) as [number, number]
      : (p: [number, number]) => p;
    const full = levels[0];
    this.bounds = rasterBounds(affine, full.width, full.height, fromCrs);
    const lat = (this.bounds[1] + this.bounds[3]) / 2;
    const pixelArea = Math.abs(affine[1] * affine[5] - affine[2] * affine[4]);
    const coslat = Math.cos((lat * Math.PI) / 180);
    if (crs.geographic) this.resolutionMetres = Math.sqrt(pixelArea * 111_320 * 110_574 * coslat);
    // Mercator metres are stretched by 1/cos(lat) against the ground.
    else if (crs.proj === 'EPSG:3857') this.resolutionMetres = Math.sqrt(pixelArea) * coslat;
    else this.resolutionMetres = Math.sqrt(pixelArea);
    const native = zoomForResolution(this.resolutionMetres, lat);
    this.suggestedZoom = clampZoom(Math.round(native));
    this.maxZoom = clampZoom(Math.round(native) + 2);
    const coarsest = levels[levels.length - 1].factor;
    // A tile at this zoom spans 2048..4095 pixels of the coarsest level per side: within the read limit.
    this.minZoom = Math.min(this.suggestedZoom, clampZoom(Math.floor(native - Math.log2(coarsest)) - 3));
  }

  async getTile(z: number, x: number, y: number, signal?: AbortSignal): Promise<TileFetch> {
    if (!isValidTile(z, x, y)) return invalidTile(z, x, y);
    throwIfAborted(signal);
    const grid = this.tileGrid(z, x, y);
    const ext = extent(grid);
    const full = this.levels[0];
    if (!ext || ext.maxC <= 0 || ext.maxR <= 0 || ext.minC >= full.width || ext.minR >= full.height) {
      return { status: 'missing', reason: `tile ${z}/${x}/${y} lies outside ${this.id}` };
    }
    // The grid spans TILE_SIZE - 1 pixel steps (first to last pixel centre); the slack absorbs rounding at exact ratios.
    const rasterPerTilePixel =
      (Math.max(ext.maxC - ext.minC, ext.maxR - ext.minR) / (TILE_SIZE - 1)) * (1 + 1e-9);
    const level = this.levels.reduce(
      (best, l) => (l.factor <= rasterPerTilePixel && l.factor > best.factor ? l : best),
      full,
    );
    const f = level.factor;
    const x0 = clamp(Math.floor(ext.minC / f - 0.5), 0, level.width);
    const y0 = clamp(Math.floor(ext.minR / f - 0.5), 0, level.height);
    const x1 = clamp(Math.ceil(ext.maxC / f + 0.5), 0, level.width);
    const y1 = clamp(Math.ceil(ext.maxR / f + 0.5), 0, level.height);
    const ww = x1 - x0;
    const wh = y1 - y0;
    if (ww <= 0 || wh <= 0)
      return { status: 'missing', reason: `tile ${z}/${x}/${y} lies outside ${this.id}` };
    if (ww * wh > MAX_WINDOW_PIXELS) {
      return {
        status: 'error',
        reason: `tile ${z}/${x}/${y} covers ${ww}×${wh} pixels of ${this.id}; request zoom ${this.minZoom} or deeper, or add overviews with \`gdaladdo -r average ${basename(this.path)}\``,
      };
    }
    const wanted =
      this.alphaSample === undefined || this.samples.includes(this.alphaSample)
        ? this.samples
        : [...this.samples, this.alphaSample];
    let bands: TypedArray[];
    try {
      bands = (await level.image.readRasters({
        window: [x0, y0, x1, y1],
        samples: wanted,
        interleave: false,
        signal,
      })) as unknown as TypedArray[];
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      return {
        status: 'error',
        reason: `reading tile ${z}/${x}/${y} from ${this.id} failed: ${withFileName((err as Error).message, this.path)}`,
      };
    }
    const alpha = this.alphaSample === undefined ? undefined : bands[wanted.indexOf(this.alphaSample)];
    const rgb = new Uint8Array(TILE_SIZE * TILE_SIZE * 3);
    const covered = this.resample(grid, f, x0, y0, ww, wh, bands.slice(0, this.samples.length), alpha, rgb);
    if (covered === 0)
      return { status: 'missing', reason: `tile ${z}/${x}/${y} holds only nodata in ${this.id}` };
    const jpeg = await sharp(rgb, { raw: { width: TILE_SIZE, height: TILE_SIZE, channels: 3 } })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer();
    return {
      status: 'ok',
      bytes: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength),
      contentType: 'image/jpeg',
    };
  }

  async close(): Promise<void> {
    await this.tiff.close();
  }

  /**
   * Full-resolution pixel-corner coordinates (col, row) of a (GRID_CELLS+1)² grid of points over
   * the tile, at tile-pixel centres 0.5 … 255.5; NaN where a point does not project.
   */
  private tileGrid(z: number, x: number, y: number): Float64Array {
    const n = GRID_CELLS + 1;
    const out = new Float64Array(n * n * 2);
    const step = (TILE_SIZE - 1) / GRID_CELLS;
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const lonLat = worldPixelToLonLat(
          x * TILE_SIZE + 0.5 + i * step,
          y * TILE_SIZE + 0.5 + j * step,
          z,
          TILE_SIZE,
        );
        let X = lonLat[0];
        let Y = lonLat[1];
        if (this.toCrs) [X, Y] = this.toCrs(lonLat);
        const [c, r] =
          Number.isFinite(X) && Number.isFinite(Y) ? invertAffine(this.affine, X, Y) : [NaN, NaN];
        out[(j * n + i) * 2] = c;
        out[(j * n + i) * 2 + 1] = r;
      }
    }
    return out;
  }

  /** Bilinear resampling into `rgb`; returns how many tile pixels hold data. */
  private resample(
    grid: Float64Array,
    f: number,
    x0: number,
    y0: number,
    ww: number,
    wh: number,
    bands: TypedArray[],
    alpha: TypedArray | undefined,
    rgb: Uint8Array,
  ): number {
    const n = GRID_CELLS + 1;
    const step = (TILE_SIZE - 1) / GRID_CELLS;
    const mask = voidMask(bands, alpha, this.nodata, ww * wh);
    const nb = bands.length;
    // Grey shows band 0 in all three channels.
    const src = [bands[0], bands[Math.min(1, nb - 1)], bands[Math.min(2, nb - 1)]];
    const lo = src.map((_, s) => (this.stretch ? this.stretch[Math.min(s, nb - 1)].lo : 0));
    const gain = src.map((_, s) => {
      const st = this.stretch?.[Math.min(s, nb - 1)];
      return st ? 255 / (st.hi - st.lo) : 1;
    });
    let covered = 0;
    for (let py = 0; py < TILE_SIZE; py++) {
      const gy = py / step;
      const j = Math.min(GRID_CELLS - 1, Math.floor(gy));
      const ty = gy - j;
      for (let px = 0; px < TILE_SIZE; px++) {
        const gx = px / step;
        const i = Math.min(GRID_CELLS - 1, Math.floor(gx));
        const tx = gx - i;
        const a = (j * n + i) * 2;
        const b = a + 2;
        const c = a + n * 2;
        const d = c + 2;
        const w00 = (1 - tx) * (1 - ty);
        const w10 = tx * (1 - ty);
        const w01 = (1 - tx) * ty;
        const w11 = tx * ty;
        const col = w00 * grid[a] + w10 * grid[b] + w01 * grid[c] + w11 * grid[d];
        const row = w00 * grid[a + 1] + w10 * grid[b + 1] + w01 * grid[c + 1] + w11 * grid[d + 1];
        // Into this level's pixel-centre coordinates, relative to the window.
        const cx = col / f - 0.5 - x0;
        const cy = row / f - 0.5 - y0;
        if (!(cx >= -0.5 && cy >= -0.5 && cx <= ww - 0.5 && cy <= wh - 0.5)) continue;
        const nearest = clamp(Math.round(cy), 0, wh - 1) * ww + clamp(Math.round(cx), 0, ww - 1);
        if (mask && mask[nearest]) continue;
        const ix = Math.floor(cx);
        const iy = Math.floor(cy);
        const fx = cx - ix;
        const fy = cy - iy;
        const xa = ix < 0 ? 0 : ix;
        const xb = ix + 1 > ww - 1 ? ww - 1 : ix + 1;
        const ya = (iy < 0 ? 0 : iy) * ww;
        const yb = (iy + 1 > wh - 1 ? wh - 1 : iy + 1) * ww;
        const k00 = ya + xa;
        const k10 = ya + xb;
        const k01 = yb + xa;
        const k11 = yb + xb;
        // A neighbour in nodata would bleed its fill value into the edge; take the nearest pixel there.
        const smooth = !mask || !(mask[k00] || mask[k10] || mask[k01] || mask[k11]);
        const o = (py * TILE_SIZE + px) * 3;
        for (let s = 0; s < 3; s++) {
          const band = src[s];
          const v = smooth
            ? (1 - fx) * (1 - fy) * band[k00] +
              fx * (1 - fy) * band[k10] +
              (1 - fx) * fy * band[k01] +
              fx * fy * band[k11]
            : band[nearest];
          const g = (v - lo[s]) * gain[s];
          rgb[o + s] = g <= 0 ? 0 : g >= 255 ? 255 : (g + 0.5) | 0;
        }
        covered++;
      }
    }
    return covered;
  }
}

/** 1 where a window pixel holds no data (alpha 0, the nodata value, NaN); undefined when none can. */
function voidMask(
  bands: TypedArray[],
  alpha: TypedArray | undefined,
  nodata: number | undefined,
  size: number,
): Uint8Array | undefined {
  const float = bands.some((b) => b instanceof Float32Array || b instanceof Float64Array);
  if (!alpha && nodata === undefined && !float) return undefined;
  const mask = new Uint8Array(size);
  for (const band of bands) {
    for (let k = 0; k < size; k++) {
      const v = band[k];
      if (v !== v || v === nodata) mask[k] = 1;
    }
  }
  if (alpha) for (let k = 0; k < size; k++) if (alpha[k] === 0) mask[k] = 1;
  return mask;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function clampZoom(z: number): number {
  return clamp(z, 0, 30);
}

function extent(grid: Float64Array): { minC: number; maxC: number; minR: number; maxR: number } | undefined {
  let minC = Infinity;
  let maxC = -Infinity;
  let minR = Infinity;
  let maxR = -Infinity;
  for (let k = 0; k < grid.length; k += 2) {
    const c = grid[k];
    const r = grid[k + 1];
    if (!Number.isFinite(c) || !Number.isFinite(r)) return undefined;
    if (c < minC) minC = c;
    if (c > maxC) maxC = c;
    if (r < minR) minR = r;
    if (r > maxR) maxR = r;
  }
  return { minC, maxC, minR, maxR };
}

/** Lon/lat bounds of the raster, from points along its edges (a UTM rectangle is not one in lon/lat). */
function rasterBounds(
  affine: Affine,
  width: number,
  height: number,
  toLonLat: (p: [number, number]) => [number, number],
): BBox {
  const b: BBox = [Infinity, Infinity, -Infinity, -Infinity];
  const steps = 16;
  for (let k = 0; k <= steps; k++) {
    const t = k / steps;
    for (const [c, r] of [
      [t * width, 0],
      [t * width, height],
      [0, t * height],
      [width, t * height],
    ]) {
      const [lon, lat] = toLonLat(applyAffine(affine, c, r));
      b[0] = Math.min(b[0], lon);
      b[1] = Math.min(b[1], lat);
      b[2] = Math.max(b[2], lon);
      b[3] = Math.max(b[3], lat);
    }
  }
  return b;
}

/**
 * The 2nd and 98th percentile of each sample, from the smallest level: the whole of it when
 * small, else 16 windows spread over it, so opening a large raster reads little of it.
 */
async function percentileStretch(
  level: RasterLevel,
  samples: number[],
  nodata: number | undefined,
): Promise<Stretch[]> {
  const { width, height, image } = level;
  const windows: number[][] = [];
  if (width * height <= 1024 * 1024) windows.push([0, 0, width, height]);
  else {
    const size = 128;
    for (let j = 0; j < 4; j++) {
      for (let i = 0; i < 4; i++) {
        const x = Math.floor(((width - size) * (i + 0.5)) / 4);
        const y = Math.floor(((height - size) * (j + 0.5)) / 4);
        windows.push([x, y, x + size, y + size]);
      }
    }
  }
  const values: number[][] = samples.map(() => []);
  for (const window of windows) {
    const bands = (await image.readRasters({
      window,
      samples,
      interleave: false,
    })) as unknown as TypedArray[];
    bands.forEach((band, s) => {
      for (let k = 0; k < band.length; k++) {
        const v = band[k];
        if (v === v && v !== nodata) values[s].push(v);
      }
    });
  }
  return values.map((vs) => {
    if (vs.length === 0) return { lo: 0, hi: 255 };
    const sorted = Float64Array.from(vs).sort();
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
    const lo = at(STRETCH_PERCENTILES[0]);
    const hi = at(STRETCH_PERCENTILES[1]);
    return { lo, hi: hi > lo ? hi : lo + 1 };
  });
}

export async function openGeoTiffSource(spec: GeoTiffSpec): Promise<GeoTiffSource> {
  const path = spec.path;
  const st = await stat(path).catch(() => undefined);
  if (st?.isDirectory()) {
    throw new ImageryError(
      `GeoTIFF ${path} is a folder; give {kind: 'geotiff-folder', path} to read every GeoTIFF in it as one mosaic`,
    );
  }
  if (!st?.isFile())
    throw new ImageryError(`GeoTIFF ${path} does not exist or is not a file; check the path`);
  let tiff: GeoTIFF;
  try {
    tiff = await fromFile(path);
  } catch (err) {
    throw new ImageryError(
      `file ${path} is not a GeoTIFF (${(err as Error).message}); give a .tif written by GDAL or another GIS`,
    );
  }
  try {
    return await describe(tiff, spec);
  } catch (err) {
    await tiff.close();
    if (err instanceof ImageryError) throw err;
    throw new ImageryError(
      `GeoTIFF ${path} cannot be read (${(err as Error).message}); check it with gdalinfo`,
    );
  }
}

async function describe(tiff: GeoTIFF, spec: GeoTiffSpec): Promise<GeoTiffSource> {
  const path = spec.path;
  const image = await tiff.getImage(0);
  const fd = image.getFileDirectory();
  const { crs, affine } = geoReferenceOf(image, path);
  const width = image.getWidth();
  const height = image.getHeight();
  const spp = image.getSamplesPerPixel();
  const levels: RasterLevel[] = [{ image, factor: 1, width, height }];
  const count = await tiff.getImageCount();
  for (let i = 1; i < count; i++) {
    const ov = await tiff.getImage(i);
    const subfile = Number(ov.getFileDirectory().getValue('NewSubfileType') ?? 0);
    // Bit 0 marks a reduced-resolution copy; bit 2 a transparency mask, which is no overview.
    if (!(subfile & 1) || subfile & 4 || ov.getSamplesPerPixel() !== spp || ov.getWidth() >= width) continue;
    levels.push({ image: ov, factor: width / ov.getWidth(), width: ov.getWidth(), height: ov.getHeight() });
  }
  levels.sort((a, b) => a.factor - b.factor);

  const extra = Array.from((fd.getValue('ExtraSamples') as ArrayLike<number> | undefined) ?? []);
  const firstExtra = spp - extra.length;
  const alphaIndex = extra.findIndex((e) => e === 1 || e === 2);
  const alphaSample = alphaIndex >= 0 ? firstExtra + alphaIndex : undefined;
  const colourBands = alphaSample === undefined ? spp : spp - 1;
  const samples = spec.bands ? spec.bands.map((b) => b - 1) : colourBands >= 3 ? [0, 1, 2] : [0];
  for (const s of samples) {
    if (s >= spp)
      throw new ImageryError(`GeoTIFF ${path} has ${spp} band(s); band ${s + 1} in "bands" does not exist`);
  }

  const nodata = spec.nodata ?? image.getGDALNoData() ?? undefined;
  const eightBit = samples.every((s) => image.getBitsPerSample(s) === 8 && image.getSampleFormat(s) === 1);
  let stretch: Stretch[] | undefined;
  if (spec.range) stretch = samples.map(() => ({ lo: spec.range![0], hi: spec.range![1] }));
  else if (!eightBit) stretch = await percentileStretch(levels[levels.length - 1], samples, nodata);

  return new GeoTiffSource(
    tiff,
    path,
    crs,
    affine,
    levels,
    samples,
    alphaSample,
    nodata,
    stretch,
    spec.id,
    spec.attribution,
  );
}
