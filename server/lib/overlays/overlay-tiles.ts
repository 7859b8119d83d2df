/**
 * Overlay tiles of a project, rendered on demand and kept in a byte-bounded LRU. Entries are keyed by the
 * project's overlay version (its latest job and how far it got), so a running job never serves stale
 * tiles and a finished one is rendered once. The version is also the tiles' ETag.
 */
import type { DatabaseHandle } from '../db/client.ts';
import { latestJobOf } from '../db/jobs-repo.ts';
import { iterateOverlayCells } from '../db/tile-scores-repo.ts';
import { tilesCoveringBBox, type BBox } from '../geo/tiles.ts';
import { CONFIDENCE_SCALE } from './colour-scales.ts';
import { confidenceSpread, regionConfidenceScale, type ConfidenceSpread } from './confidence-spread.ts';
import { OVERLAY_LAYER_DEFS, type OverlayLayer, type OverlayLayerDef } from './layers.ts';
import { rangesOverlap, scoringRange } from './overlay-grid.ts';
import { encodeOverlayPng, rasterizeCells, transparentPng } from './rasterize.ts';
import { buildVectorTile, type ProjectGrid } from './vector-tiles.ts';

/**
 * What the overlays of a project look like now, as a short string: the latest scoring job and how far it
 * got. Tiles only ever gain rows while a job runs, so equal versions mean equal tiles; it is the ETag and
 * the cache key. Projects whose tiles were written without a job (imports) are version "static".
 */
export async function overlayVersion(
  db: DatabaseHandle,
  projectId: number,
): Promise<{ version: string; final: boolean }> {
  const job = await latestJobOf(db, projectId);
  if (!job) return { version: 'static', final: true };
  const final = job.status === 'done' || job.status === 'failed' || job.status === 'cancelled';
  return { version: `j${job.id}-${job.done}-${job.status}`, final };
}

/** Bumped when colours or encodings change, so browsers drop tiles drawn the old way. */
export const OVERLAY_STYLE_VERSION = 2;

/**
 * The token tile URLs carry as `?v=`: the style version and the project's overlay version. A URL with
 * the current token of a finished job names tiles that will never change, so they may be cached hard.
 */
export async function tileUrlVersion(
  db: DatabaseHandle,
  projectId: number,
): Promise<{ version: string; final: boolean }> {
  const v = await overlayVersion(db, projectId);
  return { version: `s${OVERLAY_STYLE_VERSION}-${v.version}`, final: v.final };
}

export interface OverlayProject extends ProjectGrid {
  bbox: BBox;
}

export interface OverlayTile {
  body: Uint8Array;
  contentType: 'image/png' | 'application/vnd.mapbox-vector-tile';
  /** Quoted, ready for the ETag header. */
  etag: string;
  /** The project's latest job has ended: the tile cannot change until a new job starts. */
  final: boolean;
  /** Scoring tiles drawn; 0 for an empty tile. */
  cells: number;
  cached: boolean;
}

export interface OverlayTileServiceOptions {
  /** Bytes of encoded tiles kept in memory; a z10 priority tile of a dense project is ~1–20 KB. */
  cacheBytes?: number;
}

export class OverlayTileService {
  private readonly cache = new Map<string, Omit<OverlayTile, 'cached' | 'final'>>();
  private bytes = 0;
  private readonly cacheBytes: number;
  /** The last spread computed per project, with the overlay version it belongs to (one pass per version). */
  private readonly spreads = new Map<number, { version: string; spread: ConfidenceSpread }>();

  constructor(
    private readonly db: DatabaseHandle,
    options: OverlayTileServiceOptions = {},
  ) {
    this.cacheBytes = options.cacheBytes ?? 32 * 1024 * 1024;
  }

  /** The ETag a tile of this project would have now, without rendering it (answers If-None-Match). */
  async etag(projectId: number, kind: string): Promise<{ etag: string; final: boolean; version: string }> {
    const version = await this.version(projectId);
    return { etag: `"${kind}-${version.version}"`, final: version.final, version: version.version };
  }

  /** See tileUrlVersion. */
  async version(projectId: number): Promise<{ version: string; final: boolean }> {
    return await tileUrlVersion(this.db, projectId);
  }

  /** How doubtful the project's region is as a whole (confidence-spread.ts), for the current version. */
  async confidenceSpread(project: OverlayProject): Promise<ConfidenceSpread> {
    const { version } = await this.version(project.id);
    const hit = this.spreads.get(project.id);
    if (hit?.version === version) return hit.spread;
    const range = tilesCoveringBBox(project.bbox, project.zoom);
    const spread = await confidenceSpread(iterateOverlayCells(this.db, project.id, project.zoom, range));
    this.spreads.set(project.id, { version, spread });
    return spread;
  }

  /** The layer as drawn for this project: confidence on the region's own scale where the region is doubtful. */
  async layerDef(project: OverlayProject, layer: OverlayLayer): Promise<OverlayLayerDef> {
    return drawnLayerDef(layer, layer === 'confidence' ? await this.confidenceSpread(project) : null);
  }

  async raster(
    project: OverlayProject,
    layer: OverlayLayer,
    z: number,
    x: number,
    y: number,
  ): Promise<OverlayTile> {
    const { etag, final } = await this.etag(project.id, layer);
    const key = `${project.id}/${layer}/${z}/${x}/${y}/${etag}`;
    const hit = this.get(key);
    if (hit) return { ...hit, final, cached: true };

    const range = scoringRange(z, x, y, project.zoom);
    let body: Uint8Array;
    let cells = 0;
    if (!rangesOverlap(range, tilesCoveringBBox(project.bbox, project.zoom))) {
      body = await transparentPng();
    } else {
      const r = await rasterizeCells(
        await this.layerDef(project, layer),
        range,
        iterateOverlayCells(this.db, project.id, project.zoom, range),
      );
      cells = r.cells;
      body = cells === 0 ? await transparentPng() : await encodeOverlayPng(r.rgba);
    }
    const tile = { body, contentType: 'image/png' as const, etag, cells };
    this.put(key, tile);
    return { ...tile, final, cached: false };
  }

  async vector(project: OverlayProject, z: number, x: number, y: number): Promise<OverlayTile> {
    const { etag, final } = await this.etag(project.id, 'mvt');
    const key = `${project.id}/mvt/${z}/${x}/${y}/${etag}`;
    const hit = this.get(key);
    if (hit) return { ...hit, final, cached: true };
    const v = await buildVectorTile(this.db, project, z, x, y);
    const tile = {
      body: v.bytes,
      contentType: 'application/vnd.mapbox-vector-tile' as const,
      etag,
      cells: v.tiles,
    };
    this.put(key, tile);
    return { ...tile, final, cached: false };
  }

  private get(key: string) {
    const hit = this.cache.get(key);
    if (hit) {
      // Re-inserting moves the entry to the young end of the Map's insertion order.
      this.cache.delete(key);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private put(key: string, tile: Omit<OverlayTile, 'cached' | 'final'>): void {
    if (tile.body.length > this.cacheBytes) return;
    this.cache.set(key, tile);
    this.bytes += tile.body.length;
    for (const [k, v] of this.cache) {
      if (this.bytes <= this.cacheBytes) break;
      this.cache.delete(k);
      this.bytes -= v.body.length;
    }
  }

  get cachedBytes(): number {
    return this.bytes;
  }
}

/** A layer as drawn over a region of this confidence spread (confidence-spread.ts; null: not known yet). */
export function drawnLayerDef(layer: OverlayLayer, spread: ConfidenceSpread | null): OverlayLayerDef {
  const def = OVERLAY_LAYER_DEFS[layer];
  if (layer !== 'confidence' || !spread) return def;
  const scale = regionConfidenceScale(CONFIDENCE_SCALE, spread);
  return scale === def.scale ? def : { ...def, scale };
}
