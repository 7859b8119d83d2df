/**
 * Where a labelled footprint fits the model's prediction best: the footprint's shape slid over the probability
 * map from where it is drawn up to the nearest peak, scored at each shift by a matched filter — mean probability inside the shape minus mean probability in
 * a thin ring just outside it. The ring is what makes the filter find the shape rather than any building mass:
 * a footprint slid into the middle of a large predicted block scores high inside but also high on its ring, so
 * only a placement whose edges meet the predicted edges scores well.
 *
 * The probability map is read through `visible`, which lets the caller hide prediction that other labelled
 * footprints already account for: a footprint drawn where the image shows nothing must not "match" its
 * neighbour's building a few metres away.
 */

export interface ShiftSearch {
  /** Best shift in pixels (x right, y down), refined below a pixel by a parabola through the peak. */
  dx: number;
  dy: number;
  /** Matched-filter response at the best shift and at no shift (−1..1; 1 = a crisp predicted copy of the shape). */
  match: number;
  aligned: number;
  /** Mean probability inside the shape at the best shift and at no shift. */
  cover: number;
  coverAligned: number;
}

export interface FootprintShape {
  /** Pixel indices (y · width + x) of the footprint. */
  inside: Int32Array;
  /** Pixel indices of the ring around it (outside the footprint, within `ringWidth`). */
  ring: Int32Array;
}

/** Chessboard ring of width `ringWidth` around a set of pixels, clipped to the image. */
export function ringAround(
  inside: ArrayLike<number>,
  width: number,
  height: number,
  ringWidth: number,
): Int32Array {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let k = 0; k < inside.length; k++) {
    const x = inside[k] % width;
    const y = (inside[k] - x) / width;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (x1 < 0) return new Int32Array(0);
  const bx0 = Math.max(0, x0 - ringWidth);
  const by0 = Math.max(0, y0 - ringWidth);
  const bw = Math.min(width - 1, x1 + ringWidth) - bx0 + 1;
  const bh = Math.min(height - 1, y1 + ringWidth) - by0 + 1;
  const local = new Uint8Array(bw * bh);
  for (let k = 0; k < inside.length; k++) {
    const x = inside[k] % width;
    const y = (inside[k] - x) / width;
    local[(y - by0) * bw + (x - bx0)] = 1;
  }
  const near = dilate(local, bw, bh, ringWidth);
  const out: number[] = [];
  for (let y = 0; y < bh; y++)
    for (let x = 0; x < bw; x++)
      if (near[y * bw + x] && !local[y * bw + x]) out.push((y + by0) * width + x + bx0);
  return Int32Array.from(out);
}

/** Chessboard dilation of a 0/1 mask by `r` pixels (separable: rows, then columns). */
export function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    let last = -Infinity;
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x]) last = x;
      if (x - last <= r) rows[y * width + x] = 1;
    }
    last = Infinity;
    for (let x = width - 1; x >= 0; x--) {
      if (mask[y * width + x]) last = x;
      if (last - x <= r) rows[y * width + x] = 1;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let last = -Infinity;
    for (let y = 0; y < height; y++) {
      if (rows[y * width + x]) last = y;
      if (y - last <= r) out[y * width + x] = 1;
    }
    last = Infinity;
    for (let y = height - 1; y >= 0; y--) {
      if (rows[y * width + x]) last = y;
      if (last - y <= r) out[y * width + x] = 1;
    }
  }
  return out;
}

/** Every `step`-th element, so a large footprint costs no more than `max` reads per shift. */
function thin(pixels: Int32Array, max: number): Int32Array {
  if (pixels.length <= max) return pixels;
  const step = pixels.length / max;
  const out = new Int32Array(max);
  for (let k = 0; k < max; k++) out[k] = pixels[Math.floor(k * step)];
  return out;
}

export interface ShiftOptions {
  /** Largest shift searched, in pixels, along each axis. */
  maxShift: number;
  /** Pixels read per shift at most, inside and on the ring each (larger shapes are sampled evenly). */
  maxSamples?: number;
}

/**
 * Slides the footprint over `visible` (probabilities, 0..1, width × height) within ±maxShift, uphill from no
 * shift, and returns the placement where the climb ends. Shifts that push more than half of the shape off the image are not considered.
 */
export function searchShift(
  shape: FootprintShape,
  visible: ArrayLike<number>,
  width: number,
  height: number,
  options: ShiftOptions,
): ShiftSearch {
  const maxSamples = options.maxSamples ?? 300;
  const inside = thin(shape.inside, maxSamples);
  const ring = thin(shape.ring, maxSamples);
  const ix = new Int32Array(inside.length);
  const iy = new Int32Array(inside.length);
  inside.forEach((p, k) => ((ix[k] = p % width), (iy[k] = (p - ix[k]) / width)));
  const rx = new Int32Array(ring.length);
  const ry = new Int32Array(ring.length);
  ring.forEach((p, k) => ((rx[k] = p % width), (ry[k] = (p - rx[k]) / width)));
  const R = Math.max(0, Math.floor(options.maxShift));
  const side = 2 * R + 1;
  const cache = new Float64Array(side * side).fill(Number.NaN);

  const meanAt = (xs: Int32Array, ys: Int32Array, dx: number, dy: number): [number, number] => {
    let s = 0;
    let n = 0;
    for (let k = 0; k < xs.length; k++) {
      const x = xs[k] + dx;
      const y = ys[k] + dy;
      if (x < 0 || y < 0 || x >= width || y >= height) continue;
      s += visible[y * width + x];
      n++;
    }
    return [n ? s / n : 0, n];
  };
  const response = (dx: number, dy: number): number => {
    const c = (dy + R) * side + (dx + R);
    if (!Number.isNaN(cache[c])) return cache[c];
    const [inMean, inN] = meanAt(ix, iy, dx, dy);
    const [ringMean, ringN] = meanAt(rx, ry, dx, dy);
    const v = inN * 2 < ix.length ? -Infinity : inMean - (ringN > 0 ? ringMean : 0);
    cache[c] = v;
    return v;
  };

  // Climb from where the footprint is drawn to the nearest peak: the building it was traced from, not the best
  // match anywhere within reach, which in a dense block is often a neighbour (measured on real masks, the
  // planted offsets' median shift error falls from 4.8 to 3.2 px against a global search).
  let bx = 0;
  let by = 0;
  let best = response(0, 0);
  for (let step = 0; step < 4 * R; step++) {
    const cx = bx;
    const cy = by;
    for (let dy = Math.max(-R, cy - 1); dy <= Math.min(R, cy + 1); dy++) {
      for (let dx = Math.max(-R, cx - 1); dx <= Math.min(R, cx + 1); dx++) {
        const v = response(dx, dy);
        if (v > best + 1e-9) {
          best = v;
          bx = dx;
          by = dy;
        }
      }
    }
    if (bx === cx && by === cy) break;
  }
  const refine = (m: number, c: number, p: number) => {
    if (!Number.isFinite(m) || !Number.isFinite(p)) return 0;
    const curvature = m - 2 * c + p;
    return curvature < 0 ? Math.max(-0.5, Math.min(0.5, (m - p) / (2 * curvature))) : 0;
  };
  const fx = Math.abs(bx) < R ? refine(response(bx - 1, by), best, response(bx + 1, by)) : 0;
  const fy = Math.abs(by) < R ? refine(response(bx, by - 1), best, response(bx, by + 1)) : 0;
  return {
    dx: bx + fx,
    dy: by + fy,
    match: best,
    aligned: response(0, 0),
    cover: meanAt(ix, iy, bx, by)[0],
    coverAligned: meanAt(ix, iy, 0, 0)[0],
  };
}
