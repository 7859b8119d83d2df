/**
 * Reads a local PMTiles v3 archive through the `pmtiles` package, with a Source that reads byte
 * ranges from the file (the package's own FileSource wraps the browser File API).
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Compression, PMTiles, type Header, type RangeResponse, type Source } from 'pmtiles';
import { HEADER_BYTES } from './writer.ts';
import { TilelensError } from '../errors.ts';

const gunzipAsync = promisify(gunzip);

export class PMTilesError extends TilelensError {
  override name = 'PMTilesError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('pmtiles', message, { status: 422, cause: options?.cause });
  }
}

const REBUILD_HINT =
  'rebuild it (e.g. `npx tsx scripts/build-demo-world.ts` for the demo world) or fetch it again';

/** Byte ranges of a local file; reads past the end are reported as truncation, never zero-filled. */
export class NodeFileSource implements Source {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly size: number,
    /** How messages name the archive: its path, or only its file name where messages reach a browser. */
    readonly label: string = path,
  ) {}

  static async open(path: string, label: string = path): Promise<NodeFileSource> {
    // Opening a FIFO or a device can block a thread forever, and a folder fails only at the first read.
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => err);
    if (st instanceof Error || !st.isFile()) {
      const why = st instanceof Error ? (st.code ?? 'unreadable') : 'not a regular file';
      throw new PMTilesError(`cannot open PMTiles archive ${label}: ${why}`);
    }
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw new PMTilesError(
        `cannot open PMTiles archive ${label}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
    const { size } = await fh.stat();
    return new NodeFileSource(path, fh, size, label);
  }

  getKey(): string {
    return this.path;
  }

  async getBytes(offset: number, length: number): Promise<RangeResponse> {
    // Like an HTTP range request, a read past the end returns what exists: the reader asks for
    // 16 KiB up front whatever the archive's size. Sections cut short are caught by openPMTiles.
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = new Uint8Array(n);
    const { bytesRead } = await this.fh.read(buf, 0, n, offset);
    if (bytesRead < n) {
      throw new PMTilesError(`${this.label} is truncated at byte ${offset + bytesRead}; ${REBUILD_HINT}`);
    }
    return { data: buf.buffer };
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

async function decompress(buf: ArrayBuffer, compression: Compression): Promise<ArrayBuffer> {
  if (compression === Compression.None || compression === Compression.Unknown) return buf;
  if (compression === Compression.Gzip) {
    const out = await gunzipAsync(new Uint8Array(buf));
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  }
  throw new PMTilesError(
    `compression ${Compression[compression]} is not supported here; write archives with gzip or none`,
  );
}

export interface PMTilesArchive {
  path: string;
  header: Header;
  metadata: Record<string, unknown>;
  getTile(z: number, x: number, y: number): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

/** Checks magic, version and that every section the header names lies inside the file. */
function checkHeader(path: string, bytes: Uint8Array, size: number): void {
  if (size < HEADER_BYTES) {
    throw new PMTilesError(
      `${path} is truncated at byte ${size}: shorter than the ${HEADER_BYTES}-byte PMTiles header; ${REBUILD_HINT}`,
    );
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 7));
  if (magic !== 'PMTiles') {
    throw new PMTilesError(
      `${path} is not a PMTiles v3 archive (it does not start with "PMTiles"); ${REBUILD_HINT}`,
    );
  }
  if (bytes[7] !== 3) {
    throw new PMTilesError(
      `${path} is PMTiles version ${bytes[7]}, not a PMTiles v3 archive; convert it with \`pmtiles convert\` or ${REBUILD_HINT}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  const sections: Array<[string, number, number]> = [
    ['root directory', u64(8), u64(16)],
    ['metadata', u64(24), u64(32)],
    ['leaf directories', u64(40), u64(48)],
    ['tile data', u64(56), u64(64)],
  ];
  for (const [name, offset, length] of sections) {
    if (offset + length > size) {
      throw new PMTilesError(
        `${path} is truncated at byte ${size}: its ${name} should end at byte ${offset + length}; ${REBUILD_HINT}`,
      );
    }
  }
}

/** `options.name` replaces the path in every message (a source serving browsers passes the file name). */
export async function openPMTiles(path: string, options: { name?: string } = {}): Promise<PMTilesArchive> {
  const label = options.name ?? path;
  const source = await NodeFileSource.open(path, label);
  try {
    const head = new Uint8Array(Math.min(HEADER_BYTES, source.size));
    if (head.length > 0) head.set(new Uint8Array((await source.getBytes(0, head.length)).data));
    checkHeader(label, head, source.size);
    const pm = new PMTiles(source, undefined, decompress);
    const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof PMTilesError) throw err;
        throw new PMTilesError(
          `${label} is corrupt: reading ${what} failed (${(err as Error).message}); ${REBUILD_HINT}`,
        );
      }
    };
    const header = await wrap('the header', () => pm.getHeader());
    const metadata = (await wrap('the metadata', () => pm.getMetadata())) as Record<string, unknown>;
    return {
      path,
      header,
      metadata: metadata && typeof metadata === 'object' ? metadata : {},
      async getTile(z, x, y) {
        const r = await wrap(`tile ${z}/${x}/${y}`, () => pm.getZxy(z, x, y));
        return r ? new Uint8Array(r.data) : undefined;
      },
      close: () => source.close(),
    };
  } catch (err) {
    await source.close();
    throw err;
  }
}
