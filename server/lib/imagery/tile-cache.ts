/**
 * Disk cache of fetched tiles, so that a resumed or repeated scoring job does not fetch again.
 *
 * Files are named by the SHA-256 of the URL: URLs often carry API keys, which must not end up in
 * file names, and a hash gives a fixed-length, filesystem-safe name. Only images that decoded whole
 * are stored (the caller checks, and checks again on reading: a file may have been damaged since), so
 * the content type is read back from the bytes and needs no sidecar. The cache stays
 * under `maxBytes` by deleting the least recently used files (a hit refreshes a file's time).
 *
 * The size index is built from the folder when the cache opens; several processes may share a
 * folder safely (writes are atomic renames), though each counts only the writes it has seen.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageryError } from './source.ts';

export const DEFAULT_CACHE_MAX_BYTES = 2 * 1024 ** 3;
/** Evicting down to this share of the limit, not just under it, keeps eviction from running on every write. */
const EVICT_TO = 0.9;
const HASH_NAME = /^[0-9a-f]{64}$/;

interface Entry {
  bytes: number;
  usedMs: number;
}

export interface TileCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  evicted: number;
}

export class TileCache {
  private hits = 0;
  private misses = 0;
  private evicted = 0;
  private total = 0;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly index: Map<string, Entry>,
  ) {
    for (const e of index.values()) this.total += e.bytes;
  }

  static async open(dir: string, options: { maxBytes?: number } = {}): Promise<TileCache> {
    const maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new ImageryError(
        `tile cache folder ${dir} cannot be created (${(err as Error).message}); give a writable cacheDir`,
      );
    }
    const index = new Map<string, Entry>();
    for (const shard of await readdir(dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await readdir(join(dir, shard))) {
        if (!HASH_NAME.test(name)) continue;
        const st = await stat(join(dir, shard, name)).catch(() => undefined);
        if (st?.isFile()) index.set(name, { bytes: st.size, usedMs: st.mtimeMs });
      }
    }
    const cache = new TileCache(dir, maxBytes, index);
    await cache.evictIfNeeded();
    return cache;
  }

  static keyOf(url: string): string {
    return createHash('sha256').update(url).digest('hex');
  }

  stats(): TileCacheStats {
    return {
      entries: this.index.size,
      bytes: this.total,
      hits: this.hits,
      misses: this.misses,
      evicted: this.evicted,
    };
  }

  async get(url: string): Promise<Uint8Array | undefined> {
    const key = TileCache.keyOf(url);
    const path = this.pathOf(key);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      this.misses++;
      this.forget(key);
      return undefined;
    }
    this.hits++;
    const now = Date.now();
    const known = this.index.get(key);
    if (known) known.usedMs = now;
    else {
      // Written by another process sharing the folder since we opened it.
      this.index.set(key, { bytes: bytes.length, usedMs: now });
      this.total += bytes.length;
    }
    await utimes(path, now / 1000, now / 1000).catch(() => undefined);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async put(url: string, bytes: Uint8Array): Promise<void> {
    if (bytes.length > this.maxBytes) return;
    const key = TileCache.keyOf(url);
    const path = this.pathOf(key);
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    // Write then rename: a job killed mid-write leaves a stray temp file, never a truncated tile.
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    this.forget(key);
    this.index.set(key, { bytes: bytes.length, usedMs: Date.now() });
    this.total += bytes.length;
    await this.evictIfNeeded();
  }

  /** Drops a cached tile, e.g. one that no longer decodes. */
  async delete(url: string): Promise<void> {
    const key = TileCache.keyOf(url);
    await rm(this.pathOf(key), { force: true });
    this.forget(key);
  }

  private pathOf(key: string): string {
    return join(this.dir, key.slice(0, 2), key);
  }

  private forget(key: string): void {
    const e = this.index.get(key);
    if (!e) return;
    this.total -= e.bytes;
    this.index.delete(key);
  }

  private async evictIfNeeded(): Promise<void> {
    if (this.total <= this.maxBytes) return;
    const target = this.maxBytes * EVICT_TO;
    const oldestFirst = [...this.index.entries()].sort((a, b) => a[1].usedMs - b[1].usedMs);
    for (const [key] of oldestFirst) {
      if (this.total <= target) break;
      await rm(this.pathOf(key), { force: true });
      this.forget(key);
      this.evicted++;
    }
  }
}
