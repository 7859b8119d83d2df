/**
 * Overviews: tiles below an imagery source's own zoom range, built from its native tiles.
 *
 * Imagery made for MapSwipe often exists at one zoom only (the demo world's at z18), yet the map opens
 * zoomed out on a whole project. A tile at zoom z is the 2 × 2 mosaic of its children at z + 1, shrunk to
 * 256 px, built recursively down to the native zoom, so each level costs four reads and one resize of
 * tiles that are themselves cached. Built tiles are kept on disk per registered source (its id never
 * changes meaning), so a zoomed-out view is built once and then served as files.
 *
 * Only `OVERVIEW_LEVELS` levels are offered: a tile that far out stands for 4^6 = 4,096 native tiles,
 * beyond which building one costs more than a map view is worth. The map is told this range
 * (`overviewMinZoom`), so it asks for nothing further out.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ImagerySource, TileFetch } from './source.ts';

export const OVERVIEW_LEVELS = 6;
const TILE = 256;

/** The lowest zoom a source is offered at, overviews included. */
export function overviewMinZoom(nativeMinZoom: number): number {
  return Math.max(0, nativeMinZoom - OVERVIEW_LEVELS);
}

type Built = { kind: 'jpg' | 'png'; bytes: Uint8Array } | { kind: 'none' };

export interface OverviewOptions {
  /** Folder for built tiles; nothing is written when absent (tests, read-only deployments). */
  cacheDir?: string;
}

/**
 * The source with overviews added below its native minimum zoom. Tiles at or above it pass straight
 * through, so scoring (always at a native zoom) sees the source unchanged.
 */
export class OverviewSource implements ImagerySource {
  readonly id: string;
  readonly kind: ImagerySource['kind'];
  readonly attribution?: string;
  readonly bounds?: ImagerySource['bounds'];
  readonly extents?: ImagerySource['extents'];
  readonly warnings?: ImagerySource['warnings'];
  readonly minZoom: number;
  readonly maxZoom: number;
  readonly overviewMinZoom: number;
  private readonly building = new Map<string, Promise<Built>>();

  constructor(
    readonly inner: ImagerySource,
    private readonly options: OverviewOptions = {},
  ) {
    this.id = inner.id;
    this.kind = inner.kind;
    if (inner.attribution !== undefined) this.attribution = inner.attribution;
    if (inner.bounds !== undefined) this.bounds = inner.bounds;
    if (inner.extents !== undefined) this.extents = inner.extents;
    if (inner.warnings !== undefined) this.warnings = inner.warnings;
    this.minZoom = inner.minZoom;
    this.maxZoom = inner.maxZoom;
    this.overviewMinZoom = overviewMinZoom(inner.minZoom);
  }

  async getTile(z: number, x: number, y: number, signal?: AbortSignal): Promise<TileFetch> {
    if (z >= this.inner.minZoom) return this.inner.getTile(z, x, y, signal);
    if (z < this.overviewMinZoom) {
      return {
        status: 'missing',
        reason: `zoom ${z} is below the lowest overview (${this.overviewMinZoom}) of a source that starts at zoom ${this.inner.minZoom}`,
      };
    }
    signal?.throwIfAborted();
    // Not aborted with the request: the tile goes to the cache either way, and another viewer may be waiting on it.
    const built = await this.overview(z, x, y);
    // No imagery under the tile is drawn as what it is, a see-through tile, like the empty parts of an edge
    // tile: a map showing the imagery's bounding box asks for such tiles and should not log them as errors.
    if (built.kind === 'none') return { status: 'ok', bytes: await emptyTile(), contentType: 'image/png' };
    return {
      status: 'ok',
      bytes: built.bytes,
      contentType: built.kind === 'jpg' ? 'image/jpeg' : 'image/png',
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private overview(z: number, x: number, y: number): Promise<Built> {
    const key = `${z}/${x}/${y}`;
    let p = this.building.get(key);
    if (!p) {
      // One build per tile at a time: a map asking twice, or two browsers, share it.
      p = this.readOrBuild(z, x, y).finally(() => this.building.delete(key));
      this.building.set(key, p);
    }
    return p;
  }

  private async readOrBuild(z: number, x: number, y: number): Promise<Built> {
    const cached = await this.readCache(z, x, y);
    if (cached) return cached;
    const built = await this.build(z, x, y);
    await this.writeCache(z, x, y, built);
    return built;
  }

  private async build(z: number, x: number, y: number): Promise<Built> {
    // The children as raw RGBA, averaged 2 × 2 straight into the parent: four decodes and one encode per
    // tile, where compositing and resizing in sharp would encode and decode twice more.
    const out = new Uint8Array(TILE * TILE * 4);
    let found = 0;
    // Children one after the other: the recursion then holds at most one child per level in memory, and
    // two cores gain nothing from more reads in flight.
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) {
        const child = await this.childPixels(z + 1, 2 * x + dx, 2 * y + dy);
        if (!child) continue;
        found++;
        shrinkInto(child, out, dx * (TILE / 2), dy * (TILE / 2));
      }
    }
    if (found === 0) return { kind: 'none' };
    const raw = { raw: { width: TILE, height: TILE, channels: 4 as const } };
    // Full tiles as JPEG like the native ones; a tile at the imagery's edge (a missing or see-through
    // child, at any depth below) keeps its transparency, or the map would draw black beside the imagery.
    return isOpaque(out)
      ? { kind: 'jpg', bytes: await sharp(out, raw).removeAlpha().jpeg({ quality: 85 }).toBuffer() }
      : { kind: 'png', bytes: await sharp(out, raw).png().toBuffer() };
  }

  /** A child as 256 × 256 RGBA pixels, or null where there is no imagery. */
  private async childPixels(z: number, x: number, y: number): Promise<Uint8Array | null> {
    if (z < this.inner.minZoom) {
      // A child overview: its built form says whether there is imagery at all, without decoding an empty tile.
      const built = await this.overview(z, x, y);
      if (built.kind === 'none') return null;
      return sharp(built.bytes).ensureAlpha().raw().toBuffer();
    }
    const tile = await this.inner.getTile(z, x, y);
    if (tile.status !== 'ok') return null;
    try {
      return await sharp(tile.bytes).resize(TILE, TILE, { fit: 'fill' }).ensureAlpha().raw().toBuffer();
    } catch {
      // An undecodable native tile is left out like a missing one; the scoring job reports it per tile.
      return null;
    }
  }

  private path(z: number, x: number, y: number, ext: string): string | undefined {
    return this.options.cacheDir
      ? join(this.options.cacheDir, String(z), String(x), `${y}.${ext}`)
      : undefined;
  }

  private async readCache(z: number, x: number, y: number): Promise<Built | undefined> {
    for (const kind of ['jpg', 'png', 'none'] as const) {
      const path = this.path(z, x, y, kind);
      if (!path) return undefined;
      try {
        const bytes = await readFile(path);
        return kind === 'none' ? { kind } : { kind, bytes };
      } catch {
        /* not built yet */
      }
    }
    return undefined;
  }

  private async writeCache(z: number, x: number, y: number, built: Built): Promise<void> {
    const path = this.path(z, x, y, built.kind);
    if (!path) return;
    try {
      await mkdir(join(path, '..'), { recursive: true });
      // Written under a temporary name and renamed, so a reader never sees half a tile.
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, built.kind === 'none' ? new Uint8Array() : built.bytes);
      await rename(tmp, path);
    } catch {
      /* a cache that cannot be written only costs a rebuild next time */
    }
  }
}

let empty: Promise<Uint8Array> | undefined;

/** A fully transparent 256 × 256 PNG, made once. */
function emptyTile(): Promise<Uint8Array> {
  empty ??= sharp({
    create: { width: TILE, height: TILE, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
  })
    .png()
    .toBuffer();
  return empty;
}

/**
 * Averages each 2 × 2 block of a 256 × 256 RGBA child into one pixel of the parent's quarter at (left, top).
 * Colours are weighted by alpha, so a half-covered block keeps the colour of its covered half.
 */
function shrinkInto(child: Uint8Array, out: Uint8Array, left: number, top: number): void {
  const half = TILE / 2;
  for (let py = 0; py < half; py++) {
    for (let px = 0; px < half; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let k = 0; k < 4; k++) {
        const i = ((2 * py + (k >> 1)) * TILE + 2 * px + (k & 1)) * 4;
        const w = child[i + 3];
        r += child[i] * w;
        g += child[i + 1] * w;
        b += child[i + 2] * w;
        a += w;
      }
      const o = ((top + py) * TILE + left + px) * 4;
      if (a === 0) continue;
      out[o] = Math.round(r / a);
      out[o + 1] = Math.round(g / a);
      out[o + 2] = Math.round(b / a);
      out[o + 3] = Math.round(a / 4);
    }
  }
}

function isOpaque(rgba: Uint8Array): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return false;
  return true;
}
