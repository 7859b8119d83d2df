/**
 * Image / mask pairs from files: a folder of images beside a folder of masks matched by name (`images/` +
 * `masks/`, Inria's `images/` + `gt/`), and the patch stream every file-pair source shares — one image and
 * its mask in memory at a time, cut into equal windows or resized to one size.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { fromFile } from 'geotiff';
import sharp from 'sharp';
import {
  cropWindow,
  cutWindows,
  resizeMaskNearest,
  resizeRgb,
  toRgb8,
  windowKey,
  type EdgePolicy,
  type Raster,
  type Window,
} from './cut.ts';
import { maskFromRaster, pngPalette } from './masks.ts';
import { DatasetError, type Patch, type PatchSource } from './patch-source.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp'];
const MASK_DIR_NAMES = ['masks', 'gt', 'labels', 'mask', 'annotations'];

export interface ImagePair {
  image: string;
  mask: string;
  /** Dataset of origin or any grouping the caller knows. */
  group: string;
}

export interface PairPatchOptions {
  /** Side of every patch handed to the analysis (default 256, a z18 tile). */
  patchSize?: number;
  /** 'cut' (default): windows of patchSize every `stride`; 'resize': the whole image resized to one patch. */
  mode?: 'cut' | 'resize';
  /** Window step; the patch size by default (no overlap). */
  stride?: number;
  /** Ragged right / bottom edge: 'pad' (default, zeros recorded in the key's w,h), 'drop' or 'shift'. */
  edge?: EdgePolicy;
  /** Building class of multi-class or palette masks. */
  targetClass?: number;
  /** Split of a pair ('train' / 'val' / 'test'); 'all' by default. Windows of one image share it. */
  split?: (pair: ImagePair) => string;
  /** Keys are paths relative to this folder (default: the common parent of the images). */
  root?: string;
  /** Lon/lat of a point of an image (pixel-corner coordinates), for sources that know where their pixels lie. */
  locate?: (pair: ImagePair, col: number, row: number) => [number, number];
}

const isTiff = (path: string) => /\.tiff?$/i.test(path);

/** Size of an image without decoding its pixels. */
export async function rasterSize(path: string): Promise<{ width: number; height: number }> {
  if (isTiff(path)) {
    const tiff = await fromFile(path).catch((err: Error) => {
      throw new DatasetError(
        `image ${path} is not a readable TIFF (${err.message}); re-save it as GeoTIFF, PNG or JPEG`,
      );
    });
    try {
      const img = await tiff.getImage(0);
      return { width: img.getWidth(), height: img.getHeight() };
    } finally {
      await tiff.close();
    }
  }
  const meta = await sharp(path)
    .metadata()
    .catch((err: Error) => {
      throw new DatasetError(
        `image ${path} cannot be read (${err.message}); give PNG, JPEG, WebP or TIFF files`,
      );
    });
  if (!meta.width || !meta.height)
    throw new DatasetError(`image ${path} has no size in its header; re-save it`);
  return { width: meta.width, height: meta.height };
}

/** Decodes a PNG / JPEG / WebP (sharp) or TIFF (geotiff, 16-bit and many bands kept) at its native depth. */
export async function readRaster(
  path: string,
): Promise<Raster & { palette?: Array<[number, number, number]> }> {
  if (isTiff(path)) {
    const tiff = await fromFile(path);
    try {
      const img = await tiff.getImage(0);
      const data = (await img.readRasters({ interleave: true })) as unknown as ArrayLike<number>;
      return {
        data,
        width: img.getWidth(),
        height: img.getHeight(),
        channels: img.getSamplesPerPixel(),
        bits: img.getBitsPerSample(0),
      };
    } finally {
      await tiff.close();
    }
  }
  const bytes = await readFile(path);
  const meta = await sharp(bytes).metadata();
  const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
  const { data, info } = await sharp(bytes)
    .raw(sixteen ? { depth: 'ushort' } : {})
    .toBuffer({ resolveWithObject: true });
  const samples = sixteen
    ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
    : new Uint8Array(data);
  const palette = meta.isPalette ? pngPalette(bytes) : undefined;
  return {
    data: samples,
    width: info.width,
    height: info.height,
    channels: info.channels,
    bits: sixteen ? 16 : 8,
    ...(palette ? { palette } : {}),
  };
}

const stem = (file: string) => basename(file, extname(file));

function imageFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()) && !f.startsWith('.'))
    .sort();
}

/** The masks folder beside `images/` when the caller names only the dataset folder. */
export function findMaskDir(datasetDir: string): string | undefined {
  return MASK_DIR_NAMES.map((d) => join(datasetDir, d)).find(
    (d) => existsSync(d) && statSync(d).isDirectory(),
  );
}

/**
 * Pairs images and masks by file name without extension (`a.jpg` ↔ `a.png`); a mask may also carry a
 * `_mask` / `_gt` / `_label` suffix. Every image must find its mask: a silent skip would bias the analysis.
 */
export function matchPairs(imagesDir: string, masksDir: string, group: string): ImagePair[] {
  for (const [dir, what] of [
    [imagesDir, 'images'],
    [masksDir, 'masks'],
  ] as const) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new DatasetError(`${what} folder ${dir} does not exist; pass --images DIR --masks DIR`);
    }
  }
  const images = imageFiles(imagesDir);
  const masks = imageFiles(masksDir);
  if (images.length === 0) {
    throw new DatasetError(
      `images folder ${imagesDir} holds no ${IMAGE_EXTENSIONS.join(' / ')} files; point --images at the imagery`,
    );
  }
  if (masks.length === 0) {
    throw new DatasetError(
      `masks folder ${masksDir} holds no ${IMAGE_EXTENSIONS.join(' / ')} files; point --masks at the labels`,
    );
  }
  const byStem = new Map<string, string>();
  for (const m of masks) {
    const s = stem(m);
    byStem.set(s, m);
    const bare = s.replace(/[_-](mask|gt|label|labels)$/i, '');
    if (bare !== s && !byStem.has(bare)) byStem.set(bare, m);
  }
  const pairs: ImagePair[] = [];
  const unmatched: string[] = [];
  for (const img of images) {
    const m = byStem.get(stem(img));
    if (m) pairs.push({ image: join(imagesDir, img), mask: join(masksDir, m), group });
    else unmatched.push(img);
  }
  if (unmatched.length > 0) {
    const few = unmatched.slice(0, 5).join(', ');
    throw new DatasetError(
      `${unmatched.length} of ${images.length} images in ${imagesDir} have no mask of the same name in ${masksDir} ` +
        `(e.g. ${few}${unmatched.length > 5 ? ', …' : ''}); add the masks or move those images out`,
    );
  }
  return pairs;
}

interface PlannedPair {
  pair: ImagePair;
  width: number;
  height: number;
  windows: Window[];
}

/**
 * Patches of a list of image / mask pairs. Sizes are read up front (headers only) so the stream's length is
 * known and a size mismatch fails before any inference.
 */
export async function openPairsDataset(
  pairs: ImagePair[],
  meta: { name: string; kind: PatchSource['kind']; description: Record<string, unknown> },
  options: PairPatchOptions = {},
): Promise<PatchSource> {
  if (pairs.length === 0)
    throw new DatasetError(`dataset ${meta.name} lists no image / mask pairs; check its source`);
  const size = options.patchSize ?? 256;
  const mode = options.mode ?? 'cut';
  const stride = options.stride ?? size;
  const edge = options.edge ?? 'pad';
  const root = options.root ?? commonParent(pairs.map((p) => p.image));
  const planned: PlannedPair[] = [];
  for (const pair of pairs) {
    const [im, ma] = await Promise.all([rasterSize(pair.image), rasterSize(pair.mask)]);
    if (im.width !== ma.width || im.height !== ma.height) {
      throw new DatasetError(
        `image ${pair.image} is ${im.width}×${im.height} but its mask ${pair.mask} is ${ma.width}×${ma.height}; ` +
          'masks must cover their image pixel for pixel — re-export the mask at the image size',
      );
    }
    const windows =
      mode === 'cut'
        ? cutWindows(im.width, im.height, size, stride, edge)
        : [{ x: 0, y: 0, w: im.width, h: im.height }];
    planned.push({ pair, ...im, windows });
  }
  const total = planned.reduce((a, p) => a + p.windows.length, 0);
  if (total === 0) {
    throw new DatasetError(
      `dataset ${meta.name}: every image is smaller than the ${size}-px patch and the edge policy is 'drop'; use --edge pad or a smaller --patch-size`,
    );
  }
  return {
    name: meta.name,
    kind: meta.kind,
    description: {
      ...meta.description,
      patchSize: size,
      mode,
      stride,
      edge,
      targetClass: options.targetClass ?? null,
      pairs: pairs.length,
    },
    size: total,
    async *patches(): AsyncIterable<Patch> {
      for (const p of planned) yield* pairPatches(p, root, size, mode, options);
    },
    async close() {},
  };
}

async function* pairPatches(
  p: PlannedPair,
  root: string,
  size: number,
  mode: 'cut' | 'resize',
  options: PairPatchOptions,
): AsyncGenerator<Patch> {
  const { pair } = p;
  const [imgRaster, maskRaster] = await Promise.all([readRaster(pair.image), readRaster(pair.mask)]);
  if (imgRaster.width !== p.width || imgRaster.height !== p.height) {
    throw new DatasetError(`image ${pair.image} changed size while being read; re-run the analysis`);
  }
  const rgb = toRgb8(imgRaster, pair.image);
  const mask = maskFromRaster(maskRaster, {
    label: pair.mask,
    ...(options.targetClass !== undefined ? { targetClass: options.targetClass } : {}),
    ...(maskRaster.palette ? { palette: maskRaster.palette } : {}),
  });
  const file = relative(root, pair.image) || basename(pair.image);
  const split = options.split?.(pair) ?? 'all';
  // A patch point (x, y) is image point (win.x + x · sx, win.y + y · sy): 1 for a cut window, the image's size
  // over the patch's for a resized image.
  const located = (win: Window, sx = 1, sy = 1) => {
    const locate = options.locate;
    if (!locate) return {};
    const place = (x: number, y: number) => locate(pair, win.x + x * sx, win.y + y * sy);
    return { center: locate(pair, win.x + win.w / 2, win.y + win.h / 2), place };
  };
  if (mode === 'resize') {
    yield {
      key: file,
      ...located({ x: 0, y: 0, w: p.width, h: p.height }, p.width / size, p.height / size),
      group: pair.group,
      split,
      image: await resizeRgb(rgb, p.width, p.height, size),
      width: size,
      height: size,
      mask: resizeMaskNearest(mask, p.width, p.height, size),
      phenomena: [],
    };
    return;
  }
  for (const win of p.windows) {
    yield {
      key: windowKey(file, win),
      ...located(win),
      group: pair.group,
      split,
      image: cropWindow(rgb, p.width, 3, win, size),
      width: size,
      height: size,
      mask: cropWindow(mask, p.width, 1, win, size),
      phenomena: [],
    };
  }
}

function commonParent(paths: string[]): string {
  const parts = paths.map((p) => resolve(p).split('/').slice(0, -1));
  const first = parts[0] ?? [];
  let n = first.length;
  for (const p of parts) {
    let i = 0;
    while (i < n && p[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join('/') || '/';
}

/** `images/` + `masks/` (or `gt/`, `labels/`) matched by name. */
export async function openFolderDataset(
  imagesDir: string,
  masksDir: string,
  options: PairPatchOptions & { group?: string } = {},
): Promise<PatchSource> {
  const images = resolve(imagesDir);
  const masks = resolve(masksDir);
  const group = options.group ?? basename(resolve(images, '..'));
  const pairs = matchPairs(images, masks, group);
  return openPairsDataset(
    pairs,
    { name: `folder:${group}`, kind: 'folder', description: { images, masks } },
    { root: resolve(images, '..'), ...options },
  );
}
