/**
 * Predicted building footprints: a thresholded mask → one polygon per connected blob, in lon/lat.
 *
 * Blobs are 8-connected; each is traced along pixel edges (crack following, foreground on the right),
 * which gives a closed ring with vertices on pixel corners and only at turns. Holes are not traced:
 * volunteers map a courtyard building by its outline. Where a blob touches itself only at a corner
 * (two pixels meeting diagonally), the ring passes that corner twice; each pass is nudged a fraction
 * of a pixel into its own pixel, so the ring never touches itself and stays a valid polygon.
 * Douglas–Peucker then removes the staircase in pixel space; a simplification that would make the ring
 * cross itself, flip or collapse is dropped for the traced ring.
 */
import { worldPixelToLonLat } from '../geo/tiles.ts';
import type { FootprintsJson } from '../db/schema.ts';

export type Point = [number, number];

export interface VectorizeOptions {
  /** Blobs smaller than this many mask pixels are specks, not buildings. */
  minPixels?: number;
  /** Douglas–Peucker tolerance in mask pixels. */
  tolerance?: number;
}

export const DEFAULT_VECTORIZE: Required<VectorizeOptions> = { minPixels: 4, tolerance: 0.75 };

/** How far a corner visited twice is pulled into each of its two pixels. */
const PINCH_OFFSET = 0.2;

/** 8-connected component labels (1..n, 0 = background) and each component's pixel count and first pixel. */
export function labelComponents(
  mask: Uint8Array,
  width: number,
  height: number,
): { labels: Int32Array; sizes: number[]; firsts: number[] } {
  if (mask.length !== width * height) {
    throw new RangeError(`mask holds ${mask.length} values for ${width}×${height}; pass one value per pixel`);
  }
  const labels = new Int32Array(width * height);
  const sizes: number[] = [0];
  const firsts: number[] = [-1];
  const stack: number[] = [];
  let next = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i] || labels[i]) continue;
    const label = ++next;
    let size = 0;
    labels[i] = label;
    stack.push(i);
    while (stack.length > 0) {
      const p = stack.pop()!;
      size++;
      const px = p % width;
      const py = (p - px) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = label;
            stack.push(q);
          }
        }
      }
    }
    sizes.push(size);
    // Raster order: the first pixel met is the component's top-left one, whose top edge is on the outline.
    firsts.push(i);
  }
  return { labels, sizes, firsts };
}

/** The outer outline of component `label`, in pixel-corner coordinates, not closed (first ≠ last). */
export function traceOutline(
  labels: Int32Array,
  width: number,
  height: number,
  label: number,
  first: number,
): Point[] {
  const fg = (cx: number, cy: number) =>
    cx >= 0 && cy >= 0 && cx < width && cy < height && labels[cy * width + cx] === label;
  const px = first % width;
  const py = (first - px) / width;
  const ring: Point[] = [];
  let vx = px;
  let vy = py;
  let dx = 1;
  let dy = 0;
  const limit = 4 * (width + 1) * (height + 1);
  for (let steps = 0; ; steps++) {
    if (steps > limit)
      throw new Error(`outline of component ${label} did not close; the label array is inconsistent`);
    vx += dx;
    vy += dy;
    // r = the walker's right; the cells ahead-left and ahead-right of corner (vx, vy).
    const rx = -dy;
    const ry = dx;
    const aheadLeft = fg(vx + (dx - rx - 1) / 2, vy + (dy - ry - 1) / 2);
    const aheadRight = fg(vx + (dx + rx - 1) / 2, vy + (dy + ry - 1) / 2);
    let ndx: number;
    let ndy: number;
    let pinch = false;
    if (aheadLeft) {
      ndx = dy;
      ndy = -dx;
      pinch = !aheadRight;
    } else if (aheadRight) {
      ndx = dx;
      ndy = dy;
    } else {
      ndx = -dy;
      ndy = dx;
    }
    if (ndx !== dx || ndy !== dy) {
      ring.push(pinch ? [vx + PINCH_OFFSET * (dx - rx), vy + PINCH_OFFSET * (dy - ry)] : [vx, vy]);
    }
    dx = ndx;
    dy = ndy;
    if (vx === px && vy === py && dx === 1 && dy === 0) return ring;
  }
}

/** Twice the signed area (shoelace) of an open ring. */
export function ringArea2(ring: Point[]): number {
  let a = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x0, y0] = ring[i];
    const [x1, y1] = ring[(i + 1) % ring.length];
    a += x0 * y1 - x1 * y0;
  }
  return a;
}

function orient(a: Point, b: Point, c: Point): number {
  const v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  return Math.abs(v) < 1e-12 ? 0 : Math.sign(v);
}

function onSegment(a: Point, b: Point, p: Point): boolean {
  return (
    Math.min(a[0], b[0]) - 1e-12 <= p[0] &&
    p[0] <= Math.max(a[0], b[0]) + 1e-12 &&
    Math.min(a[1], b[1]) - 1e-12 <= p[1] &&
    p[1] <= Math.max(a[1], b[1]) + 1e-12
  );
}

function segmentsTouch(a: Point, b: Point, c: Point, d: Point): boolean {
  const o1 = orient(a, b, c);
  const o2 = orient(a, b, d);
  const o3 = orient(c, d, a);
  const o4 = orient(c, d, b);
  if (o1 !== o2 && o3 !== o4) return true;
  return (
    (o1 === 0 && onSegment(a, b, c)) ||
    (o2 === 0 && onSegment(a, b, d)) ||
    (o3 === 0 && onSegment(c, d, a)) ||
    (o4 === 0 && onSegment(c, d, b))
  );
}

/** True when two non-adjacent edges of the open ring meet, or the ring repeats a vertex. */
export function ringSelfIntersects(ring: Point[]): boolean {
  const n = ring.length;
  for (let i = 0; i < n; i++) {
    const a = ring[i];
    const b = ring[(i + 1) % n];
    for (let j = i + 1; j < n; j++) {
      if (j === i + 1 || (i === 0 && j === n - 1)) {
        // Adjacent edges share one vertex; they must not fold back onto each other.
        const [p, q, r] = j === i + 1 ? [a, b, ring[(j + 1) % n]] : [ring[j], a, b];
        if (orient(p, q, r) === 0 && (q[0] - p[0]) * (r[0] - q[0]) + (q[1] - p[1]) * (r[1] - q[1]) < 0)
          return true;
        continue;
      }
      if (segmentsTouch(a, b, ring[j], ring[(j + 1) % n])) return true;
    }
  }
  return false;
}

function perpendicular(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len = Math.hypot(dx, dy);
  if (len === 0) return Math.hypot(p[0] - a[0], p[1] - a[1]);
  return Math.abs(dx * (a[1] - p[1]) - dy * (a[0] - p[0])) / len;
}

function simplifyChain(points: Point[], from: number, to: number, tolerance: number, keep: Uint8Array): void {
  let maxD = -1;
  let index = -1;
  for (let i = from + 1; i < to; i++) {
    const d = perpendicular(points[i], points[from], points[to]);
    if (d > maxD) {
      maxD = d;
      index = i;
    }
  }
  if (index >= 0 && maxD > tolerance) {
    keep[index] = 1;
    simplifyChain(points, from, index, tolerance, keep);
    simplifyChain(points, index, to, tolerance, keep);
  }
}

/**
 * Douglas–Peucker on a closed ring: split at the first vertex and the one farthest from it, simplify
 * both chains. Returns the input when the result would be degenerate, self-intersecting or flipped.
 */
export function simplifyRing(ring: Point[], tolerance: number): Point[] {
  if (ring.length <= 4 || tolerance <= 0) return ring;
  let far = 0;
  let farD = -1;
  for (let i = 1; i < ring.length; i++) {
    const d = Math.hypot(ring[i][0] - ring[0][0], ring[i][1] - ring[0][1]);
    if (d > farD) {
      farD = d;
      far = i;
    }
  }
  const closed = [...ring, ring[0]];
  const keep = new Uint8Array(closed.length);
  keep[0] = keep[far] = keep[closed.length - 1] = 1;
  simplifyChain(closed, 0, far, tolerance, keep);
  simplifyChain(closed, far, closed.length - 1, tolerance, keep);
  const out = ring.filter((_, i) => keep[i]);
  const before = ringArea2(ring);
  const after = ringArea2(out);
  if (out.length < 3 || Math.sign(after) !== Math.sign(before) || Math.abs(after) < 0.25 * Math.abs(before)) {
    return ring;
  }
  return ringSelfIntersects(out) ? ring : out;
}

/** Outlines of every blob of at least `minPixels`, simplified, in mask-pixel coordinates. */
export function maskOutlines(
  mask: Uint8Array,
  width: number,
  height: number,
  options: VectorizeOptions = {},
): Point[][] {
  const { minPixels, tolerance } = { ...DEFAULT_VECTORIZE, ...options };
  const { labels, sizes, firsts } = labelComponents(mask, width, height);
  const rings: Point[][] = [];
  for (let label = 1; label < sizes.length; label++) {
    if (sizes[label] < minPixels) continue;
    rings.push(simplifyRing(traceOutline(labels, width, height, label, firsts[label]), tolerance));
  }
  return rings;
}

/**
 * A tile's mask (any resolution covering the whole tile) → MultiPolygon in lon/lat, exterior rings
 * counter-clockwise as RFC 7946 asks; null when no blob is large enough.
 */
export function vectorizeMask(
  mask: Uint8Array,
  width: number,
  height: number,
  tile: { z: number; x: number; y: number },
  options: VectorizeOptions = {},
): FootprintsJson | null {
  const rings = maskOutlines(mask, width, height, options);
  if (rings.length === 0) return null;
  const tileSize = 256;
  const sx = tileSize / width;
  const sy = tileSize / height;
  const round = (v: number) => Math.round(v * 1e8) / 1e8;
  const coordinates = rings.map((ring) => {
    // Traced with the blob on the walker's right, i.e. clockwise as seen on the map: reversed for RFC 7946.
    const lonLat = [...ring].reverse().map(([u, v]) => {
      const [lon, lat] = worldPixelToLonLat(
        tile.x * tileSize + u * sx,
        tile.y * tileSize + v * sy,
        tile.z,
        tileSize,
      );
      return [round(lon), round(lat)];
    });
    lonLat.push([...lonLat[0]]);
    return [lonLat];
  });
  return { type: 'MultiPolygon', coordinates };
}
