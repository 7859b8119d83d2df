import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import proj4 from 'proj4';
import { describe, expect, it } from 'vitest';
import { collect, rectMask, tiff, useTempDir } from '../fixtures/dataset-files.ts';
import { openGeoTiffPairsDataset } from '../../server/lib/datasets/geotiff-pairs.ts';

let dir: string;
useTempDir((d) => (dir = d));

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
    // Any point of a patch: (10, 20) of the second window is pixel (74, 20) of the file.
    const [lon2, lat2] = proj4('+proj=utm +zone=30 +datum=WGS84 +units=m +no_defs', 'EPSG:4326').forward([
      500_000 + 74 * 0.5,
      620_000 - 20 * 0.5,
    ]);
    expect(patches[1].place!(10, 20)[0]).toBeCloseTo(lon2, 7);
    expect(patches[1].place!(10, 20)[1]).toBeCloseTo(lat2, 7);
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
