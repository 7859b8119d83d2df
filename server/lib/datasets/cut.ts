/**
 * From whatever a training image is (8- or 16-bit, grey, RGB, RGBA or more bands, any size) to the equal
 * RGB patches the analysis batches: band selection, contrast stretch, windows with recorded edges, resizing.
 * Pure functions over pixel arrays; reading files is the sources' business.
 */
import sharp from 'sharp';
import { DatasetError } from './patch-source.ts';

/** Decoded pixels of one file, interleaved (HWC), at their native depth. */
export interface Raster {
  data: ArrayLike<number>;
  width: number;
  height: number;
  channels: number;
  /** Bits per sample: 8 for ordinary imagery, 16 for most satellite products. */
  bits: number;
}

/** A window of an image; `w`/`h` are the part inside the image (smaller than the patch at a padded edge). */
export interface Window {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * What happens to the ragged right / bottom edge when the image is not a multiple of the stride: 'pad' fills
 * the overhang with zeros, 'drop' loses it, 'shift' moves the last window back inside the image (it overlaps
 * its neighbour; no invented pixels). An image smaller than a patch is padded under 'shift' too.
 */
export type EdgePolicy = 'pad' | 'drop' | 'shift';

/** Percentiles of each band mapped to 0..255 for imagery deeper than 8 bits (as GIS viewers display it). */
const STRETCH: [number, number] = [2, 98];
/** Pixels sampled per band to find the stretch: enough for stable percentiles, bounded for huge images. */
const STRETCH_SAMPLES = 200_000;

/** Window origins along one axis: every `stride`, stopping once a window reaches the edge. */
function axisStarts(length: number, size: number, stride: number, edge: EdgePolicy): number[] {
  const starts: number[] = [];
  for (let s = 0; s < length; s += stride) {
    if (s + size <= length) starts.push(s);
    else {
      if (edge === 'pad' || (edge === 'shift' && length <= size)) starts.push(s);
      else if (edge === 'shift' && starts.at(-1) !== length - size) starts.push(length - size);
      break;
    }
    if (s + size === length) break;
  }
  return starts;
}

/** Windows of `size`×`size` every `stride` pixels, row by row. */
export function cutWindows(
  width: number,
  height: number,
  size: number,
  stride: number,
  edge: EdgePolicy,
): Window[] {
  if (!(size > 0 && stride > 0)) {
    throw new DatasetError(
      `patch size ${size} and stride ${stride} must both be positive; pass --patch-size and --stride ≥ 1`,
    );
  }
  const out: Window[] = [];
  for (const y of axisStarts(height, size, stride, edge)) {
    for (const x of axisStarts(width, size, stride, edge)) {
      out.push({ x, y, w: Math.min(size, width - x), h: Math.min(size, height - y) });
    }
  }
  return out;
}

/** The patch key of a window: `file#x,y,w,h` — the image it came from and the part of it that is real. */
export function windowKey(file: string, win: Window): string {
  return `${file}#${win.x},${win.y},${win.w},${win.h}`;
}

/** The file and window of a key windowKey wrote; null for any other key. */
export function parseWindowKey(key: string): (Window & { file: string }) | null {
  const m = /^(.*)#(\d+),(\d+),(\d+),(\d+)$/.exec(key);
  return m ? { file: m[1], x: Number(m[2]), y: Number(m[3]), w: Number(m[4]), h: Number(m[5]) } : null;
}

/** Which bands become R, G, B: grey is repeated, alpha (2nd of 2, 4th of 4) and bands past the third dropped. */
function rgbBands(channels: number): [number, number, number] {
  return channels >= 3 ? [0, 1, 2] : [0, 0, 0];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i];
}

/** Per-band [lo, hi] of the 2–98 % stretch, from an even sample of the band's pixels (zeros as nodata skipped). */
export function bandStretch(r: Raster, band: number): [number, number] {
  const n = r.width * r.height;
  const step = Math.max(1, Math.floor(n / STRETCH_SAMPLES));
  const values: number[] = [];
  for (let i = 0; i < n; i += step) {
    const v = r.data[i * r.channels + band];
    if (v !== 0) values.push(v);
  }
  const sorted = Float64Array.from(values).sort();
  const lo = percentile(sorted, STRETCH[0]);
  const hi = percentile(sorted, STRETCH[1]);
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/**
 * The raster as 8-bit RGB (HWC). 8-bit imagery passes unchanged; deeper imagery gets a per-band 2–98 %
 * stretch, so a 16-bit satellite product reaches the model with the contrast an 8-bit export would have.
 */
export function toRgb8(r: Raster, label: string): Uint8Array {
  if (r.channels < 1 || r.data.length !== r.width * r.height * r.channels) {
    throw new DatasetError(
      `image ${label} decoded to ${r.data.length} samples, not ${r.width}×${r.height}×${r.channels}; re-save it as PNG, JPEG or GeoTIFF`,
    );
  }
  const bands = rgbBands(r.channels);
  const n = r.width * r.height;
  const out = new Uint8Array(n * 3);
  if (r.bits <= 8) {
    for (let i = 0; i < n; i++) {
      const o = i * r.channels;
      out[i * 3] = r.data[o + bands[0]];
      out[i * 3 + 1] = r.data[o + bands[1]];
      out[i * 3 + 2] = r.data[o + bands[2]];
    }
    return out;
  }
  const stretch = bands.map((b) => bandStretch(r, b));
  for (let i = 0; i < n; i++) {
    const o = i * r.channels;
    for (let c = 0; c < 3; c++) {
      const [lo, hi] = stretch[c];
      const v = ((r.data[o + bands[c]] - lo) / (hi - lo)) * 255;
      out[i * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return out;
}

/**
 * Copies a window out of an interleaved image into a `size`×`size` patch; what lies past the image edge
 * stays 0 (black imagery, background mask).
 */
export function cropWindow(
  data: Uint8Array,
  width: number,
  channels: number,
  win: Window,
  size: number,
): Uint8Array {
  const out = new Uint8Array(size * size * channels);
  const rowBytes = win.w * channels;
  for (let r = 0; r < win.h; r++) {
    const src = ((win.y + r) * width + win.x) * channels;
    out.set(data.subarray(src, src + rowBytes), r * size * channels);
  }
  return out;
}

/** Bilinear resize of RGB pixels (imagery). */
export async function resizeRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  size: number,
): Promise<Uint8Array> {
  if (width === size && height === size) return rgb;
  const buf = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Nearest-neighbour resize of a 0/1 mask: a label is never blended into a value that is no class. */
export function resizeMaskNearest(mask: Uint8Array, width: number, height: number, size: number): Uint8Array {
  if (width === size && height === size) return mask;
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / size));
    for (let x = 0; x < size; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / size));
      out[y * size + x] = mask[sy * width + sx];
    }
  }
  return out;
}
