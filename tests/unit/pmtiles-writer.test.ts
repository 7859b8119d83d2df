import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPMTiles } from '../../server/lib/pmtiles/file-source.ts';
import { zxyToTileId } from '../../server/lib/pmtiles/tile-id.ts';
import { PMTilesWriter } from '../../server/lib/pmtiles/writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilelens-pmtiles-'));
/** Tiny tile bodies unique per tile, so every tile needs its own directory entry. */
const body = (z: number, x: number, y: number) => new TextEncoder().encode(`${z}/${x}/${y}`);

describe('PMTilesWriter → pmtiles reader', () => {
  it('round-trips several zooms with metadata and bounds', async () => {
    const path = join(dir, 'small.pmtiles');
    const w = new PMTilesWriter(path, { tileType: 'png' });
    // Added out of Hilbert order on purpose: the writer sorts entries itself.
    const tiles: Array<[number, number, number]> = [
      [2, 3, 1],
      [0, 0, 0],
      [1, 1, 1],
      [2, 0, 0],
      [1, 0, 1],
    ];
    for (const [z, x, y] of tiles) await w.addTile(z, x, y, body(z, x, y));
    const summary = await w.finish({
      bounds: [-10, -5, 10, 5],
      center: [1, 2, 1],
      metadata: { name: 'small', attribution: 'test' },
    });
    expect(summary).toMatchObject({
      addressedTiles: 5,
      tileEntries: 5,
      tileContents: 5,
      leafDirectories: 0,
      clustered: false,
    });
    expect(existsSync(`${path}.tiledata.tmp`)).toBe(false);
    const a = await openPMTiles(path);
    expect(a.header).toMatchObject({
      specVersion: 3,
      minZoom: 0,
      maxZoom: 2,
      tileType: 2,
      minLon: -10,
      maxLat: 5,
      centerZoom: 1,
      centerLon: 1,
    });
    expect(a.metadata).toEqual({ name: 'small', attribution: 'test' });
    for (const [z, x, y] of tiles)
      expect(new TextDecoder().decode(await a.getTile(z, x, y))).toBe(`${z}/${x}/${y}`);
    expect(await a.getTile(2, 1, 1)).toBeUndefined();
    await a.close();
  });

  it('spills into leaf directories past 16 KiB and run-length encodes identical neighbours', async () => {
    const path = join(dir, 'big.pmtiles');
    // Uncompressed directories: gzip would squeeze this regular grid's 20k entries below 16 KiB.
    const w = new PMTilesWriter(path, { tileType: 'png', internalCompression: 'none' });
    const water = new Uint8Array([1, 2, 3, 4]);
    // 20 000 distinct z18 tiles in a 160×125 block (in Hilbert order: clustered), then 4096 identical z12 tiles.
    const block: Array<[number, number]> = [];
    for (let y = 0; y < 125; y++) for (let x = 0; x < 160; x++) block.push([155600 + x, 141300 + y]);
    block.sort((p, q) => zxyToTileId(18, p[0], p[1]) - zxyToTileId(18, q[0], q[1]));
    const pending: Promise<void>[] = [];
    for (let x = 0; x < 64; x++)
      for (let y = 0; y < 64; y++) pending.push(w.addTile(12, 2400 + x, 2200 + y, water));
    for (const [x, y] of block) pending.push(w.addTile(18, x, y, body(18, x, y)));
    await Promise.all(pending);
    const s = await w.finish({ metadata: { name: 'big' } });
    expect(s.addressedTiles).toBe(20000 + 4096);
    expect(s.tileContents).toBe(20001);
    expect(s.leafDirectories).toBeGreaterThan(0);
    expect(s.rootDirectoryBytes).toBeLessThanOrEqual(16384 - 127);
    // Hilbert-contiguous runs of the shared water tile collapse into few entries.
    expect(s.tileEntries).toBeLessThan(20000 + 4096 / 4);
    const a = await openPMTiles(path);
    expect(a.header.leafDirectoryLength).toBeGreaterThan(0);
    expect(a.header.numAddressedTiles).toBe(24096);
    for (let i = 0; i < block.length; i += 997) {
      const [x, y] = block[i];
      expect(new TextDecoder().decode(await a.getTile(18, x, y))).toBe(`18/${x}/${y}`);
    }
    expect([...((await a.getTile(12, 2463, 2263)) ?? [])]).toEqual([1, 2, 3, 4]);
    expect(await a.getTile(12, 2464, 2200)).toBeUndefined();
    await a.close();
  });

  it('refuses a tile added twice or after finish', async () => {
    const w = new PMTilesWriter(join(dir, 'dup.pmtiles'), { tileType: 'jpeg', internalCompression: 'none' });
    await w.addTile(1, 0, 0, body(1, 0, 0));
    await w.addTile(1, 0, 0, body(1, 0, 0));
    await expect(w.finish()).rejects.toThrow(/added twice/);
    await expect(w.addTile(1, 1, 0, body(1, 1, 0))).rejects.toThrow(/already finished/);
  });
});
