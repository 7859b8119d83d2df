/**
 * Imagery from a local PMTiles archive of raster tiles (JPEG, PNG or WebP).
 *
 * A damaged archive is caught twice: the header and directories are checked when it opens, and a
 * tile whose bytes cannot be read (truncation past the directories) or are not an image becomes
 * an 'error' or 'undecodable' result for that tile alone.
 */
import { basename } from 'node:path';
import { Compression, TileType } from 'pmtiles';
import { openPMTiles, PMTilesError, type PMTilesArchive } from '../pmtiles/file-source.ts';
import type { BBox } from '../geo/tiles.ts';
import {
  describeLeadingBytes,
  ImageryError,
  invalidTile,
  isValidTile,
  sniffImageType,
  throwIfAborted,
  type ImagerySource,
  type PMTilesSpec,
  type TileFetch,
} from './source.ts';

const RASTER_TYPES = new Set([TileType.Jpeg, TileType.Png, TileType.Webp, TileType.Unknown]);

export class PMTilesSource implements ImagerySource {
  readonly kind = 'pmtiles' as const;
  readonly id: string;
  readonly attribution?: string;
  readonly bounds?: BBox;
  readonly minZoom: number;
  readonly maxZoom: number;

  constructor(
    private readonly archive: PMTilesArchive,
    id?: string,
  ) {
    const h = archive.header;
    this.id = id ?? `pmtiles:${basename(archive.path)}`;
    this.minZoom = h.minZoom;
    this.maxZoom = h.maxZoom;
    const hasBounds = h.minLon < h.maxLon && h.minLat < h.maxLat;
    this.bounds = hasBounds ? [h.minLon, h.minLat, h.maxLon, h.maxLat] : undefined;
    const attribution = archive.metadata.attribution;
    this.attribution = typeof attribution === 'string' ? attribution : undefined;
  }

  async getTile(z: number, x: number, y: number, signal?: AbortSignal): Promise<TileFetch> {
    if (!isValidTile(z, x, y)) return invalidTile(z, x, y);
    throwIfAborted(signal);
    if (z < this.minZoom || z > this.maxZoom)
      return {
        status: 'missing',
        reason: `zoom ${z} is outside ${this.id}'s zoom range ${this.minZoom}..${this.maxZoom}`,
      };
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.archive.getTile(z, x, y);
    } catch (err) {
      // Messages name the archive by its file name (opened so), never by its server path.
      if (err instanceof PMTilesError) return { status: 'error', reason: err.message };
      throw err;
    }
    if (!bytes || bytes.length === 0)
      return { status: 'missing', reason: `${this.id} holds no tile ${z}/${x}/${y}` };
    const type = sniffImageType(bytes);
    if (!type) {
      return {
        status: 'undecodable',
        reason: `${this.id} tile ${z}/${x}/${y} is not JPEG, PNG or WebP (${describeLeadingBytes(bytes)})`,
      };
    }
    return { status: 'ok', bytes, contentType: type };
  }

  close(): Promise<void> {
    return this.archive.close();
  }
}

export async function openPMTilesSource(spec: PMTilesSpec): Promise<PMTilesSource> {
  let archive: PMTilesArchive;
  try {
    archive = await openPMTiles(spec.path, { name: basename(spec.path) });
  } catch (err) {
    if (err instanceof PMTilesError) throw new ImageryError(err.message);
    throw err;
  }
  const { tileType, tileCompression } = archive.header;
  if (!RASTER_TYPES.has(tileType)) {
    await archive.close();
    throw new ImageryError(
      `${basename(spec.path)} holds ${TileType[tileType] ?? `type-${tileType}`} tiles, not raster imagery; give an archive of JPEG, PNG or WebP tiles`,
    );
  }
  if (tileCompression !== Compression.None && tileCompression !== Compression.Unknown) {
    await archive.close();
    throw new ImageryError(
      `${basename(spec.path)} compresses its image tiles with ${Compression[tileCompression]}; image tiles are stored uncompressed, so rebuild the archive with tile compression none`,
    );
  }
  return new PMTilesSource(archive, spec.id);
}
