/**
 * Label errors planted in a real building mask, each kind on its own, with a record of what was planted where —
 * the known answer the label-error benchmark scores against. Masks are 0/1, row-major, at the image's size.
 *
 * - missing: real footprints erased from the label (the building is in the image, not in the label);
 * - phantom: a real footprint's shape, taken from another mask, drawn on open ground where the label has
 *   nothing within a margin (the label shows a building the image does not);
 * - offset: real footprints moved by a shift of a given length in a random direction;
 * - area offset: the whole mask moved by one shift (every footprint traced against offset imagery).
 */
import type { Rng } from '../../server/lib/analysis/random.ts';
import { labelComponents } from '../../server/lib/scoring/vectorize.ts';

export type PlantKind = 'missing' | 'phantom' | 'offset' | 'area_offset';

export interface PlantedObject {
  kind: PlantKind;
  /** Pixel indices of where the error is: the erased footprint, the drawn phantom, the moved footprint. */
  pixels: Int32Array;
  /** The shift planted (pixels, x right, y down) for offsets. */
  dx: number;
  dy: number;
}

export interface Shape {
  width: number;
  height: number;
  /** 0/1, width × height. */
  bits: Uint8Array;
}

interface Component {
  pixels: Int32Array;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Components of a mask with their pixels and bounding boxes, `minArea..maxArea` pixels, off the border. */
export function footprints(
  mask: Uint8Array,
  width: number,
  height: number,
  minArea: number,
  maxArea: number,
) {
  const { labels, sizes } = labelComponents(mask, width, height);
  const lists: number[][] = sizes.map(() => []);
  for (let i = 0; i < labels.length; i++) if (labels[i]) lists[labels[i]].push(i);
  const out: Component[] = [];
  for (let l = 1; l < sizes.length; l++) {
    if (sizes[l] < minArea || sizes[l] > maxArea) continue;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    for (const p of lists[l]) {
      const x = p % width;
      const y = (p - x) / width;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
    if (x0 === 0 || y0 === 0 || x1 === width - 1 || y1 === height - 1) continue;
    out.push({ pixels: Int32Array.from(lists[l]), x0, y0, x1, y1 });
  }
  return out;
}

/** The shape of a component, cut to its bounding box: what a phantom is drawn from. */
export function shapeOf(c: Component, width: number): Shape {
  const w = c.x1 - c.x0 + 1;
  const h = c.y1 - c.y0 + 1;
  const bits = new Uint8Array(w * h);
  for (const p of c.pixels) {
    const x = p % width;
    bits[((p - x) / width - c.y0) * w + (x - c.x0)] = 1;
  }
  return { width: w, height: h, bits };
}

function pickDistinct<T>(items: T[], count: number, rng: Rng): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(rng.int(pool.length), 1)[0]);
  return out;
}

/** A shift of length `minLen..maxLen` pixels in a uniformly random direction. */
export function randomShift(rng: Rng, minLen: number, maxLen: number): [number, number] {
  const len = minLen + rng.next() * (maxLen - minLen);
  const angle = rng.next() * 2 * Math.PI;
  return [Math.round(len * Math.cos(angle)), Math.round(len * Math.sin(angle))];
}

export interface PlantOptions {
  /** Footprints eligible to erase or move, in pixels. */
  minArea: number;
  maxArea: number;
  /** How many objects per mask (missing, phantom, offset). */
  count: number;
  /** Shift length range in pixels (offset, area offset). */
  shift: [number, number];
  /** Empty label margin a phantom keeps from every footprint, in pixels. */
  margin: number;
  /** Shapes to draw phantoms from (footprints of other masks). */
  shapes?: Shape[];
}

/** Plants `kind` into a copy of `mask`; returns the new mask and what was planted (possibly nothing). */
export function plant(
  kind: PlantKind,
  mask: Uint8Array,
  width: number,
  height: number,
  rng: Rng,
  o: PlantOptions,
): { mask: Uint8Array; planted: PlantedObject[] } {
  const out = mask.slice();
  const planted: PlantedObject[] = [];
  if (kind === 'area_offset') {
    const [dx, dy] = randomShift(rng, o.shift[0], o.shift[1]);
    out.fill(0);
    const moved: number[] = [];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const sx = x - dx;
        const sy = y - dy;
        if (sx >= 0 && sy >= 0 && sx < width && sy < height && mask[sy * width + sx]) {
          out[y * width + x] = 1;
          moved.push(y * width + x);
        }
      }
    }
    if (moved.length > 0) planted.push({ kind, pixels: Int32Array.from(moved), dx, dy });
    return { mask: out, planted };
  }
  if (kind === 'phantom') {
    const shapes = o.shapes ?? [];
    // Distance to the nearest labelled pixel is checked on a grid of the margin's size: cheap and enough.
    for (let k = 0; k < o.count && shapes.length > 0; k++) {
      for (let attempt = 0; attempt < 60; attempt++) {
        const s = shapes[rng.int(shapes.length)];
        if (s.width + 2 * o.margin >= width || s.height + 2 * o.margin >= height) continue;
        const x0 = o.margin + rng.int(width - s.width - 2 * o.margin);
        const y0 = o.margin + rng.int(height - s.height - 2 * o.margin);
        let clear = true;
        for (let y = y0 - o.margin; y < y0 + s.height + o.margin && clear; y++)
          for (let x = x0 - o.margin; x < x0 + s.width + o.margin; x++)
            if (out[y * width + x]) {
              clear = false;
              break;
            }
        if (!clear) continue;
        const pixels: number[] = [];
        for (let y = 0; y < s.height; y++)
          for (let x = 0; x < s.width; x++)
            if (s.bits[y * s.width + x]) {
              out[(y0 + y) * width + x0 + x] = 1;
              pixels.push((y0 + y) * width + x0 + x);
            }
        planted.push({ kind, pixels: Int32Array.from(pixels), dx: 0, dy: 0 });
        break;
      }
    }
    return { mask: out, planted };
  }
  const chosen = pickDistinct(footprints(mask, width, height, o.minArea, o.maxArea), o.count, rng);
  for (const c of chosen) {
    for (const p of c.pixels) out[p] = 0;
    if (kind === 'missing') {
      planted.push({ kind, pixels: c.pixels, dx: 0, dy: 0 });
      continue;
    }
    const [dx, dy] = randomShift(rng, o.shift[0], o.shift[1]);
    const moved: number[] = [];
    for (const p of c.pixels) {
      const x = (p % width) + dx;
      const y = Math.floor(p / width) + dy;
      if (x < 0 || y < 0 || x >= width || y >= height) continue;
      moved.push(y * width + x);
    }
    planted.push({ kind, pixels: Int32Array.from(moved), dx, dy });
  }
  // Moved footprints are drawn after every erasure, so one moved onto another's old place stays drawn.
  for (const p of planted) if (p.kind === 'offset') for (const q of p.pixels) out[q] = 1;
  return { mask: out, planted };
}
