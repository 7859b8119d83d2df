import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromFile, writeArrayBuffer, type GeotiffWriterMetadata } from 'geotiff';
import proj4 from 'proj4';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lonLatToTile, tileBounds, worldPixelToLonLat } from '../../server/lib/geo/tiles.ts';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import { ImageryError, type TileFetch } from '../../server/lib/imagery/source.ts';
import {
  affineFromTags,
  crsFromGeoKeys,
  GeoTiffSource,
  openGeoTiffSource,
  projectedDefinition,
} from '../../server/lib/imagery/geotiff-source.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-geotiff-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const Z = 16;
const UTM33N = '+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs';

/**
 * A raster whose colour encodes position: red rises with the column, green with the row, so any
 * tile pixel's expected colour follows from where it lands in the raster.
 */
function positionRaster(
  w: number,
  h: number,
  bands = 3,
  fill?: (col: number, row: number, out: number[]) => void,
): Uint8Array {
  const data = new Uint8Array(w * h * bands);
  const px: number[] = [];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      px[0] = Math.round((c * 255) / (w - 1));
      px[1] = Math.round((r * 255) / (h - 1));
      px[2] = 77;
      px[3] = 255;
      fill?.(c, r, px);
      for (let b = 0; b < bands; b++) data[(r * w + c) * bands + b] = px[b];
    }
  }
  return data;
}

async function writeTiff(
  name: string,
  values: ArrayLike<number>,
  meta: GeotiffWriterMetadata,
): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.from(writeArrayBuffer(values as Uint8Array, meta)));
  return path;
}

async function decode(r: TileFetch): Promise<Buffer> {
  if (r.status !== 'ok') throw new Error(`expected ok, got ${r.status}: ${r.reason}`);
  expect(r.contentType).toBe('image/jpeg');
  const { data, info } = await sharp(r.bytes).raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([256, 256, 3]);
  return data;
}

/** Compares tile pixels with where they should land (col, row in pixel-centre units). */
function expectPositions(
  data: Buffer,
  tile: { x: number; y: number },
  toColRow: (lon: number, lat: number) => [number, number],
  w: number,
  h: number,
): void {
  let worst = 0;
  for (const py of [8, 64, 128, 200, 247]) {
    for (const px of [8, 64, 128, 200, 247]) {
      const [lon, lat] = worldPixelToLonLat(tile.x * 256 + px + 0.5, tile.y * 256 + py + 0.5, Z);
      const [col, row] = toColRow(lon, lat);
      const o = (py * 256 + px) * 3;
      worst = Math.max(
        worst,
        Math.abs(data[o] - (col * 255) / (w - 1)),
        Math.abs(data[o + 1] - (row * 255) / (h - 1)),
        Math.abs(data[o + 2] - 77),
      );
    }
  }
  // JPEG at quality 90 over smooth gradients stays within a few levels.
  expect(worst).toBeLessThan(4);
}

describe('GeoTIFF in EPSG:4326', () => {
  const W = 400;
  const H = 400;
  const tile = lonLatToTile(10.0013, 45.0011, Z);
  const [tw, ts, te, tn] = tileBounds(Z, tile.x, tile.y);
  const resX = ((te - tw) * 1.6) / W;
  const resY = ((tn - ts) * 1.6) / H;
  const ox = tw - (te - tw) * 0.3;
  const oy = tn + (tn - ts) * 0.3;
  const geo = {
    GTModelTypeGeoKey: 2,
    GeographicTypeGeoKey: 4326,
    GTRasterTypeGeoKey: 1,
    ModelPixelScale: [resX, resY, 0],
    ModelTiepoint: [0, 0, 0, ox, oy, 0],
  };
  let path: string;
  let src: GeoTiffSource;

  beforeAll(async () => {
    path = await writeTiff('wgs84.tif', positionRaster(W, H), {
      width: W,
      height: H,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      ...geo,
    });
    src = (await createImagerySource({ kind: 'geotiff', path })) as GeoTiffSource;
  });
  afterAll(() => src.close());

  it('cuts a tile whose every pixel shows the raster pixel under it', async () => {
    const data = await decode(await src.getTile(Z, tile.x, tile.y));
    expectPositions(data, tile, (lon, lat) => [(lon - ox) / resX - 0.5, (oy - lat) / resY - 0.5], W, H);
  });

  it('reports bounds, CRS and a zoom from the resolution', () => {
    expect(src.crs.epsg).toBe(4326);
    const [w, s, e, n] = src.bounds;
    expect(w).toBeCloseTo(ox, 9);
    expect(n).toBeCloseTo(oy, 9);
    expect(e).toBeCloseTo(ox + W * resX, 9);
    expect(s).toBeCloseTo(oy - H * resY, 9);
    // 400 raster pixels span 1.6 tiles: about 1 raster pixel per tile pixel at zoom 16.
    expect(src.suggestedZoom).toBe(16);
    expect(src.maxZoom).toBe(18);
    expect(src.minZoom).toBeLessThanOrEqual(13);
  });

  it('a tile beyond the raster is missing; one across its edge is black outside it', async () => {
    const far = await src.getTile(Z, tile.x + 3, tile.y);
    expect(far.status).toBe('missing');
    const edge = await decode(await src.getTile(Z, tile.x + 1, tile.y));
    const inside = (0 * 256 + 10) * 3;
    const outside = (128 * 256 + 250) * 3;
    expect(edge[inside]).toBeGreaterThan(150);
    expect(edge[outside] + edge[outside + 1] + edge[outside + 2]).toBeLessThan(12);
  });

  it('a coarser zoom still reads the right place', async () => {
    const t = lonLatToTile(10.0013, 45.0011, Z - 2);
    const r = await src.getTile(Z - 2, t.x, t.y);
    expect(r.status).toBe('ok');
  });

  it('picks bands: [3,2,1] swaps red and blue', async () => {
    const bgr = await openGeoTiffSource({ kind: 'geotiff', path, bands: [3, 2, 1] });
    const a = await decode(await src.getTile(Z, tile.x, tile.y));
    const b = await decode(await bgr.getTile(Z, tile.x, tile.y));
    const o = (128 * 256 + 200) * 3;
    expect(Math.abs(b[o] - 77)).toBeLessThan(4);
    expect(Math.abs(b[o + 2] - a[o])).toBeLessThan(4);
    await bgr.close();
  });

  it('an invalid tile is an error result', async () => {
    expect((await src.getTile(Z, -1, 0)).status).toBe('error');
  });
});

describe('GeoTIFF in UTM zone 33N', () => {
  const W = 600;
  const H = 600;
  const tile = lonLatToTile(15.3, 45.0, Z);
  const toUtm = proj4('EPSG:4326', UTM33N);
  let ox = 0;
  let oy = 0;
  let src: GeoTiffSource;

  beforeAll(async () => {
    const [w, s, e, n] = tileBounds(Z, tile.x, tile.y);
    const corners = [
      toUtm.forward([w, s]),
      toUtm.forward([w, n]),
      toUtm.forward([e, s]),
      toUtm.forward([e, n]),
    ];
    ox = Math.floor(Math.min(...corners.map((c) => c[0]))) - 50;
    oy = Math.ceil(Math.max(...corners.map((c) => c[1]))) + 50;
    const path = await writeTiff('utm.tif', positionRaster(W, H), {
      width: W,
      height: H,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      GTModelTypeGeoKey: 1,
      ProjectedCSTypeGeoKey: 32633,
      GTRasterTypeGeoKey: 1,
      ModelPixelScale: [1, 1, 0],
      ModelTiepoint: [0, 0, 0, ox, oy, 0],
    });
    src = await openGeoTiffSource({ kind: 'geotiff', path });
  });
  afterAll(() => src.close());

  it('reprojects: tile pixels show the UTM raster pixel under them', async () => {
    const data = await decode(await src.getTile(Z, tile.x, tile.y));
    expectPositions(
      data,
      tile,
      (lon, lat) => {
        const [X, Y] = toUtm.forward([lon, lat]);
        return [X - ox - 0.5, oy - Y - 0.5];
      },
      W,
      H,
    );
  });

  it('suggests the zoom of a 1 m raster at 45°N', () => {
    expect(src.resolutionMetres).toBeCloseTo(1, 6);
    expect(src.suggestedZoom).toBe(17);
  });
});

describe('deeper than 8 bits, nodata and alpha', () => {
  const W = 256;
  const H = 256;
  const tile = lonLatToTile(-3.2, 40.1, Z);
  const [tw, ts, te, tn] = tileBounds(Z, tile.x, tile.y);
  // Exactly the tile, so tile pixel (px, py) is raster pixel (px, py) up to Mercator's curvature.
  const geo = {
    GTModelTypeGeoKey: 2,
    GeographicTypeGeoKey: 4326,
    GTRasterTypeGeoKey: 1,
    ModelPixelScale: [(te - tw) / W, (tn - ts) / H, 0],
    ModelTiepoint: [0, 0, 0, tw, tn, 0],
  };

  it('stretches 16-bit data by a configured range and by percentiles', async () => {
    const values = new Uint16Array(W * H);
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) values[r * W + c] = 1000 + c * 8;
    const path = await writeTiff('u16.tif', values, {
      width: W,
      height: H,
      SamplesPerPixel: 1,
      BitsPerSample: [16],
      ...geo,
    });
    const ranged = await openGeoTiffSource({ kind: 'geotiff', path, range: [1000, 1000 + 255 * 8] });
    const a = await decode(await ranged.getTile(Z, tile.x, tile.y));
    for (const px of [10, 100, 200, 245]) {
      const o = (128 * 256 + px) * 3;
      expect(Math.abs(a[o] - px)).toBeLessThan(4);
      expect(a[o]).toBe(a[o + 1]);
    }
    const auto = await openGeoTiffSource({ kind: 'geotiff', path });
    const b = await decode(await auto.getTile(Z, tile.x, tile.y));
    // 2nd..98th percentile of a uniform ramp: columns ≲ 5 go black, ≳ 250 white, the rest spread.
    expect(b[(128 * 256 + 2) * 3]).toBeLessThan(4);
    expect(b[(128 * 256 + 253) * 3]).toBeGreaterThan(251);
    expect(Math.abs(b[(128 * 256 + 128) * 3] - 128)).toBeLessThan(6);
    await ranged.close();
    await auto.close();
  });

  it('nodata pixels stay black and an all-nodata tile is missing', async () => {
    const data = positionRaster(W, H, 3, (c, _r, px) => {
      if (c < 128) px.fill(0, 0, 3);
    });
    const path = await writeTiff('nodata.tif', data, {
      width: W,
      height: H,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      GDAL_NODATA: '0',
      ...geo,
    });
    const src = await openGeoTiffSource({ kind: 'geotiff', path });
    const t = await decode(await src.getTile(Z, tile.x, tile.y));
    expect(t[(128 * 256 + 60) * 3]).toBeLessThan(4);
    expect(t[(128 * 256 + 200) * 3]).toBeGreaterThan(150);
    // The left quarter-tile at zoom Z+1's left column lies wholly in nodata.
    expect((await src.getTile(Z + 1, tile.x * 2, tile.y * 2)).status).toBe('missing');
    await src.close();
  });

  it('drops an alpha band and treats alpha 0 as empty', async () => {
    const data = positionRaster(W, H, 4, (_c, r, px) => {
      px[3] = r < 128 ? 0 : 255;
    });
    const path = await writeTiff('rgba.tif', data, {
      width: W,
      height: H,
      SamplesPerPixel: 4,
      BitsPerSample: [8, 8, 8, 8],
      ExtraSamples: 2,
      ...geo,
    });
    const src = await openGeoTiffSource({ kind: 'geotiff', path });
    expect(src.samples).toEqual([0, 1, 2]);
    expect((await src.getTile(Z + 1, tile.x * 2, tile.y * 2)).status).toBe('missing');
    const t = await decode(await src.getTile(Z, tile.x, tile.y));
    expect(t[(200 * 256 + 100) * 3 + 2]).toBeGreaterThan(70);
    await src.close();
  });
});

describe('overviews', () => {
  it('reads the overview when a tile is much coarser than the raster, the full raster otherwise', async () => {
    // Full resolution is blue, the half-resolution overview red: the colour tells which was read.
    const tile = lonLatToTile(20.01, -10.01, Z);
    const [tw, ts, te, tn] = tileBounds(Z, tile.x, tile.y);
    const W = 512;
    const geo = { GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4326, ModelTiepoint: [0, 0, 0, tw, tn, 0] };
    const fullPath = await writeTiff(
      'full.tif',
      new Uint8Array(W * W * 3).map((_, k) => (k % 3 === 2 ? 200 : 0)),
      {
        width: W,
        height: W,
        SamplesPerPixel: 3,
        BitsPerSample: [8, 8, 8],
        ModelPixelScale: [(te - tw) / W, (tn - ts) / W, 0],
        ...geo,
      },
    );
    const ovPath = await writeTiff(
      'overview.tif',
      new Uint8Array((W / 2) ** 2 * 3).map((_, k) => (k % 3 === 0 ? 200 : 0)),
      {
        width: W / 2,
        height: W / 2,
        SamplesPerPixel: 3,
        BitsPerSample: [8, 8, 8],
        ModelPixelScale: [(2 * (te - tw)) / W, (2 * (tn - ts)) / W, 0],
        ...geo,
      },
    );
    const full = await fromFile(fullPath);
    const ov = await fromFile(ovPath);
    const image = await full.getImage();
    const affine = affineFromTags(
      { tiepoint: [0, 0, 0, tw, tn, 0], scale: [(te - tw) / W, (tn - ts) / W, 0], pixelIsPoint: false },
      fullPath,
    );
    const levels = [
      { image, factor: 1, width: W, height: W },
      { image: await ov.getImage(), factor: 2, width: W / 2, height: W / 2 },
    ];
    const crs = crsFromGeoKeys({ GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4326 }, fullPath);
    const src = new GeoTiffSource(
      full,
      fullPath,
      crs,
      affine,
      levels,
      [0, 1, 2],
      undefined,
      undefined,
      undefined,
      'o',
      undefined,
    );
    const centre = (128 * 256 + 128) * 3;
    // At Z the tile holds 512 raster pixels: 2 per tile pixel, so the overview suffices.
    const coarse = await decode(await src.getTile(Z, tile.x, tile.y));
    expect(coarse[centre]).toBeGreaterThan(180);
    expect(coarse[centre + 2]).toBeLessThan(20);
    // One zoom deeper a tile pixel is one raster pixel: only the full resolution will do.
    const fine = await decode(await src.getTile(Z + 1, tile.x * 2, tile.y * 2));
    expect(fine[centre + 2]).toBeGreaterThan(180);
    expect(fine[centre]).toBeLessThan(20);
    await src.close();
    await ov.close();
  });
});

describe('configuration errors', () => {
  it('a GeoTIFF without a CRS names the file and the fix', async () => {
    const path = await writeTiff('nocrs.tif', new Uint8Array(16), {
      width: 4,
      height: 4,
      GeoKeyDirectory: [1, 1, 0, 0],
      ModelPixelScale: [1, 1, 0],
      ModelTiepoint: [0, 0, 0, 0, 0, 0],
    });
    await expect(openGeoTiffSource({ kind: 'geotiff', path })).rejects.toThrow(
      /nocrs\.tif has no coordinate reference system; add one with `gdal_edit\.py -a_srs/,
    );
  });

  it('a missing file, a file that is no TIFF and a plain TIFF', async () => {
    await expect(openGeoTiffSource({ kind: 'geotiff', path: join(dir, 'absent.tif') })).rejects.toThrow(
      /absent\.tif does not exist/,
    );
    const junk = join(dir, 'junk.tif');
    await writeFile(junk, 'hello, not a tiff');
    await expect(openGeoTiffSource({ kind: 'geotiff', path: junk })).rejects.toThrow(
      /junk\.tif is not a GeoTIFF/,
    );
    const plain = join(dir, 'plain.tif');
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } })
      .tiff()
      .toFile(plain);
    await expect(openGeoTiffSource({ kind: 'geotiff', path: plain })).rejects.toThrow(ImageryError);
  });

  it('an unsupported EPSG code says how to reproject', () => {
    expect(() => crsFromGeoKeys({ GTModelTypeGeoKey: 1, ProjectedCSTypeGeoKey: 27700 }, '/d/gb.tif')).toThrow(
      /EPSG:27700.*gdalwarp -t_srs EPSG:3857 gb\.tif/,
    );
    expect(projectedDefinition(32633)).toContain('+zone=33');
    expect(projectedDefinition(32721)).toContain('+south');
    expect(projectedDefinition(32661)).toBeUndefined();
  });

  it('a band that does not exist', async () => {
    const path = await writeTiff('grey.tif', new Uint8Array(16), {
      width: 4,
      height: 4,
      ModelPixelScale: [0.001, 0.001, 0],
      ModelTiepoint: [0, 0, 0, 1, 1, 0],
    });
    await expect(openGeoTiffSource({ kind: 'geotiff', path, bands: [2] })).rejects.toThrow(
      /1 band\(s\); band 2/,
    );
  });
});

const RIO = '/work/shared/realdata/rio/images';
describe.skipIf(!existsSync(RIO))('real SpaceNet Rio GeoTIFF', () => {
  it('opens in Rio and cuts a tile with content', async () => {
    const file = readdirSync(RIO).find((f) => f.endsWith('.tif'))!;
    const src = await openGeoTiffSource({ kind: 'geotiff', path: join(RIO, file) });
    const [w, s, e, n] = src.bounds;
    expect(w).toBeGreaterThan(-44);
    expect(e).toBeLessThan(-43);
    expect(s).toBeGreaterThan(-23.1);
    expect(n).toBeLessThan(-22.8);
    const t = lonLatToTile((w + e) / 2, (s + n) / 2, src.suggestedZoom);
    const data = await decode(await src.getTile(src.suggestedZoom, t.x, t.y));
    let lit = 0;
    for (let k = 0; k < data.length; k += 3) if (data[k] + data[k + 1] + data[k + 2] > 30) lit++;
    expect(lit).toBeGreaterThan(1000);
    await src.close();
  });
});
