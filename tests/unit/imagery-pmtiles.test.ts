import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PMTilesWriter } from '../../server/lib/pmtiles/writer.ts';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import { ImageryError } from '../../server/lib/imagery/source.ts';
import { openPMTilesSource } from '../../server/lib/imagery/pmtiles-source.ts';

let dir: string;
let archive: string;
const colours: Record<string, [number, number, number]> = {
  '18/100/200': [250, 0, 0],
  '18/101/200': [0, 250, 0],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-pmtiles-'));
  archive = join(dir, 'imagery.pmtiles');
  const writer = new PMTilesWriter(archive, { tileType: 'jpeg' });
  for (const [key, [r, g, b]] of Object.entries(colours)) {
    const [z, x, y] = key.split('/').map(Number);
    const jpeg = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r, g, b } } })
      .jpeg()
      .toBuffer();
    await writer.addTile(z, x, y, jpeg);
  }
  // A tile whose bytes are no image: an archive written by a buggy tool.
  await writer.addTile(18, 102, 200, new TextEncoder().encode('{"error":"tile render failed"}'));
  await writer.finish({
    minZoom: 18,
    maxZoom: 18,
    bounds: [-179.9, -1, -179.8, 1],
    metadata: { attribution: '© Test imagery' },
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PMTiles imagery', () => {
  it('serves the stored JPEGs with header zooms, bounds and attribution', async () => {
    const src = await createImagerySource({ kind: 'pmtiles', path: archive });
    expect(src).toMatchObject({
      kind: 'pmtiles',
      id: 'pmtiles:imagery.pmtiles',
      minZoom: 18,
      maxZoom: 18,
      attribution: '© Test imagery',
    });
    expect(src.bounds?.[0]).toBeCloseTo(-179.9, 6);
    for (const [key, [r, g]] of Object.entries(colours)) {
      const [z, x, y] = key.split('/').map(Number);
      const t = await src.getTile(z, x, y);
      if (t.status !== 'ok') throw new Error(`${key}: ${t.status} ${t.reason}`);
      expect(t.contentType).toBe('image/jpeg');
      const { data } = await sharp(t.bytes).raw().toBuffer({ resolveWithObject: true });
      expect(Math.abs(data[0] - r)).toBeLessThan(5);
      expect(Math.abs(data[1] - g)).toBeLessThan(5);
    }
    await src.close();
  });

  it('an absent tile is missing, non-image bytes undecodable, a bad address an error', async () => {
    const src = await openPMTilesSource({ kind: 'pmtiles', path: archive });
    expect(await src.getTile(18, 5, 5)).toMatchObject({ status: 'missing' });
    const bad = await src.getTile(18, 102, 200);
    expect(bad.status).toBe('undecodable');
    expect(bad.status !== 'ok' && bad.reason).toMatch(
      /18\/102\/200 is not JPEG, PNG or WebP \(30 bytes starting 7b 22/,
    );
    expect((await src.getTile(18, 2 ** 18, 0)).status).toBe('error');
    await src.close();
  });

  it('a truncated archive fails at open, naming the file and the cut', async () => {
    const cut = join(dir, 'cut.pmtiles');
    const bytes = await readFile(archive);
    await writeFile(cut, bytes.subarray(0, bytes.length - 100));
    await expect(openPMTilesSource({ kind: 'pmtiles', path: cut })).rejects.toThrow(
      /cut\.pmtiles is truncated at byte \d+/,
    );
  });

  it('a missing file, a non-PMTiles file and a vector archive are configuration errors', async () => {
    await expect(openPMTilesSource({ kind: 'pmtiles', path: join(dir, 'nope.pmtiles') })).rejects.toThrow(
      ImageryError,
    );
    const notPm = join(dir, 'not.pmtiles');
    await copyFile(new URL(import.meta.url), notPm);
    await expect(openPMTilesSource({ kind: 'pmtiles', path: notPm })).rejects.toThrow(
      /not a PMTiles v3 archive/,
    );
    const mvt = join(dir, 'vector.pmtiles');
    const w = new PMTilesWriter(mvt, { tileType: 'mvt' });
    await w.addTile(0, 0, 0, new Uint8Array([0x1a, 0x00]));
    await w.finish();
    expect((await stat(mvt)).size).toBeGreaterThan(0);
    await expect(openPMTilesSource({ kind: 'pmtiles', path: mvt })).rejects.toThrow(
      /holds Mvt tiles, not raster imagery/,
    );
  });
});
