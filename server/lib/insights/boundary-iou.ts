/**
 * Boundary IoU (Cheng et al., CVPR 2021): IoU computed only over the pixels within distance d of each mask's
 * contour. Area IoU forgives a blurred outline on a large building; boundary IoU does not, which is what tells
 * "boundary errors" apart from missed buildings and false alarms.
 *
 * As in the reference implementation the image border counts as contour (the mask is padded with background),
 * distance is the chessboard distance (d iterations of a 3×3 erosion), and d = round(ratio × image diagonal),
 * at least 1 pixel.
 */
import { TilelensError } from '../errors.ts';

export class BoundaryIouError extends TilelensError {
  override name = 'BoundaryIouError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('boundary-iou', message, { status: 400, cause: options?.cause });
  }
}

/**
 * Chessboard distance from every pixel to the nearest background pixel (outside the image counts as
 * background), by the two-pass chamfer transform — exact for the 8-neighbour metric.
 */
export function distanceToBackground(mask: ArrayLike<number>, width: number, height: number): Int32Array {
  const big = width + height;
  const d = new Int32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) {
        d[i] = 0;
        continue;
      }
      // Distance to the padding ring just outside the image.
      let v = Math.min(x + 1, y + 1, width - x, height - y, big);
      if (x > 0) v = Math.min(v, d[i - 1] + 1);
      if (y > 0) {
        v = Math.min(v, d[i - width] + 1);
        if (x > 0) v = Math.min(v, d[i - width - 1] + 1);
        if (x < width - 1) v = Math.min(v, d[i - width + 1] + 1);
      }
      d[i] = v;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (d[i] === 0) continue;
      let v = d[i];
      if (x < width - 1) v = Math.min(v, d[i + 1] + 1);
      if (y < height - 1) {
        v = Math.min(v, d[i + width] + 1);
        if (x < width - 1) v = Math.min(v, d[i + width + 1] + 1);
        if (x > 0) v = Math.min(v, d[i + width - 1] + 1);
      }
      d[i] = v;
    }
  }
  return d;
}

/** The boundary band of a 0/1 mask: its pixels no farther than `d` from the background. */
export function boundaryBand(mask: ArrayLike<number>, width: number, height: number, d: number): Uint8Array {
  const dist = distanceToBackground(mask, width, height);
  const band = new Uint8Array(width * height);
  for (let i = 0; i < band.length; i++) band[i] = dist[i] > 0 && dist[i] <= d ? 1 : 0;
  return band;
}

export interface BoundaryIouOptions {
  /** Band width as a share of the image diagonal (the paper's 0.02). */
  dilationRatio?: number;
}

export function boundaryDistance(width: number, height: number, ratio = 0.02): number {
  return Math.max(1, Math.round(ratio * Math.hypot(width, height)));
}

/**
 * Boundary IoU of a ground-truth and a predicted 0/1 mask of the same size; null when both are empty (as area
 * IoU is undefined there), 0 when exactly one is.
 */
export function boundaryIou(
  gt: ArrayLike<number>,
  pred: ArrayLike<number>,
  width: number,
  height: number,
  options: BoundaryIouOptions = {},
): number | null {
  const n = width * height;
  if (gt.length !== n || pred.length !== n) {
    throw new BoundaryIouError(
      `boundaryIou: masks must both hold ${width}×${height} = ${n} pixels, got ${gt.length} (ground truth) and ` +
        `${pred.length} (prediction); resize the ground truth to the prediction's size first`,
    );
  }
  const d = boundaryDistance(width, height, options.dilationRatio ?? 0.02);
  const g = boundaryBand(gt, width, height, d);
  const p = boundaryBand(pred, width, height, d);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < n; i++) {
    inter += g[i] & p[i];
    union += g[i] | p[i];
  }
  return union === 0 ? null : inter / union;
}
