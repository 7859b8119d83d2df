import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TileCache } from '../../server/lib/imagery/tile-cache.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(root)) for (const f of await readdir(join(root, shard))) out.push(f);
  return out.sort();
}

describe('TileCache', () => {
  it('stores under the URL hash, so no URL (or key in it) reaches a file name', async () => {
    const cache = await TileCache.open(dir);
    const url = 'https://tiles.example.org/18/1/2.jpg?access_token=SECRET';
    await cache.put(url, bytes(10, 7));
    expect(await files(dir)).toEqual([TileCache.keyOf(url)]);
    expect(Array.from((await cache.get(url))!)).toEqual(Array.from(bytes(10, 7)));
    expect(await cache.get('https://tiles.example.org/other')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 10, hits: 1, misses: 1 });
  });

  it('evicts the least recently used files once over its size', async () => {
    const cache = await TileCache.open(dir, { maxBytes: 300 });
    await cache.put('u1', bytes(100, 1));
    await new Promise((r) => setTimeout(r, 5));
    await cache.put('u2', bytes(100, 2));
    await new Promise((r) => setTimeout(r, 5));
    await cache.get('u1');
    await new Promise((r) => setTimeout(r, 5));
    await cache.put('u3', bytes(100, 3));
    expect(cache.stats().evicted).toBe(0);
    await cache.put('u4', bytes(100, 4));
    // 400 > 300: evict down to 270, oldest use first — u2, then u1.
    expect(cache.stats()).toMatchObject({ evicted: 2, bytes: 200 });
    expect(await cache.get('u2')).toBeUndefined();
    expect(await cache.get('u1')).toBeUndefined();
    expect(await cache.get('u3')).toBeDefined();
  });

  it('rebuilds its index from the folder and evicts by file age at open', async () => {
    const first = await TileCache.open(dir);
    await first.put('old', bytes(100, 1));
    await first.put('new', bytes(100, 2));
    const oldPath = join(dir, TileCache.keyOf('old').slice(0, 2), TileCache.keyOf('old'));
    await utimes(oldPath, 1000, 1000);
    await writeFile(join(dir, 'README'), 'not a tile');
    const reopened = await TileCache.open(dir, { maxBytes: 150 });
    expect(reopened.stats()).toMatchObject({ entries: 1, bytes: 100, evicted: 1 });
    expect(await reopened.get('new')).toBeDefined();
  });

  it('overwriting a URL does not count its bytes twice', async () => {
    const cache = await TileCache.open(dir);
    await cache.put('u', bytes(50, 1));
    await cache.put('u', bytes(70, 2));
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 70 });
  });
});
