import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FootprintIndex } from '../geo/rasterize.ts';
import { tileBounds } from '../geo/tiles.ts';
import { decodeTileImage } from '../imagery/decode.ts';
import { openPMTiles } from '../pmtiles/file-source.ts';
import { DatasetError, type Patch, type PatchSource } from './patch-source.ts';

/** One line of the demo world's `tiles.ndjson`: what the generator planted on a tile. */
export interface DemoTileRecord {
  z: number;
  x: number;
  y: number;
  taskId: string;
  quadkey: string;
  region: 'train' | 'new';
  district: string;
  split: string;
  phenomena: string[];
  gtFraction: number;
  visibleBuildingFraction: number;
}

export function readDemoTiles(worldDir: string): DemoTileRecord[] {
  const path = join(worldDir, 'tiles.ndjson');
  if (!existsSync(path)) {
    throw new DatasetError(
      `${path} is missing: ${worldDir} is not a demo world. Build one with ` +
        '`npx tsx scripts/build-demo-world.ts --out ' +
        worldDir +
        '`.',
    );
  }
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as DemoTileRecord;
      } catch {
        throw new DatasetError(`${path} line ${i + 1} is not JSON; rebuild the demo world.`);
      }
    });
}

/**
 * The demo world's tiles of one region as a patch stream: imagery from the PMTiles archive, ground truth
 * rasterised per tile from the GeoJSON footprints (the way OSM data would be used).
 */
export function openDemoWorldDataset(worldDir: string, region: 'train' | 'new' = 'train'): PatchSource {
  const dir = resolve(worldDir);
  const records = readDemoTiles(dir).filter((t) => t.region === region);
  if (records.length === 0) {
    throw new DatasetError(`The demo world in ${dir} has no tiles in region '${region}'; rebuild it.`);
  }
  const archivePath = join(dir, 'imagery.pmtiles');
  const footprintsPath = join(dir, 'footprints.geojson');
  let footprints: FootprintIndex | undefined;
  const archive = openPMTiles(archivePath);

  return {
    name: `demo-world:${region}`,
    kind: 'demo_world',
    description: { world: dir, region, tiles: records.length },
    size: records.length,
    async *patches(): AsyncIterable<Patch> {
      footprints ??= FootprintIndex.fromFile(footprintsPath);
      const pm = await archive;
      for (const t of records) {
        const label = `tile ${t.taskId} of ${archivePath}`;
        const bytes = await pm.getTile(t.z, t.x, t.y);
        if (!bytes) {
          throw new DatasetError(`${label} is missing from the archive; rebuild the demo world.`);
        }
        const img = await decodeTileImage(bytes, { label });
        const mask = footprints.maskForTile(t.z, t.x, t.y, img.width);
        const [w, s, e, n] = tileBounds(t.z, t.x, t.y);
        yield {
          key: t.taskId,
          group: t.district,
          split: t.split,
          tile: { z: t.z, x: t.x, y: t.y },
          center: [(w + e) / 2, (s + n) / 2],
          image: img.data,
          width: img.width,
          height: img.height,
          mask,
          phenomena: t.phenomena,
        };
      }
    },
    async close() {
      (await archive).close();
    },
  };
}
