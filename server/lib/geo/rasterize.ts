/**
 * Polygon rasterisation onto a tile grid: scanline, even-odd rule, pixel-centre sampling.
 * A pixel (i, j) is inside when its centre (i + 0.5, j + 0.5) is inside the polygon, so a
 * polygon edge lying exactly on a pixel boundary claims the pixels on one side only.
 *
 * `FootprintIndex` holds building footprints (GeoJSON, as OSM exports give them) indexed by the
 * zoom-18 tiles their bounding boxes touch, so a tile's ground-truth mask is built from the few
 * features near it.
 */
import { readFileSync } from 'node:fs';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import { lonLatToTile, lonLatToWorldPixel, tileKey, type BBox, type TileCoord } from './tiles.ts';
import { TilelensError } from '../errors.ts';

export type PixelRing = ReadonlyArray<readonly [number, number]> | ReadonlyArray<ReadonlyArray<number>>;

/**
 * Calls `span(row, x0, x1)` for every run of inside pixels [x0, x1) of one polygon (outer ring
 * plus holes, even-odd), clipped to a size×size grid. The painter and the mask rasteriser share it.
 */
export function forEachPolygonSpan(
  rings: ReadonlyArray<PixelRing>,
  size: number,
  span: (row: number, x0: number, x1: number) => void,
  height = size,
): void {
  let minY = Infinity;
  let maxY = -Infinity;
  let edgeCount = 0;
  for (const ring of rings) {
    for (const p of ring) {
      if (p[1] < minY) minY = p[1];
      if (p[1] > maxY) maxY = p[1];
    }
    edgeCount += ring.length;
  }
  if (edgeCount === 0) return;
  // Rows whose centre lies in [minY, maxY]; others cannot cross any edge.
  const rowStart = Math.max(0, Math.ceil(minY - 0.5));
  const rowEnd = Math.min(height - 1, Math.floor(maxY - 0.5));
  if (rowStart > rowEnd) return;

  // Flatten edges once so the scanline loop touches typed arrays only.
  const ex0 = new Float64Array(edgeCount);
  const ey0 = new Float64Array(edgeCount);
  const ex1 = new Float64Array(edgeCount);
  const ey1 = new Float64Array(edgeCount);
  let e = 0;
  for (const ring of rings) {
    const n = ring.length;
    for (let i = 0; i < n; i++) {
      const a = ring[i];
      const b = ring[(i + 1) % n];
      if (a[1] === b[1]) continue; // horizontal edges never cross a scanline's centre
      ex0[e] = a[0];
      ey0[e] = a[1];
      ex1[e] = b[0];
      ey1[e] = b[1];
      e++;
    }
  }
  const xs = new Float64Array(e);
  for (let row = rowStart; row <= rowEnd; row++) {
    const yc = row + 0.5;
    let k = 0;
    for (let i = 0; i < e; i++) {
      // Half-open test counts a vertex on the scanline once, for the edge above or below it.
      if (ey0[i] <= yc !== ey1[i] <= yc) {
        xs[k++] = ex0[i] + ((yc - ey0[i]) * (ex1[i] - ex0[i])) / (ey1[i] - ey0[i]);
      }
    }
    if (k < 2) continue;
    const crossings = xs.subarray(0, k).sort();
    for (let i = 0; i + 1 < k; i += 2) {
      const x0 = Math.max(0, Math.ceil(crossings[i] - 0.5));
      const x1 = Math.min(size, Math.ceil(crossings[i + 1] - 0.5));
      if (x1 > x0) span(row, x0, x1);
    }
  }
}

/** Sets `out[row*size+col] = value` for every pixel inside the polygon (rings in pixel space). */
export function fillPolygonPixels(
  rings: ReadonlyArray<PixelRing>,
  size: number,
  out: Uint8Array,
  value = 1,
): void {
  forEachPolygonSpan(rings, size, (row, x0, x1) => out.fill(value, row * size + x0, row * size + x1));
}

/** A polygon's rings in the tile's pixel space (origin at the tile's top-left corner). */
export function ringsToTilePixels(
  rings: Position[][],
  tile: TileCoord,
  size = 256,
): Array<Array<[number, number]>> {
  const ox = tile.x * size;
  const oy = tile.y * size;
  return rings.map((ring) =>
    ring.map((p) => {
      const [px, py] = lonLatToWorldPixel(p[0], p[1], tile.z, size);
      return [px - ox, py - oy] as [number, number];
    }),
  );
}

/**
 * 0/1 mask of a tile covered by lon/lat polygons. Each polygon is filled on its own (even-odd
 * inside it, so holes stay empty) and OR-ed in, so overlapping buildings do not cancel out.
 */
export function rasterizePolygons(
  polygons: ReadonlyArray<Polygon | MultiPolygon>,
  tile: TileCoord,
  size = 256,
  out: Uint8Array = new Uint8Array(size * size),
): Uint8Array {
  for (const geom of polygons) {
    const parts = geom.type === 'Polygon' ? [geom.coordinates] : geom.coordinates;
    for (const rings of parts) fillPolygonPixels(ringsToTilePixels(rings, tile, size), size, out, 1);
  }
  return out;
}

export class FootprintError extends TilelensError {
  override name = 'FootprintError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('footprints', message, { status: 422, cause: options?.cause });
  }
}

export type FootprintFeature = Feature<Polygon | MultiPolygon>;

export interface FootprintIndexOptions {
  /** Zoom of the index grid; queries at other zooms are answered through it. */
  indexZoom?: number;
  /** Shown in error messages: the file or source the features came from. */
  source?: string;
}

function geometryBBox(g: Polygon | MultiPolygon): BBox {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  const parts = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  for (const rings of parts) {
    for (const p of rings[0] ?? []) {
      if (p[0] < w) w = p[0];
      if (p[0] > e) e = p[0];
      if (p[1] < s) s = p[1];
      if (p[1] > n) n = p[1];
    }
  }
  return [w, s, e, n];
}

export class FootprintIndex {
  readonly features: FootprintFeature[];
  readonly indexZoom: number;
  private readonly byTile = new Map<string, number[]>();

  constructor(features: FootprintFeature[], options: FootprintIndexOptions = {}) {
    this.features = features;
    this.indexZoom = options.indexZoom ?? 18;
    const z = this.indexZoom;
    features.forEach((f, i) => {
      const [w, s, e, n] = geometryBBox(f.geometry);
      if (!Number.isFinite(w)) return;
      const nw = lonLatToTile(w, n, z);
      const se = lonLatToTile(e, s, z);
      for (let y = nw.y; y <= se.y; y++) {
        for (let x = nw.x; x <= se.x; x++) {
          const key = tileKey(z, x, y);
          const list = this.byTile.get(key);
          if (list) list.push(i);
          else this.byTile.set(key, [i]);
        }
      }
    });
  }

  /** Validates a parsed GeoJSON value and keeps its Polygon / MultiPolygon features. */
  static fromGeoJSON(value: unknown, options: FootprintIndexOptions = {}): FootprintIndex {
    const source = options.source ?? 'footprints';
    const v = value as Partial<FeatureCollection> | null;
    if (!v || typeof v !== 'object' || v.type !== 'FeatureCollection' || !Array.isArray(v.features)) {
      const found =
        v && typeof v === 'object'
          ? `an object of type "${String((v as { type?: unknown }).type)}"`
          : typeof v;
      throw new FootprintError(
        `${source} is not a GeoJSON FeatureCollection (found ${found}); export building footprints as a FeatureCollection of Polygon features`,
      );
    }
    const kept: FootprintFeature[] = [];
    const skipped = new Map<string, number>();
    for (const f of v.features) {
      const t = f?.geometry?.type;
      if (t === 'Polygon' || t === 'MultiPolygon') kept.push(f as FootprintFeature);
      else skipped.set(String(t), (skipped.get(String(t)) ?? 0) + 1);
    }
    if (kept.length === 0 && v.features.length > 0) {
      const found = [...skipped].map(([t, n]) => `${n} ${t}`).join(', ');
      throw new FootprintError(
        `${source} holds no Polygon or MultiPolygon features (found ${found}); building footprints must be polygons`,
      );
    }
    return new FootprintIndex(kept, options);
  }

  /** Synchronous on purpose: callers load the ground truth once, before streaming tiles. */
  static fromFile(path: string, options: Omit<FootprintIndexOptions, 'source'> = {}): FootprintIndex {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new FootprintError(`cannot read footprints file ${path}: ${(err as Error).message}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new FootprintError(
        `${path} is not JSON (${(err as Error).message}); pass a GeoJSON FeatureCollection`,
      );
    }
    return FootprintIndex.fromGeoJSON(value, { ...options, source: path });
  }

  get size(): number {
    return this.features.length;
  }

  /** Features whose bounding box touches the tile (a superset of those that cover a pixel). */
  featuresForTile(z: number, x: number, y: number): FootprintFeature[] {
    const iz = this.indexZoom;
    let ids: Iterable<number>;
    if (z >= iz) {
      const shift = 2 ** (z - iz);
      ids = this.byTile.get(tileKey(iz, Math.floor(x / shift), Math.floor(y / shift))) ?? [];
    } else {
      const scale = 2 ** (iz - z);
      const set = new Set<number>();
      for (let yy = y * scale; yy < (y + 1) * scale; yy++) {
        for (let xx = x * scale; xx < (x + 1) * scale; xx++) {
          for (const i of this.byTile.get(tileKey(iz, xx, yy)) ?? []) set.add(i);
        }
      }
      ids = [...set].sort((a, b) => a - b);
    }
    return [...ids].map((i) => this.features[i]);
  }

  maskForTile(z: number, x: number, y: number, size = 256): Uint8Array {
    const tile: TileCoord = { z, x, y };
    return rasterizePolygons(
      this.featuresForTile(z, x, y).map((f) => f.geometry),
      tile,
      size,
    );
  }
}
