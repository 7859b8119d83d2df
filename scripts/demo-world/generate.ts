/**
 * generateDemoWorld: plans the world, paints every tile in Hilbert order straight into one
 * PMTiles archive, and streams footprints and per-tile records next to it. Only one tile's
 * pixels (and a small cache of neighbouring objects) are in memory at a time.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { taskId, tileToQuadkey, worldPixelToLonLat } from '../../server/lib/geo/tiles.ts';
import { encodeJpeg } from '../../server/lib/imagery/decode.ts';
import { zxyToTileId } from '../../server/lib/pmtiles/tile-id.ts';
import { PMTilesWriter } from '../../server/lib/pmtiles/writer.ts';
import {
  planWorld,
  regionBBox,
  TILE,
  ZOOM,
  type Phenomenon,
  type Scale,
  type TilePlan,
  type WorldPlan,
} from './layout.ts';
import { ObjectCache, renderTile } from './paint.ts';
import type { DemoTileRecord } from '../../server/lib/datasets/demo-world.ts';

export const ATTRIBUTION = 'tilelens synthetic demo world';
export const JPEG_QUALITY = 82;

export interface GenerateOptions {
  seed?: number;
  outDir: string;
  scale?: Scale;
  onProgress?: (done: number, total: number) => void;
}

/** One line of `tiles.ndjson`; readers see it as `DemoTileRecord` (server/lib/datasets/demo-world.ts). */
export interface TileRecord extends DemoTileRecord {
  split: 'train' | 'val' | 'test' | 'screen';
  phenomena: Phenomenon[];
}

/** Bumped whenever the generator paints other tiles for the same seed, so a stored world is rebuilt. */
export const WORLD_VERSION = 2;

export interface WorldSummary {
  version: number;
  seed: number;
  zoom: number;
  tileSize: number;
  scale: Scale;
  outDir: string;
  files: { imagery: string; footprints: string; tiles: string; world: string };
  splitRule: string;
  regions: Record<
    'train' | 'new',
    {
      tiles: { minX: number; maxX: number; minY: number; maxY: number };
      bbox: [number, number, number, number];
      tileCount: number;
    }
  >;
  districts: Record<string, number>;
  phenomena: Record<Phenomenon, number>;
  splits: Record<string, number>;
  buildings: number;
  plantedErrors: number;
  archiveBytes: number;
  seconds: number;
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** Resolves when the stream accepts more, so a slow disk holds the painter back instead of memory. */
function write(stream: WriteStream, text: string): Promise<void> | undefined {
  return stream.write(text) ? undefined : new Promise((resolve) => stream.once('drain', resolve));
}

function end(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(resolve);
  });
}

function lonLatRing(ring: Array<[number, number]>): number[][] {
  const out = ring.map(([px, py]) => worldPixelToLonLat(px, py, ZOOM, TILE).map((v) => round(v, 9)));
  out.push(out[0]);
  // Screen rings (y down) run clockwise when they look counter-clockwise on the map; GeoJSON wants CCW.
  let area = 0;
  for (let i = 0; i + 1 < out.length; i++) area += out[i][0] * out[i + 1][1] - out[i + 1][0] * out[i][1];
  return area < 0 ? out.reverse() : out;
}

export async function generateDemoWorld(options: GenerateOptions): Promise<WorldSummary> {
  const started = performance.now();
  const seed = options.seed ?? 7;
  const scale = options.scale ?? 'full';
  const outDir = options.outDir;
  await mkdir(outDir, { recursive: true });
  const plan: WorldPlan = planWorld(seed, scale);
  const files = {
    imagery: join(outDir, 'imagery.pmtiles'),
    footprints: join(outDir, 'footprints.geojson'),
    tiles: join(outDir, 'tiles.ndjson'),
    world: join(outDir, 'world.json'),
  };
  // Hilbert order: the archive comes out clustered, and neighbours share the object cache.
  const order: TilePlan[] = [...plan.tiles.values()].sort(
    (a, b) => zxyToTileId(ZOOM, a.x, a.y) - zxyToTileId(ZOOM, b.x, b.y),
  );
  const writer = new PMTilesWriter(files.imagery, { tileType: 'jpeg' });
  const footprints = createWriteStream(`${files.footprints}.part`);
  const records = createWriteStream(`${files.tiles}.part`);
  const cache = new ObjectCache(plan);
  const districts: Record<string, number> = {};
  const phenomena: Record<Phenomenon, number> = {
    parking_lot: 0,
    cemetery: 0,
    construction_site: 0,
    no_buildings: 0,
  };
  const splits: Record<string, number> = {};
  let buildings = 0;
  let plantedErrors = 0;

  try {
    await write(footprints, '{"type":"FeatureCollection","features":[\n');
    for (let n = 0; n < order.length; n++) {
      const t = order[n];
      const tile = renderTile(plan, cache, t);
      const jpeg = await encodeJpeg(tile.rgb, TILE, TILE, JPEG_QUALITY);
      await writer.addTile(ZOOM, t.x, t.y, jpeg);

      for (const b of tile.ownBuildings) {
        const feature = {
          type: 'Feature',
          properties: {
            id: `b${String(buildings).padStart(6, '0')}`,
            building: b.kind,
            district: b.district,
            roof: b.style,
            planted_error: b.planted,
          },
          geometry: { type: 'Polygon', coordinates: [lonLatRing(b.ring)] },
        };
        await write(footprints, (buildings > 0 ? ',\n' : '') + JSON.stringify(feature));
        buildings++;
        if (b.planted) plantedErrors++;
      }

      let gt = 0;
      let vis = 0;
      for (let i = 0; i < tile.groundTruth.length; i++) {
        gt += tile.groundTruth[i];
        vis += tile.visible[i];
      }
      const tilePhenomena: Phenomenon[] = t.planted ? [t.planted] : [];
      if (gt === 0) tilePhenomena.push('no_buildings');
      for (const p of tilePhenomena) phenomena[p]++;
      districts[t.district] = (districts[t.district] ?? 0) + 1;
      splits[t.split] = (splits[t.split] ?? 0) + 1;
      const record: TileRecord = {
        z: ZOOM,
        x: t.x,
        y: t.y,
        taskId: taskId(ZOOM, t.x, t.y),
        quadkey: tileToQuadkey(ZOOM, t.x, t.y),
        region: t.region,
        district: t.district,
        split: t.split,
        phenomena: tilePhenomena,
        gtFraction: round(gt / (TILE * TILE), 5),
        visibleBuildingFraction: round(vis / (TILE * TILE), 5),
      };
      await write(records, JSON.stringify(record) + '\n');
      options.onProgress?.(n + 1, order.length);
    }
    await write(footprints, '\n]}\n');
    await Promise.all([end(footprints), end(records)]);
  } catch (err) {
    footprints.destroy();
    records.destroy();
    await writer.abort();
    throw err;
  }

  const [train, next] = plan.regions;
  const regionInfo = (r: typeof train) => ({
    tiles: { minX: r.minX, maxX: r.minX + r.width - 1, minY: r.minY, maxY: r.minY + r.height - 1 },
    bbox: regionBBox(r).map((v) => round(v, 7)) as [number, number, number, number],
    tileCount: r.width * r.height,
  });
  const allBounds = [regionBBox(train), regionBBox(next)];
  const bounds: [number, number, number, number] = [
    Math.min(allBounds[0][0], allBounds[1][0]),
    Math.min(allBounds[0][1], allBounds[1][1]),
    Math.max(allBounds[0][2], allBounds[1][2]),
    Math.max(allBounds[0][3], allBounds[1][3]),
  ];
  const trainBox = regionBBox(train);
  const written = await writer.finish({
    minZoom: ZOOM,
    maxZoom: ZOOM,
    bounds,
    center: [(trainBox[0] + trainBox[2]) / 2, (trainBox[1] + trainBox[3]) / 2, ZOOM],
    metadata: {
      name: `tilelens demo world (seed ${seed}, ${scale})`,
      attribution: ATTRIBUTION,
      description:
        'Synthetic aerial imagery at zoom 18 around Lilongwe (training region) and 8 km east (new region).',
      bounds,
      type: 'baselayer',
      format: 'jpg',
    },
  });
  await rename(`${files.footprints}.part`, files.footprints);
  await rename(`${files.tiles}.part`, files.tiles);

  const summary: WorldSummary = {
    version: WORLD_VERSION,
    seed,
    zoom: ZOOM,
    tileSize: TILE,
    scale,
    outDir,
    files,
    splitRule:
      "training region: seeded shuffle of its tiles cut at 75 / 12.5 / 12.5 % into 'train' / 'val' / 'test'; new region: every tile 'screen' (never trained or evaluated on)",
    regions: { train: regionInfo(train), new: regionInfo(next) },
    districts,
    phenomena,
    splits,
    buildings,
    plantedErrors,
    archiveBytes: written.bytes,
    seconds: round((performance.now() - started) / 1000, 2),
  };
  const { seconds: _s, outDir: _o, ...stable } = summary;
  // world.json holds only what the seed determines, so identical seeds give identical files.
  await writeFile(
    files.world,
    JSON.stringify(
      {
        ...stable,
        files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.slice(outDir.length + 1)])),
      },
      null,
      2,
    ) + '\n',
  );
  return summary;
}
