/**
 * OSM-style building footprints over an imagery source: the z18 tiles covering the footprints' extent, imagery
 * fetched per tile, ground truth rasterised from the footprints — how OSM labels become training patches.
 */
import { FootprintIndex } from '../geo/rasterize.ts';
import { taskId, tileBounds, tilesCoveringBBox, type BBox } from '../geo/tiles.ts';
import { decodeTileImage } from '../imagery/decode.ts';
import { createImagerySource } from '../imagery/source-factory.ts';
import { parseImagerySpec, type ImagerySource, type ImagerySpec } from '../imagery/source.ts';
import { DatasetError, type Patch, type PatchSource } from './patch-source.ts';

export interface FootprintsOptions {
  zoom?: number;
  /** Refuse extents past this many tiles: a country-sized footprint file is a job for the scoring path. */
  maxTiles?: number;
  /** Tiles the imagery lacks: 'skip' (default, counted in the description) or 'fail'. */
  missing?: 'skip' | 'fail';
  group?: string;
}

/** Bounding box of every footprint vertex. */
export function footprintExtent(index: FootprintIndex): BBox {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  for (const f of index.features) {
    const parts = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const rings of parts) {
      for (const [x, y] of rings[0] ?? []) {
        if (x < w) w = x;
        if (x > e) e = x;
        if (y < s) s = y;
        if (y > n) n = y;
      }
    }
  }
  return [w, s, e, n];
}

/** Interprets `--imagery`: a .pmtiles or .tif path, an XYZ URL template, or a JSON imagery spec. */
export function imagerySpecFromArg(arg: string): ImagerySpec {
  const text = arg.trim();
  if (text.startsWith('{')) {
    try {
      return parseImagerySpec(JSON.parse(text));
    } catch (err) {
      throw new DatasetError(`--imagery ${text} is not a valid imagery spec: ${(err as Error).message}`);
    }
  }
  if (/\.pmtiles$/i.test(text)) return { kind: 'pmtiles', path: text };
  if (/\.tiff?$/i.test(text)) return { kind: 'geotiff', path: text };
  if (/^https?:\/\//.test(text) && text.includes('{z}')) return parseImagerySpec({ kind: 'xyz', url: text });
  throw new DatasetError(
    `--imagery ${text}: give a .pmtiles file, a GeoTIFF, an XYZ URL with {z}/{x}/{y}, or a JSON spec {"kind":…}`,
  );
}

export async function openFootprintsDataset(
  footprintsPath: string,
  imagery: ImagerySpec | ImagerySource,
  options: FootprintsOptions = {},
): Promise<PatchSource> {
  const z = options.zoom ?? 18;
  const index = FootprintIndex.fromFile(footprintsPath);
  if (index.size === 0) {
    throw new DatasetError(
      `footprints file ${footprintsPath} holds no building polygons; export buildings as Polygon features`,
    );
  }
  const bbox = footprintExtent(index);
  const range = tilesCoveringBBox(bbox, z);
  const count = (range.maxX - range.minX + 1) * (range.maxY - range.minY + 1);
  const maxTiles = options.maxTiles ?? 50_000;
  if (count > maxTiles) {
    throw new DatasetError(
      `footprints in ${footprintsPath} span ${count} z${z} tiles (limit ${maxTiles}); split the file by area or raise maxTiles`,
    );
  }
  const source = 'getTile' in imagery ? imagery : await createImagerySource(imagery);
  const group =
    options.group ??
    footprintsPath
      .split('/')
      .pop()!
      .replace(/\.(geo)?json$/i, '');
  const description: Record<string, unknown> = {
    footprints: footprintsPath,
    imagery: source.id,
    // The spec itself, so that a later pass (the evidence pass) can reopen the same imagery.
    imagerySpec: 'getTile' in imagery ? null : imagery,
    zoom: z,
    bbox,
    tiles: count,
    skippedTiles: 0,
  };
  let skipped = 0;
  return {
    name: `footprints:${group}`,
    kind: 'footprints',
    description,
    // A tile the imagery lacks is skipped, so the stream may end short of this; the analysis tolerates fewer.
    size: count,
    async *patches(): AsyncIterable<Patch> {
      for (let y = range.minY; y <= range.maxY; y++) {
        for (let x = range.minX; x <= range.maxX; x++) {
          const got = await source.getTile(z, x, y);
          const id = taskId(z, x, y);
          if (got.status !== 'ok') {
            if (options.missing === 'fail') {
              throw new DatasetError(
                `imagery ${source.id} has no tile ${id} (${got.status}: ${got.reason}); check its coverage of ${footprintsPath}`,
              );
            }
            description.skippedTiles = ++skipped;
            continue;
          }
          const img = await decodeTileImage(got.bytes, { label: `tile ${id} of ${source.id}` });
          const [w, s, e, n] = tileBounds(z, x, y);
          yield {
            key: id,
            group,
            split: 'all',
            tile: { z, x, y },
            center: [(w + e) / 2, (s + n) / 2],
            image: img.data,
            width: img.width,
            height: img.height,
            mask: index.maskForTile(z, x, y, img.width),
            phenomena: [],
          };
        }
      }
    },
    async close() {
      await source.close();
    },
  };
}
