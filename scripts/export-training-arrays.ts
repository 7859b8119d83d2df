/**
 * Writes the demo world's training region as flat arrays a Python trainer memory-maps:
 *   images.u8  N×256×256×3 (RGB, HWC)   masks.u8  N×256×256 (0/1)   index.json [{taskId, split, district, phenomena}]
 *   npx tsx scripts/export-training-arrays.ts --world data/demo --out data/demo/train-arrays
 * Masks come from footprints.geojson through FootprintIndex, as real OSM labels would.
 * Tiles are streamed: one tile's pixels in memory at a time.
 */
import { open, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FootprintIndex } from '../server/lib/geo/rasterize.ts';
import { decodeTileImage } from '../server/lib/imagery/decode.ts';
import { openPMTiles } from '../server/lib/pmtiles/file-source.ts';
import type { TileRecord } from './demo-world/generate.ts';

export interface ExportSummary {
  count: number;
  images: string;
  masks: string;
  index: string;
  shape: { images: number[]; masks: number[] };
}

export async function exportTrainingArrays(worldDir: string, outDir: string): Promise<ExportSummary> {
  const tilesPath = join(worldDir, 'tiles.ndjson');
  let text: string;
  try {
    text = await readFile(tilesPath, 'utf8');
  } catch {
    throw new Error(
      `${tilesPath} is missing: build the demo world first with \`npx tsx scripts/build-demo-world.ts --out ${worldDir}\``,
    );
  }
  const records = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TileRecord)
    .filter((r) => r.region === 'train');
  await mkdir(outDir, { recursive: true });
  const archive = await openPMTiles(join(worldDir, 'imagery.pmtiles'));
  const footprints = FootprintIndex.fromFile(join(worldDir, 'footprints.geojson'));
  const images = await open(join(outDir, 'images.u8'), 'w');
  const masks = await open(join(outDir, 'masks.u8'), 'w');
  const size = 256;
  try {
    for (const r of records) {
      const label = `tile ${r.taskId} of ${archive.path}`;
      const bytes = await archive.getTile(r.z, r.x, r.y);
      if (!bytes) throw new Error(`${label} is missing; rebuild the demo world`);
      const img = await decodeTileImage(bytes, { expectedSize: size, label });
      await images.write(img.data);
      await masks.write(footprints.maskForTile(r.z, r.x, r.y, size));
    }
  } finally {
    await Promise.all([images.close(), masks.close(), archive.close()]);
  }
  const index = records.map((r) => ({
    taskId: r.taskId,
    split: r.split,
    district: r.district,
    phenomena: r.phenomena,
  }));
  await writeFile(join(outDir, 'index.json'), JSON.stringify(index) + '\n');
  return {
    count: records.length,
    images: join(outDir, 'images.u8'),
    masks: join(outDir, 'masks.u8'),
    index: join(outDir, 'index.json'),
    shape: { images: [records.length, size, size, 3], masks: [records.length, size, size] },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { world: { type: 'string', default: 'data/demo' }, out: { type: 'string' } },
  });
  const world = values.world!;
  const summary = await exportTrainingArrays(world, values.out ?? join(world, 'train-arrays'));
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}
