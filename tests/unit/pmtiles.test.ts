import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tileIdToZxy as refTileIdToZxy, zxyToTileId as refZxyToTileId } from 'pmtiles';
import { describe, expect, it } from 'vitest';
import { openPMTiles, PMTilesError } from '../../server/lib/pmtiles/file-source.ts';
import { PMTilesWriter, tileIdToZxy, zxyToTileId } from '../../server/lib/pmtiles/writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilelens-pmtiles-'));
/** Tiny tile bodies unique per tile, so every tile needs its own directory entry. */
const body = (z: number, x: number, y: number) => new TextEncoder().encode(`${z}/${x}/${y}`);

describe('tile ids', () => {
  it('agree with the pmtiles package on every tile of low zooms and on deep tiles', () => {
    for (let z = 0; z <= 5; z++) {
      for (let x = 0; x < 2 ** z; x++) {
        for (let y = 0; y < 2 ** z; y++) {
          const id = zxyToTileId(z, x, y);
          expect(id).toBe(refZxyToTileId(z, x, y));
          expect(tileIdToZxy(id)).toEqual([z, x, y]);
        }
      }
    }
    for (const [z, x, y] of [
      [18, 155669, 141339],
      [18, 262143, 0],
      [22, 2491000, 2261000],
      [26, 2 ** 26 - 1, 2 ** 26 - 1],
    ]) {
      const id = zxyToTileId(z, x, y);
      expect(id).toBe(refZxyToTileId(z, x, y));
      expect(tileIdToZxy(id)).toEqual(refTileIdToZxy(id));
      expect(tileIdToZxy(id)).toEqual([z, x, y]);
    }
    expect(() => zxyToTileId(3, 8, 0)).toThrow(/outside the zoom-3 grid/);
  });
});

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

describe('openPMTiles on damaged files', () => {
  const make = async (name: string) => {
    const path = join(dir, name);
    const w = new PMTilesWriter(path, { tileType: 'jpeg' });
    for (let x = 0; x < 4; x++) await w.addTile(2, x, 1, body(2, x, 1));
    await w.finish({ metadata: { name } });
    return path;
  };

  it('names a file that is not a PMTiles v3 archive', async () => {
    const path = join(dir, 'not.pmtiles');
    writeFileSync(path, 'x'.repeat(500));
    await expect(openPMTiles(path)).rejects.toThrow(PMTilesError);
    await expect(openPMTiles(path)).rejects.toThrow(/not\.pmtiles is not a PMTiles v3 archive/);
    const v2 = await make('v2.pmtiles');
    const bytes = readFileSync(v2);
    bytes[7] = 2;
    writeFileSync(v2, bytes);
    await expect(openPMTiles(v2)).rejects.toThrow(/version 2, not a PMTiles v3 archive/);
    await expect(openPMTiles(join(dir, 'absent.pmtiles'))).rejects.toThrow(/cannot open PMTiles archive/);
  });

  it('reports truncation with the byte it stops at', async () => {
    const path = await make('cut.pmtiles');
    const size = statSync(path).size;
    truncateSync(path, size - 3);
    await expect(openPMTiles(path)).rejects.toThrow(
      new RegExp(`cut\\.pmtiles is truncated at byte ${size - 3}.*rebuild`),
    );
    truncateSync(path, 60);
    await expect(openPMTiles(path)).rejects.toThrow(/truncated at byte 60: shorter than the 127-byte/);
  });

  it('reports a corrupt directory as corruption, not a crash', async () => {
    const path = await make('garbled.pmtiles');
    const bytes = readFileSync(path);
    bytes.fill(0xff, 127, 140); // the gzip stream of the root directory
    writeFileSync(path, bytes);
    const attempt = async () => {
      const a = await openPMTiles(path);
      try {
        return await a.getTile(2, 0, 1);
      } finally {
        await a.close();
      }
    };
    await expect(attempt()).rejects.toThrow(/garbled\.pmtiles is corrupt: reading/);
  });
});
