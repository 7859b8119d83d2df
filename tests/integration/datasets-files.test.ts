import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { writeArrayBuffer, type GeotiffWriterMetadata } from 'geotiff';
import proj4 from 'proj4';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFolderDataset } from '../../server/lib/datasets/folder.ts';
import {
  imagerySpecFromArg,
  openFootprintsDataset,
} from '../../server/lib/datasets/footprints-over-imagery.ts';
import { openGeoTiffPairsDataset } from '../../server/lib/datasets/geotiff-pairs.ts';
import { openManifestDataset } from '../../server/lib/datasets/manifest.ts';
import { openDataset } from '../../server/lib/datasets/open-dataset.ts';
import type { Patch, PatchSource } from '../../server/lib/datasets/patch-source.ts';
import { lonLatToTile, tileBounds } from '../../server/lib/geo/tiles.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-datasets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(source: PatchSource): Promise<Patch[]> {
  const out: Patch[] = [];
  for await (const p of source.patches()) out.push(p);
  await source.close();
  return out;
}

/** An RGB image whose red channel is the column and green the row (mod 256), so crops can be checked. */
function gradient(w: number, h: number, channels = 3): Buffer {
  const b = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * channels;
      b[o] = x % 256;
      b[o + 1] = y % 256;
      b[o + 2] = 50;
      if (channels === 4) b[o + 3] = 200;
    }
  return b;
}

/** Single-band mask: `value` inside the rectangle, 0 outside. */
function rectMask(w: number, h: number, value: number, [x0, y0, x1, y1]: number[]): Buffer {
  const b = Buffer.alloc(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) b[y * w + x] = value;
  return b;
}

async function png(path: string, data: Buffer, w: number, h: number, channels: 1 | 3 | 4) {
  await sharp(data, { raw: { width: w, height: h, channels } })
    .png()
    .toFile(path);
}

/** A palette PNG (colour type 3) written by hand, so its palette is exactly the one given. */
function palettePng(w: number, h: number, indices: Uint8Array, palette: number[][]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 3;
  const rows = Buffer.alloc(h * (w + 1));
  for (let y = 0; y < h; y++) rows.set(indices.subarray(y * w, (y + 1) * w), y * (w + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function tiff(path: string, values: ArrayLike<number>, meta: GeotiffWriterMetadata) {
  await writeFile(path, Buffer.from(writeArrayBuffer(values as Uint8Array, meta)));
}

describe('folder pairs', () => {
  let root: string;
  beforeAll(async () => {
    root = join(dir, 'inria');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'gt'), { recursive: true });
    // 300×200 JPEG with a PNG mask of another extension; 0/255 mask.
    await sharp(gradient(300, 200), { raw: { width: 300, height: 200, channels: 3 } })
      .jpeg({ quality: 95 })
      .toFile(join(root, 'images/a.jpg'));
    await png(join(root, 'gt/a.png'), rectMask(300, 200, 255, [10, 10, 50, 40]), 300, 200, 1);
    // RGBA image with a 0/1 mask.
    await png(join(root, 'images/b.png'), gradient(128, 128, 4), 128, 128, 4);
    await png(join(root, 'gt/b.png'), rectMask(128, 128, 1, [0, 0, 64, 128]), 128, 128, 1);
  });

  it('matches by name across extensions, cuts windows and pads the edge', async () => {
    const source = await openFolderDataset(join(root, 'images'), join(root, 'gt'), { patchSize: 128 });
    // a: 3×2 windows (300 → 0,128,256; 200 → 0,128); b: 1.
    expect(source.size).toBe(7);
    const patches = await collect(source);
    expect(patches.map((p) => p.key)).toContain('images/a.jpg#256,128,44,72');
    const edge = patches.find((p) => p.key === 'images/a.jpg#256,128,44,72')!;
    expect(edge.width).toBe(128);
    // Past the image: black and background.
    expect(edge.image[(100 * 128 + 100) * 3]).toBe(0);
    const first = patches.find((p) => p.key === 'images/a.jpg#0,0,128,128')!;
    expect(first.mask[20 * 128 + 20]).toBe(1);
    expect(first.mask[60 * 128 + 60]).toBe(0);
    expect(Math.abs(first.image[(5 * 128 + 100) * 3] - 100)).toBeLessThan(6);
    const b = patches.find((p) => p.key.startsWith('images/b.png'))!;
    // Alpha dropped: RGB only, blue band is the image's, not the alpha.
    expect(b.image.length).toBe(128 * 128 * 3);
    expect(b.image[2]).toBe(50);
    expect(b.mask[10]).toBe(1);
    expect(b.mask[100]).toBe(0);
    expect(patches.every((p) => p.group === 'inria')).toBe(true);
  });

  it('drops the ragged edge, or resizes whole images to one size', async () => {
    const dropped = await openFolderDataset(join(root, 'images'), join(root, 'gt'), {
      patchSize: 128,
      edge: 'drop',
    });
    expect(dropped.size).toBe(3);
    const resized = await collect(
      await openFolderDataset(join(root, 'images'), join(root, 'gt'), { patchSize: 64, mode: 'resize' }),
    );
    expect(resized.map((p) => [p.key, p.width, p.height])).toEqual([
      ['images/a.jpg', 64, 64],
      ['images/b.png', 64, 64],
    ]);
  });

  it('names unmatched images, empty folders and size mismatches', async () => {
    const bad = join(dir, 'bad');
    await mkdir(join(bad, 'images'), { recursive: true });
    await mkdir(join(bad, 'masks'), { recursive: true });
    await expect(openFolderDataset(join(bad, 'images'), join(bad, 'masks'))).rejects.toThrow(
      /images folder .*bad\/images holds no/,
    );
    await png(join(bad, 'images/x.png'), gradient(64, 64), 64, 64, 3);
    await png(join(bad, 'images/lonely.png'), gradient(64, 64), 64, 64, 3);
    await png(join(bad, 'masks/x.png'), rectMask(32, 64, 255, [0, 0, 4, 4]), 32, 64, 1);
    await expect(openFolderDataset(join(bad, 'images'), join(bad, 'masks'))).rejects.toThrow(
      /1 of 2 images .* have no mask of the same name .*\(e\.g\. lonely\.png\)/,
    );
    await rm(join(bad, 'images/lonely.png'));
    await expect(openFolderDataset(join(bad, 'images'), join(bad, 'masks'))).rejects.toThrow(
      /image .*x\.png is 64×64 but its mask .*x\.png is 32×64/,
    );
  });
});

describe('masks and band depths', () => {
  it('multi-class masks need --target-class; palette masks list their indices', async () => {
    const root = join(dir, 'classes');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'masks'), { recursive: true });
    await png(join(root, 'images/m.png'), gradient(64, 64), 64, 64, 3);
    const classes = rectMask(64, 64, 1, [0, 0, 32, 64]);
    for (let i = 0; i < 64; i++) classes[i] = 3; // first row: road
    await png(join(root, 'masks/m.png'), classes, 64, 64, 1);
    const open = (targetClass?: number) =>
      openFolderDataset(join(root, 'images'), join(root, 'masks'), {
        patchSize: 64,
        ...(targetClass !== undefined ? { targetClass } : {}),
      });
    await expect(collect(await open())).rejects.toThrow(/m\.png holds the values 0, 1, 3.*--target-class N/);
    const [p] = await collect(await open(1));
    expect(p.mask[64 + 5]).toBe(1);
    expect(p.mask[5]).toBe(0); // road row is not building
    expect(p.mask[64 + 40]).toBe(0);

    const idx = new Uint8Array(64 * 64).fill(0);
    idx.fill(2, 0, 64 * 10);
    await writeFile(
      join(root, 'masks/m.png'),
      palettePng(64, 64, idx, [
        [0, 0, 0],
        [10, 10, 10],
        [200, 30, 30],
      ]),
    );
    await expect(collect(await open())).rejects.toThrow(
      /palette PNG whose pixels use palette indices 0, 2; pass --target-class/,
    );
    const [q] = await collect(await open(2));
    expect(q.mask[5]).toBe(1);
    expect(q.mask[64 * 20]).toBe(0);
  });

  it('16-bit and 4-band GeoTIFF imagery arrives as stretched RGB', async () => {
    const root = join(dir, 'deep');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'masks'), { recursive: true });
    const w = 64;
    const h = 64;
    const values = new Uint16Array(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      values[i * 4] = 300 + (i % w) * 40; // red rises with the column
      values[i * 4 + 1] = 2000;
      values[i * 4 + 2] = 1000 + Math.floor(i / w) * 10;
      values[i * 4 + 3] = 9999; // NIR, dropped
    }
    await tiff(join(root, 'images/d.tif'), values, {
      width: w,
      height: h,
      SamplesPerPixel: 4,
      BitsPerSample: [16, 16, 16, 16],
    });
    await png(join(root, 'masks/d.png'), rectMask(w, h, 255, [0, 0, 8, 8]), w, h, 1);
    const [p] = await collect(
      await openFolderDataset(join(root, 'images'), join(root, 'masks'), { patchSize: 64 }),
    );
    expect(p.image[0]).toBe(0);
    expect(p.image[(w - 1) * 3]).toBe(255);
    expect(p.image[(10 * w + 32) * 3]).toBeGreaterThan(100);
    expect(p.image[(10 * w + 32) * 3]).toBeLessThan(160);
    expect(p.mask[0]).toBe(1);
  });
});

describe('manifest', () => {
  it('resolves paths against the CSV, groups by a column and reports a missing column', async () => {
    const root = join(dir, 'man');
    await mkdir(join(root, 'x'), { recursive: true });
    await png(join(root, 'x/i1.png'), gradient(64, 64), 64, 64, 3);
    await png(join(root, 'x/m1.png'), rectMask(64, 64, 255, [0, 0, 8, 8]), 64, 64, 1);
    await png(join(root, 'x/i2.png'), gradient(64, 64), 64, 64, 3);
    await png(join(root, 'x/m2.png'), rectMask(64, 64, 255, [0, 0, 8, 8]), 64, 64, 1);
    const csv = join(root, 'list.csv');
    await writeFile(csv, 'image,mask,city,note\nx/i1.png,x/m1.png,Accra,"a, b"\nx/i2.png,x/m2.png,Rio,\n');
    const patches = await collect(await openManifestDataset(csv, { groupColumn: 'city', patchSize: 64 }));
    expect(patches.map((p) => [p.key, p.group])).toEqual([
      ['x/i1.png#0,0,64,64', 'Accra'],
      ['x/i2.png#0,0,64,64', 'Rio'],
    ]);
    await expect(openManifestDataset(csv, { groupColumn: 'district' })).rejects.toThrow(
      /no column 'district' .*fix --group-column/,
    );
    const viaSpec = await openDataset({ manifest: csv, patchSize: 32 });
    expect(viaSpec.size).toBe(8);
    await expect(openDataset({ manifest: csv, images: root })).rejects.toThrow(/named twice/);
  });
});

describe('GeoTIFF pairs', () => {
  const w = 96;
  const h = 80;
  const utm = {
    GTModelTypeGeoKey: 1,
    ProjectedCSTypeGeoKey: 32630,
    GTRasterTypeGeoKey: 1,
    ModelPixelScale: [0.5, 0.5, 0],
    ModelTiepoint: [0, 0, 0, 500_000, 620_000, 0],
  };
  const rgb = (n: number) => Uint8Array.from({ length: n * 3 }, (_, i) => i % 251);

  it('records patch centres in lon/lat from a UTM file', async () => {
    const root = join(dir, 'geo');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'masks'), { recursive: true });
    await tiff(join(root, 'images/t.tif'), rgb(w * h), {
      width: w,
      height: h,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      ...utm,
    });
    await tiff(join(root, 'masks/t.tif'), rectMask(w, h, 255, [0, 0, 10, 10]), {
      width: w,
      height: h,
      ...utm,
    });
    const patches = await collect(await openGeoTiffPairsDataset(root, { patchSize: 64 }));
    expect(patches.map((p) => p.key)).toEqual([
      'images/t.tif#0,0,64,64',
      'images/t.tif#64,0,32,64',
      'images/t.tif#0,64,64,16',
      'images/t.tif#64,64,32,16',
    ]);
    const [lon, lat] = proj4('+proj=utm +zone=30 +datum=WGS84 +units=m +no_defs', 'EPSG:4326').forward([
      500_000 + 16,
      620_000 - 16,
    ]);
    expect(patches[0].center![0]).toBeCloseTo(lon, 6);
    expect(patches[0].center![1]).toBeCloseTo(lat, 6);
    expect(patches[0].mask[0]).toBe(1);
  });

  it('refuses a GeoTIFF without CRS and a mask in another CRS', async () => {
    const root = join(dir, 'geo-bad');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'masks'), { recursive: true });
    await tiff(join(root, 'images/n.tif'), rgb(16), {
      width: 4,
      height: 4,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      GeoKeyDirectory: [1, 1, 0, 0],
      ModelPixelScale: [1, 1, 0],
      ModelTiepoint: [0, 0, 0, 0, 0, 0],
    });
    await tiff(join(root, 'masks/n.tif'), new Uint8Array(16), { width: 4, height: 4, ...utm });
    await expect(openGeoTiffPairsDataset(root)).rejects.toThrow(
      /images\/n\.tif has no coordinate reference system; add one with `gdal_edit\.py -a_srs/,
    );
    await tiff(join(root, 'images/n.tif'), rgb(16), {
      width: 4,
      height: 4,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      ...utm,
    });
    await tiff(join(root, 'masks/n.tif'), new Uint8Array(16), {
      width: 4,
      height: 4,
      ...utm,
      ProjectedCSTypeGeoKey: 32631,
    });
    await expect(openGeoTiffPairsDataset(root)).rejects.toThrow(
      /is in EPSG:32630 but its mask .*n\.tif is in EPSG:32631; warp the mask/,
    );
  });
});

describe('footprints over imagery', () => {
  it('cuts the z18 tiles of the footprints extent and rasterises their masks', async () => {
    const root = join(dir, 'osm');
    await mkdir(root, { recursive: true });
    const { x, y } = lonLatToTile(-0.2, 5.6, 18);
    const [w, s, e, n] = tileBounds(18, x, y);
    const [, , e2] = tileBounds(18, x + 1, y);
    // Imagery covering two tiles side by side, in EPSG:4326, plus a margin.
    const W = 600;
    const H = 300;
    const resX = ((e2 - w) * 1.2) / W;
    const resY = ((n - s) * 1.2) / H;
    await tiff(join(root, 'img.tif'), gradient(W, H), {
      width: W,
      height: H,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      GTModelTypeGeoKey: 2,
      GeographicTypeGeoKey: 4326,
      GTRasterTypeGeoKey: 1,
      ModelPixelScale: [resX, resY, 0],
      ModelTiepoint: [0, 0, 0, w - (e2 - w) * 0.1, n + (n - s) * 0.1, 0],
    });
    const dx = (e - w) / 4;
    const dy = (n - s) / 4;
    // One building in the first tile's upper-left quarter, one straddling into the second tile.
    const square = (x0: number, y0: number) => ({
      type: 'Feature',
      properties: { building: 'yes' },
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [x0, y0],
            [x0 + dx, y0],
            [x0 + dx, y0 - dy],
            [x0, y0 - dy],
            [x0, y0],
          ],
        ],
      },
    });
    const geojson = {
      type: 'FeatureCollection',
      features: [square(w + dx * 0.2, n - dy * 0.2), square(e + dx, n - dy * 2)],
    };
    await writeFile(join(root, 'buildings.geojson'), JSON.stringify(geojson));
    const patches = await collect(
      await openFootprintsDataset(join(root, 'buildings.geojson'), {
        kind: 'geotiff',
        path: join(root, 'img.tif'),
      }),
    );
    expect(patches.map((p) => p.key)).toEqual([`18-${x}-${y}`, `18-${x + 1}-${y}`]);
    const first = patches[0];
    expect(first.width).toBe(256);
    expect(first.mask[40 * 256 + 40]).toBe(1);
    expect(first.mask[200 * 256 + 200]).toBe(0);
    expect(patches[1].mask[150 * 256 + 100]).toBe(1);
    expect(first.center![0]).toBeCloseTo((w + e) / 2, 9);
    expect(() => imagerySpecFromArg('nope')).toThrow(/--imagery nope: give a \.pmtiles file/);
    expect(imagerySpecFromArg(join(root, 'img.tif'))).toEqual({
      kind: 'geotiff',
      path: join(root, 'img.tif'),
    });
  });
});
