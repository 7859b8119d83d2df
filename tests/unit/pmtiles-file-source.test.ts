import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPMTiles, PMTilesError } from '../../server/lib/pmtiles/file-source.ts';
import { PMTilesWriter } from '../../server/lib/pmtiles/writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilelens-pmtiles-'));
/** Tiny tile bodies unique per tile, so every tile needs its own directory entry. */
const body = (z: number, x: number, y: number) => new TextEncoder().encode(`${z}/${x}/${y}`);

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
