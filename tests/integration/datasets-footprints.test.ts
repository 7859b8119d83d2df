import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, gradient, tiff, useTempDir } from '../fixtures/dataset-files.ts';
import {
  imagerySpecFromArg,
  openFootprintsDataset,
} from '../../server/lib/datasets/footprints-over-imagery.ts';
import { lonLatToTile, tileBounds } from '../../server/lib/geo/tiles.ts';

let dir: string;
useTempDir((d) => (dir = d));

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
