import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArrayBuffer, type GeotiffWriterMetadata } from 'geotiff';
import proj4 from 'proj4';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lonLatToTile, tileBounds, worldPixelToLonLat } from '../../server/lib/geo/tiles.ts';
import {
  GeoTiffMosaicSource,
  OPEN_FILES,
  openGeoTiffFolderSource,
} from '../../server/lib/imagery/geotiff-mosaic-source.ts';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import { ImageryError, parseImagerySpec, type TileFetch } from '../../server/lib/imagery/source.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-mosaic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const Z = 17;
const UTM33N = '+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs';
const tile = lonLatToTile(15.0013, 45.0011, Z);
const [tw, ts, te, tn] = tileBounds(Z, tile.x, tile.y);
const tileW = te - tw;
const tileH = tn - ts;

async function writeTiff(
  folder: string,
  name: string,
  values: Uint8Array,
  meta: GeotiffWriterMetadata,
): Promise<string> {
  await mkdir(folder, { recursive: true });
  const path = join(folder, name);
  await writeFile(path, Buffer.from(writeArrayBuffer(values, meta)));
  return path;
}

function solid(w: number, h: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let k = 0; k < w * h; k++) data.set(rgb, k * 3);
  return data;
}

/** An EPSG:4326 raster over [west, south, east, north]; GeographicTypeGeoKey must be set for the CRS to be read. */
function wgs84(w: number, h: number, [west, south, east, north]: number[]): GeotiffWriterMetadata {
  return {
    width: w,
    height: h,
    SamplesPerPixel: 3,
    BitsPerSample: [8, 8, 8],
    GTModelTypeGeoKey: 2,
    GeographicTypeGeoKey: 4326,
    GTRasterTypeGeoKey: 1,
    ModelPixelScale: [(east - west) / w, (north - south) / h, 0],
    ModelTiepoint: [0, 0, 0, west, north, 0],
  };
}

async function pixels(r: TileFetch): Promise<Buffer> {
  if (r.status !== 'ok') throw new Error(`expected ok, got ${r.status}: ${r.reason}`);
  return (await sharp(r.bytes).raw().toBuffer({ resolveWithObject: true })).data;
}

const at = (data: Buffer, px: number, py: number) =>
  Array.from(data.subarray((py * 256 + px) * 3, (py * 256 + px) * 3 + 3));
const near = (got: number[], want: number[]) => got.every((v, i) => Math.abs(v - want[i]) <= 12);

describe('a folder of GeoTIFFs as one mosaic', () => {
  let folder: string;
  let src: GeoTiffMosaicSource;

  beforeAll(async () => {
    folder = join(dir, 'two');
    // West half red, east half blue, split at the tile's middle; a UTM file north of the tile, away from both.
    await writeTiff(
      folder,
      'a-west.tif',
      solid(64, 64, [220, 20, 20]),
      wgs84(64, 64, [tw - tileW, ts - tileH, tw + tileW / 2, tn + tileH]),
    );
    await writeTiff(
      folder,
      'b-east.tif',
      solid(64, 64, [20, 20, 220]),
      wgs84(64, 64, [tw + tileW / 2, ts - tileH, te + tileW, tn + tileH]),
    );
    const [ox, oy] = proj4('EPSG:4326', UTM33N).forward([tw, tn + 3 * tileH]) as [number, number];
    await writeTiff(folder, 'c-utm.tif', solid(100, 100, [20, 200, 20]), {
      width: 100,
      height: 100,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      GTModelTypeGeoKey: 1,
      ProjectedCSTypeGeoKey: 32633,
      GTRasterTypeGeoKey: 1,
      ModelPixelScale: [1, 1, 0],
      ModelTiepoint: [0, 0, 0, ox, oy, 0],
    });
    await writeFile(join(folder, 'readme.txt'), 'not imagery');
    src = (await createImagerySource({ kind: 'geotiff-folder', path: folder })) as GeoTiffMosaicSource;
  });
  afterAll(() => src.close());

  it('indexes every file and reports the union of their bounds', () => {
    expect(src.kind).toBe('geotiff-folder');
    expect(src.files.map((f) => f.path.split('/').pop())).toEqual(['a-west.tif', 'b-east.tif', 'c-utm.tif']);
    expect(src.warnings).toEqual([]);
    const [w, s, e, n] = src.bounds;
    expect(w).toBeCloseTo(tw - tileW, 9);
    expect(s).toBeCloseTo(ts - tileH, 9);
    expect(e).toBeGreaterThanOrEqual(te + tileW - 1e-9);
    expect(n).toBeGreaterThan(tn + 3 * tileH - 1e-6);
    expect(src.suggestedZoom).toBeGreaterThanOrEqual(Math.max(...src.files.map((f) => f.suggestedZoom)));
  });

  it('composites a tile that straddles two files: each half shows its own file', async () => {
    const data = await pixels(await src.getTile(Z, tile.x, tile.y));
    expect(near(at(data, 40, 128), [220, 20, 20])).toBe(true);
    expect(near(at(data, 215, 128), [20, 20, 220])).toBe(true);
    // No black seam between the files (JPEG's chroma subsampling softens a red/blue edge, never to black).
    for (const px of [120, 126, 127, 128, 129, 135])
      expect(Math.max(...at(data, px, 128))).toBeGreaterThan(100);
  });

  it('reads a UTM file through the same mosaic', async () => {
    // The 100 m raster starts at the top-left corner of the tile three rows north.
    const [lon, lat] = worldPixelToLonLat(tile.x * 256 + 30, (tile.y - 3) * 256 + 30, Z);
    const t = lonLatToTile(lon, lat, Z);
    expect(t).toEqual({ z: Z, x: tile.x, y: tile.y - 3 });
    const data = await pixels(await src.getTile(Z, t.x, t.y));
    expect(near(at(data, 30, 30), [20, 200, 20])).toBe(true);
    expect(near(at(data, 250, 250), [0, 0, 0])).toBe(true);
  });

  it('a tile outside every file is missing, not an error', async () => {
    const r = await src.getTile(Z, tile.x + 40, tile.y + 40);
    expect(r.status).toBe('missing');
    expect(await src.getTile(Z, -1, 0)).toMatchObject({ status: 'error' });
  });

  it('the first file by name wins where files overlap', async () => {
    const overlap = join(dir, 'overlap');
    await writeTiff(overlap, '1-red.tif', solid(32, 32, [220, 20, 20]), wgs84(32, 32, [tw, ts, te, tn]));
    await writeTiff(
      overlap,
      '2-blue.tif',
      solid(32, 32, [20, 20, 220]),
      wgs84(32, 32, [tw - tileW, ts - tileH, te + tileW, tn + tileH]),
    );
    const m = await openGeoTiffFolderSource({ kind: 'geotiff-folder', path: overlap });
    try {
      const data = await pixels(await m.getTile(Z, tile.x, tile.y));
      expect(near(at(data, 128, 128), [220, 20, 20])).toBe(true);
      const next = await pixels(await m.getTile(Z, tile.x + 1, tile.y));
      expect(near(at(next, 128, 128), [20, 20, 220])).toBe(true);
    } finally {
      await m.close();
    }
  });
});

describe('bounded memory', () => {
  it(`keeps at most ${OPEN_FILES} files open however many tiles it cuts`, async () => {
    const folder = join(dir, 'strip');
    const n = OPEN_FILES + 4;
    for (let i = 0; i < n; i++) {
      const west = tw + i * tileW;
      await writeTiff(
        folder,
        `chip-${String(i).padStart(2, '0')}.tif`,
        solid(16, 16, [10 * i, 100, 100]),
        wgs84(16, 16, [west, ts, west + tileW, tn]),
      );
    }
    const m = await openGeoTiffFolderSource({ kind: 'geotiff-folder', path: folder });
    try {
      expect(m.files).toHaveLength(n);
      for (let i = 0; i < n; i++) {
        expect((await m.getTile(Z, tile.x + i, tile.y)).status).toBe('ok');
        expect(m.openFiles).toBeLessThanOrEqual(OPEN_FILES);
      }
      // An evicted file opens again when its tile is asked for once more.
      expect((await m.getTile(Z, tile.x, tile.y)).status).toBe('ok');
    } finally {
      await m.close();
    }
    expect(m.openFiles).toBe(0);
  });
});

describe('bad folders', () => {
  it('a folder without GeoTIFFs, and a path that is no folder', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'notes.txt'), 'x');
    await expect(openGeoTiffFolderSource({ kind: 'geotiff-folder', path: empty })).rejects.toThrow(
      /holds no GeoTIFF \(\.tif or \.tiff\)/,
    );
    await expect(
      openGeoTiffFolderSource({ kind: 'geotiff-folder', path: join(dir, 'absent') }),
    ).rejects.toThrow(ImageryError);
  });

  it('a file without CRS is skipped with a warning that names it and the fix; refused only when none is usable', async () => {
    const folder = join(dir, 'mixed');
    // The writer fills in the object it is given, so each file gets a fresh one.
    const noCrs = () => ({
      width: 4,
      height: 4,
      GeoKeyDirectory: [1, 1, 0, 0],
      ModelPixelScale: [1, 1, 0],
      ModelTiepoint: [0, 0, 0, 0, 0, 0],
    });
    await writeTiff(folder, 'good.tif', solid(16, 16, [200, 200, 200]), wgs84(16, 16, [tw, ts, te, tn]));
    await writeTiff(folder, 'nocrs.tif', new Uint8Array(16), noCrs());
    const m = await openGeoTiffFolderSource({ kind: 'geotiff-folder', path: folder });
    try {
      expect(m.files).toHaveLength(1);
      expect(m.warnings).toHaveLength(1);
      expect(m.warnings[0]).toMatch(
        /^nocrs\.tif skipped: .*no coordinate reference system; add one with `gdal_edit\.py -a_srs/,
      );
    } finally {
      await m.close();
    }
    const bad = join(dir, 'bad');
    await writeTiff(bad, 'nocrs.tif', new Uint8Array(16), noCrs());
    await expect(openGeoTiffFolderSource({ kind: 'geotiff-folder', path: bad })).rejects.toThrow(
      /none of the 1 GeoTIFF\(s\) .* can be used; fix them or remove them.*nocrs\.tif skipped/,
    );
  });

  it('the spec parses; the file kind refuses a folder and names the folder kind', async () => {
    expect(parseImagerySpec({ kind: 'geotiff-folder', path: '/x', bands: [3, 2, 1] }).kind).toBe(
      'geotiff-folder',
    );
    expect(() => parseImagerySpec({ kind: 'geotiff-folder' })).toThrow(ImageryError);
    await expect(createImagerySource({ kind: 'geotiff', path: join(dir, 'two') })).rejects.toThrow(
      /is a folder; give \{kind: 'geotiff-folder', path\}/,
    );
    const m = await createImagerySource({ kind: 'geotiff-folder', path: join(dir, 'two') });
    expect(m.kind).toBe('geotiff-folder');
    await m.close();
  });
});
