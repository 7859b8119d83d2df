/**
 * PNG previews of a built demo world: one tile per district and per phenomenon (imagery beside
 * its ground-truth mask overlay) and a 6×6 mosaic, under `<world>/preview/`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FootprintIndex } from '../../server/lib/geo/rasterize.ts';
import { decodeTileImage, encodePng } from '../../server/lib/imagery/decode.ts';
import { openPMTiles } from '../../server/lib/pmtiles/file-source.ts';
import type { TileRecord } from './generate.ts';

const T = 256;

export async function writePreviews(worldDir: string): Promise<{ dir: string; files: string[] }> {
  const dir = join(worldDir, 'preview');
  await mkdir(dir, { recursive: true });
  const records: TileRecord[] = (await readFile(join(worldDir, 'tiles.ndjson'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const archive = await openPMTiles(join(worldDir, 'imagery.pmtiles'));
  const index = FootprintIndex.fromFile(join(worldDir, 'footprints.geojson'));
  const files: string[] = [];
  try {
    const picks = new Map<string, TileRecord>();
    // The most built-up tile of each district, and the first tile of each phenomenon.
    for (const r of records) {
      const best = picks.get(r.district);
      if (!best || r.gtFraction > best.gtFraction) picks.set(r.district, r);
      for (const p of r.phenomena) if (!picks.has(p) && p !== 'no_buildings') picks.set(p, r);
    }
    for (const [name, r] of picks) {
      const img = await decodeTileImage((await archive.getTile(r.z, r.x, r.y))!, {
        label: `tile ${r.taskId}`,
      });
      const mask = index.maskForTile(r.z, r.x, r.y);
      // Left: imagery; right: imagery with footprints tinted (planted errors included).
      const pair = new Uint8Array(T * 2 * T * 3);
      for (let y = 0; y < T; y++) {
        for (let x = 0; x < T; x++) {
          const s = (y * T + x) * 3;
          const a = (y * 2 * T + x) * 3;
          const b = a + T * 3;
          for (let k = 0; k < 3; k++) {
            pair[a + k] = img.data[s + k];
            pair[b + k] = mask[y * T + x] ? (k === 0 ? 255 : img.data[s + k] * 0.4) : img.data[s + k];
          }
        }
      }
      const file = join(dir, `${name}-${r.taskId}.png`);
      await writeFile(file, await encodePng(pair, 2 * T, T));
      files.push(file);
    }
    const town = records.find((r) => r.district === 'dense_town') ?? records[0];
    const side = 6;
    const mosaic = new Uint8Array(side * T * side * T * 3);
    for (let j = 0; j < side; j++) {
      for (let i = 0; i < side; i++) {
        const x = town.x - 2 + i;
        const y = town.y - 2 + j;
        const bytes = await archive.getTile(18, x, y);
        if (!bytes) continue;
        const img = await decodeTileImage(bytes);
        for (let row = 0; row < T; row++) {
          mosaic.set(
            img.data.subarray(row * T * 3, (row + 1) * T * 3),
            ((j * T + row) * side * T + i * T) * 3,
          );
        }
      }
    }
    const file = join(dir, 'mosaic-6x6.png');
    await writeFile(file, await encodePng(mosaic, side * T, side * T));
    files.push(file);
  } finally {
    await archive.close();
  }
  return { dir, files };
}
