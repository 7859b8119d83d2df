/**
 * Streaming PMTiles v3 writer (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md).
 *
 * Tile bytes go to a sibling temporary file as they arrive; only the directory entries (a few
 * numbers per tile) and one hash per distinct tile stay in memory. `finish` writes header, root
 * directory, metadata and leaf directories into the target, then appends the tile data.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { zxyToTileId } from './tile-id.ts';
import { TilelensError } from '../errors.ts';
import type { BBox } from '../geo/tiles.ts';

export const HEADER_BYTES = 127;
/** The spec lets a client fetch header + root in one 16 KiB request. */
export const ROOT_DIRECTORY_LIMIT = 16384 - HEADER_BYTES;

export type PMTilesTileType = 'mvt' | 'png' | 'jpeg' | 'webp' | 'avif';
export type InternalCompression = 'none' | 'gzip';

const TILE_TYPE_CODE: Record<PMTilesTileType, number> = { mvt: 1, png: 2, jpeg: 3, webp: 4, avif: 5 };
const COMPRESSION_CODE: Record<InternalCompression, number> = { none: 1, gzip: 2 };

export class PMTilesWriteError extends TilelensError {
  override name = 'PMTilesWriteError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('pmtiles-write', message, { status: 500, cause: options?.cause });
  }
}

export interface PMTilesWriterOptions {
  tileType: PMTilesTileType;
  /** Compression of directories and metadata (tiles are stored as given). Default gzip. */
  internalCompression?: InternalCompression;
  /** Compression already applied to the tile bytes, e.g. gzip for MVT. Default none. */
  tileCompression?: InternalCompression;
  /** Store identical tile bytes once. Default true. */
  dedupe?: boolean;
}

export interface PMTilesFinishOptions {
  minZoom?: number;
  maxZoom?: number;
  /** [west, south, east, north] in degrees. */
  bounds?: BBox;
  /** [lon, lat, zoom]. */
  center?: [number, number, number];
  metadata?: Record<string, unknown>;
}

export interface PMTilesWriteSummary {
  path: string;
  bytes: number;
  addressedTiles: number;
  tileEntries: number;
  tileContents: number;
  leafDirectories: number;
  rootDirectoryBytes: number;
  clustered: boolean;
}

export interface DirectoryEntry {
  tileId: number;
  offset: number;
  length: number;
  runLength: number;
}

function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Columnar directory encoding from the spec: count, id deltas, run lengths, lengths, offsets. */
export function serializeDirectory(
  entries: ReadonlyArray<DirectoryEntry>,
  compression: InternalCompression,
): Uint8Array {
  const out: number[] = [];
  pushVarint(out, entries.length);
  let last = 0;
  for (const e of entries) {
    pushVarint(out, e.tileId - last);
    last = e.tileId;
  }
  for (const e of entries) pushVarint(out, e.runLength);
  for (const e of entries) pushVarint(out, e.length);
  entries.forEach((e, i) => {
    const prev = entries[i - 1];
    // 0 means "right after the previous entry", which makes clustered archives compress well.
    if (i > 0 && e.offset === prev.offset + prev.length) pushVarint(out, 0);
    else pushVarint(out, e.offset + 1);
  });
  const raw = Uint8Array.from(out);
  return compression === 'gzip' ? new Uint8Array(gzipSync(raw)) : raw;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Root directory alone when it fits; otherwise leaves of `leafSize` entries with the root
 * pointing at them, growing the leaves until the root fits (the approach of go-pmtiles).
 */
export function buildDirectories(
  entries: ReadonlyArray<DirectoryEntry>,
  compression: InternalCompression,
): { root: Uint8Array; leaves: Uint8Array; leafCount: number } {
  const root = serializeDirectory(entries, compression);
  if (root.length <= ROOT_DIRECTORY_LIMIT) return { root, leaves: new Uint8Array(0), leafCount: 0 };
  let leafSize = 4096;
  for (;;) {
    const rootEntries: DirectoryEntry[] = [];
    const leafParts: Uint8Array[] = [];
    let offset = 0;
    for (let i = 0; i < entries.length; i += leafSize) {
      const chunk = entries.slice(i, i + leafSize);
      const leaf = serializeDirectory(chunk, compression);
      rootEntries.push({ tileId: chunk[0].tileId, offset, length: leaf.length, runLength: 0 });
      leafParts.push(leaf);
      offset += leaf.length;
    }
    const rootBytes = serializeDirectory(rootEntries, compression);
    if (rootBytes.length <= ROOT_DIRECTORY_LIMIT) {
      return { root: rootBytes, leaves: concat(leafParts), leafCount: leafParts.length };
    }
    leafSize = Math.ceil(leafSize * 1.2);
  }
}

function writeU64(view: DataView, at: number, value: number): void {
  view.setBigUint64(at, BigInt(value), true);
}

interface HeaderFields {
  rootOffset: number;
  rootLength: number;
  metadataOffset: number;
  metadataLength: number;
  leafOffset: number;
  leafLength: number;
  dataOffset: number;
  dataLength: number;
  addressedTiles: number;
  tileEntries: number;
  tileContents: number;
  clustered: boolean;
  internalCompression: number;
  tileCompression: number;
  tileType: number;
  minZoom: number;
  maxZoom: number;
  bounds: BBox;
  center: [number, number, number];
}

function encodeHeader(h: HeaderFields): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode('PMTiles'), 0);
  bytes[7] = 3;
  writeU64(view, 8, h.rootOffset);
  writeU64(view, 16, h.rootLength);
  writeU64(view, 24, h.metadataOffset);
  writeU64(view, 32, h.metadataLength);
  writeU64(view, 40, h.leafOffset);
  writeU64(view, 48, h.leafLength);
  writeU64(view, 56, h.dataOffset);
  writeU64(view, 64, h.dataLength);
  writeU64(view, 72, h.addressedTiles);
  writeU64(view, 80, h.tileEntries);
  writeU64(view, 88, h.tileContents);
  bytes[96] = h.clustered ? 1 : 0;
  bytes[97] = h.internalCompression;
  bytes[98] = h.tileCompression;
  bytes[99] = h.tileType;
  bytes[100] = h.minZoom;
  bytes[101] = h.maxZoom;
  const e7 = (deg: number) => Math.round(deg * 1e7);
  view.setInt32(102, e7(h.bounds[0]), true);
  view.setInt32(106, e7(h.bounds[1]), true);
  view.setInt32(110, e7(h.bounds[2]), true);
  view.setInt32(114, e7(h.bounds[3]), true);
  bytes[118] = h.center[2];
  view.setInt32(119, e7(h.center[0]), true);
  view.setInt32(123, e7(h.center[1]), true);
  return bytes;
}

export class PMTilesWriter {
  readonly path: string;
  private readonly options: Required<PMTilesWriterOptions>;
  private readonly tmpPath: string;
  private data: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private dataLength = 0;
  private readonly entries: DirectoryEntry[] = [];
  private readonly contentByHash = new Map<string, { offset: number; length: number }>();
  private contents = 0;
  private lastTileId = -1;
  private inOrder = true;
  private minZoomSeen = Infinity;
  private maxZoomSeen = -Infinity;
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private pending: Promise<void> = Promise.resolve();

  constructor(path: string, options: PMTilesWriterOptions) {
    if (!(options.tileType in TILE_TYPE_CODE)) {
      throw new PMTilesWriteError(
        `tile type "${options.tileType}" is not one of ${Object.keys(TILE_TYPE_CODE).join(', ')}`,
      );
    }
    this.path = path;
    this.tmpPath = `${path}.tiledata.tmp`;
    this.options = { internalCompression: 'gzip', tileCompression: 'none', dedupe: true, ...options };
  }

  private handle(): Promise<FileHandle> {
    this.opening ??= open(this.tmpPath, 'w').then((h) => (this.data = h));
    return this.opening;
  }

  /** Appends a tile. Calls are serialised, so callers may fire several without awaiting each. */
  addTile(z: number, x: number, y: number, bytes: Uint8Array): Promise<void> {
    if (this.state !== 'open') {
      return Promise.reject(
        new PMTilesWriteError(`cannot add tile ${z}/${x}/${y}: ${this.path} is already ${this.state}`),
      );
    }
    const tileId = zxyToTileId(z, x, y);
    if (bytes.length === 0) {
      return Promise.reject(
        new PMTilesWriteError(`tile ${z}/${x}/${y} is empty; leave empty tiles out of the archive`),
      );
    }
    const run = this.pending.then(() => this.append(tileId, z, bytes));
    this.pending = run.catch(() => undefined);
    return run;
  }

  private async append(tileId: number, z: number, bytes: Uint8Array): Promise<void> {
    if (tileId <= this.lastTileId) this.inOrder = false;
    this.lastTileId = Math.max(this.lastTileId, tileId);
    this.minZoomSeen = Math.min(this.minZoomSeen, z);
    this.maxZoomSeen = Math.max(this.maxZoomSeen, z);
    let where: { offset: number; length: number } | undefined;
    let hash: string | undefined;
    if (this.options.dedupe) {
      hash = createHash('sha1').update(bytes).digest('base64');
      where = this.contentByHash.get(hash);
    }
    if (!where) {
      const fh = await this.handle();
      await fh.write(bytes, 0, bytes.length, this.dataLength);
      where = { offset: this.dataLength, length: bytes.length };
      this.dataLength += bytes.length;
      this.contents++;
      if (hash) this.contentByHash.set(hash, where);
    }
    this.entries.push({ tileId, offset: where.offset, length: where.length, runLength: 1 });
  }

  get tileCount(): number {
    return this.entries.length;
  }

  async finish(options: PMTilesFinishOptions = {}): Promise<PMTilesWriteSummary> {
    if (this.state !== 'open') throw new PMTilesWriteError(`${this.path} is already ${this.state}`);
    await this.pending;
    this.state = 'finished';
    if (this.entries.length === 0) {
      await this.abort();
      throw new PMTilesWriteError(`no tiles were added to ${this.path}; an archive needs at least one tile`);
    }
    const sorted = this.entries.sort((a, b) => a.tileId - b.tileId);
    // Run-length: consecutive ids pointing at the same bytes collapse into one entry.
    const merged: DirectoryEntry[] = [];
    for (const e of sorted) {
      const last = merged[merged.length - 1];
      if (last && last.tileId === e.tileId) {
        throw new PMTilesWriteError(
          `tile id ${e.tileId} was added twice to ${this.path}; add each tile once`,
        );
      }
      if (
        last &&
        last.offset === e.offset &&
        last.length === e.length &&
        last.tileId + last.runLength === e.tileId
      ) {
        last.runLength++;
      } else merged.push({ ...e });
    }
    const compression = this.options.internalCompression;
    const { root, leaves, leafCount } = buildDirectories(merged, compression);
    const metaRaw = new TextEncoder().encode(JSON.stringify(options.metadata ?? {}));
    const metadata = compression === 'gzip' ? new Uint8Array(gzipSync(metaRaw)) : metaRaw;

    const rootOffset = HEADER_BYTES;
    const metadataOffset = rootOffset + root.length;
    const leafOffset = metadataOffset + metadata.length;
    const dataOffset = leafOffset + leaves.length;
    const bounds = options.bounds ?? [-180, -85.0511287798066, 180, 85.0511287798066];
    const minZoom = options.minZoom ?? this.minZoomSeen;
    const maxZoom = options.maxZoom ?? this.maxZoomSeen;
    const center = options.center ?? [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, maxZoom];
    const header = encodeHeader({
      rootOffset,
      rootLength: root.length,
      metadataOffset,
      metadataLength: metadata.length,
      leafOffset,
      leafLength: leaves.length,
      dataOffset,
      dataLength: this.dataLength,
      addressedTiles: sorted.length,
      tileEntries: merged.length,
      tileContents: this.contents,
      clustered: this.inOrder,
      internalCompression: COMPRESSION_CODE[compression],
      tileCompression: COMPRESSION_CODE[this.options.tileCompression],
      tileType: TILE_TYPE_CODE[this.options.tileType],
      minZoom,
      maxZoom,
      bounds,
      center,
    });

    await this.data?.close();
    // Written under a temporary name and renamed, so a crash never leaves a half archive in place.
    const partPath = `${this.path}.part`;
    const out = createWriteStream(partPath);
    out.write(header);
    out.write(root);
    out.write(metadata);
    out.write(leaves);
    await pipeline(createReadStream(this.tmpPath), out);
    await rm(this.tmpPath, { force: true });
    await rename(partPath, this.path);
    return {
      path: this.path,
      bytes: dataOffset + this.dataLength,
      addressedTiles: sorted.length,
      tileEntries: merged.length,
      tileContents: this.contents,
      leafDirectories: leafCount,
      rootDirectoryBytes: root.length,
      clustered: this.inOrder,
    };
  }

  /** Drops the temporary tile data; the target file is left untouched. */
  async abort(): Promise<void> {
    if (this.state === 'open') this.state = 'aborted';
    await this.pending;
    await this.data?.close().catch(() => undefined);
    await rm(this.tmpPath, { force: true });
  }
}
