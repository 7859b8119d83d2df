/**
 * GeoTIFF image / mask pairs with their coordinates: every patch records the lon/lat of its centre, in
 * whatever CRS the file declares (EPSG:4326, Web Mercator, UTM — the CRS code of the imagery sources).
 * Image and mask must share CRS, size and geotransform: a mask shifted by a pixel is a wrong label.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fromFile } from 'geotiff';
import proj4 from 'proj4';
import { applyAffine, geoReferenceOf, type Affine, type RasterCrs } from '../imagery/geotiff-source.ts';
import { ImageryError } from '../imagery/source.ts';
import {
  findMaskDir,
  matchPairs,
  openPairsDataset,
  type ImagePair,
  type PairPatchOptions,
} from './folder.ts';
import { DatasetError, type PatchSource } from './patch-source.ts';

export interface GeoReference {
  crs: RasterCrs;
  affine: Affine;
  width: number;
  height: number;
}

/** CRS and geotransform of a GeoTIFF; a file without them cannot be placed and is refused. */
export async function readGeoReference(path: string): Promise<GeoReference> {
  const tiff = await fromFile(path).catch((err: Error) => {
    throw new DatasetError(
      `file ${path} is not a GeoTIFF (${err.message}); give .tif files written by GDAL or a GIS`,
    );
  });
  try {
    const image = await tiff.getImage(0);
    try {
      const { crs, affine } = geoReferenceOf(image, path);
      return { crs, affine, width: image.getWidth(), height: image.getHeight() };
    } catch (err) {
      if (err instanceof ImageryError) throw new DatasetError(err.message);
      throw err;
    }
  } finally {
    await tiff.close();
  }
}

/** Pixel (col, row) of a raster to lon/lat. */
export function pixelToLonLat(ref: GeoReference, col: number, row: number): [number, number] {
  const [X, Y] = applyAffine(ref.affine, col, row);
  if (!ref.crs.proj) return [X, Y];
  const [lon, lat] = proj4(ref.crs.proj, 'EPSG:4326').forward([X, Y]);
  return [lon, lat];
}

/** Refuses a mask that does not lie exactly on its image. */
export function checkSameGrid(image: string, a: GeoReference, mask: string, b: GeoReference): void {
  if (a.crs.epsg !== b.crs.epsg) {
    throw new DatasetError(
      `image ${image} is in EPSG:${a.crs.epsg} but its mask ${mask} is in EPSG:${b.crs.epsg}; ` +
        `warp the mask onto the image grid (gdalwarp -t_srs EPSG:${a.crs.epsg} -te … -ts ${a.width} ${a.height})`,
    );
  }
  if (a.width !== b.width || a.height !== b.height) {
    throw new DatasetError(
      `image ${image} is ${a.width}×${a.height} but its mask ${mask} is ${b.width}×${b.height}; ` +
        're-export the mask on the image grid',
    );
  }
  const pixel = Math.hypot(a.affine[1], a.affine[4]);
  const [ax, ay] = applyAffine(a.affine, a.width, a.height);
  const [bx, by] = applyAffine(b.affine, b.width, b.height);
  const off = Math.max(
    Math.abs(a.affine[0] - b.affine[0]),
    Math.abs(a.affine[3] - b.affine[3]),
    Math.abs(ax - bx),
    Math.abs(ay - by),
  );
  if (off > pixel / 2) {
    throw new DatasetError(
      `image ${image} and its mask ${mask} cover different ground (offset ${(off / pixel).toFixed(1)} pixels); ` +
        're-export the mask with the image geotransform',
    );
  }
}

/**
 * A folder of GeoTIFF pairs: `DIR/images` + `DIR/masks` (or `gt`, `labels`), matched by name. Each patch's
 * centre is recorded in lon/lat so the analysis can put it on the map.
 */
export async function openGeoTiffPairsDataset(
  dir: string,
  options: PairPatchOptions & { group?: string } = {},
): Promise<PatchSource> {
  const root = resolve(dir);
  const imagesDir = join(root, 'images');
  const masksDir = findMaskDir(root);
  if (!existsSync(imagesDir) || !masksDir) {
    throw new DatasetError(
      `GeoTIFF folder ${root} needs an images/ folder and a masks/ (or gt/, labels/) folder of GeoTIFFs with the same names`,
    );
  }
  const pairs = matchPairs(imagesDir, masksDir, options.group ?? basename(root));
  const refs = new Map<string, GeoReference>();
  for (const p of pairs) {
    const [a, b] = await Promise.all([readGeoReference(p.image), readGeoReference(p.mask)]);
    checkSameGrid(p.image, a, p.mask, b);
    refs.set(p.image, a);
  }
  const locate = (pair: ImagePair, col: number, row: number): [number, number] =>
    pixelToLonLat(refs.get(pair.image)!, col, row);
  return openPairsDataset(
    pairs,
    {
      name: `geotiff:${basename(root)}`,
      kind: 'geotiff',
      description: { dir: root, crs: [...new Set([...refs.values()].map((r) => `EPSG:${r.crs.epsg}`))] },
    },
    { root, ...options, locate },
  );
}
