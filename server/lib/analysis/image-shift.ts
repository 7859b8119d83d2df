/**
 * Novelty of the imagery itself, beside novelty in the model's activations (shift-novelty.ts).
 *
 * The model's pooled bottleneck is built to ignore what a segmentation does not need — blur, haze, a colour cast,
 * compression — so a region flown at half the resolution can look ordinary there while the model quietly finds
 * half the buildings. A handful of image statistics notices those shifts directly: the colour of each channel and
 * its spread, the contrast, the fine-scale gradient and Laplacian energy and how much of each survives a 2× and a
 * 4× reduction (detail a coarser sensor never had), the darkest channel (haze lifts it), the saturation and the
 * chromaticity (a sensor's colour response moves it).
 *
 * A reference set mixes imagery of several kinds (drone and satellite, cities and farmland), so one Gaussian
 * around its mean describes it badly: a colour cast can move a tile into the empty middle between two kinds while
 * its distance to the mean shrinks. The distance is therefore to the k-th nearest reference patch, after whitening
 * the statistics by the reference's covariance (a Mahalanobis neighbour search), in units of the reference's own
 * 99th percentile (scored on held-out rows): the image novelty ratio. It is the tile's novelty ratio (doubt.ts,
 * `noveltyRatioOf`): what decides its coverage, its doubt and whether a region is verified.
 *
 * Blockiness is left out on purpose: every tile server re-encodes its imagery as JPEG, which the training patches
 * need not have been, and a detector that flags every served tile says nothing.
 */
import { assertFeatures, assertKind, EstimatorError, type EstimatorJSON } from './estimator.ts';
import { whiteningOf } from './cholesky.ts';
import { createRng } from './random.ts';

export const IMAGE_STATISTICS = [
  'meanRed',
  'meanGreen',
  'meanBlue',
  'logContrast',
  'logGradient',
  'logDetailRatio',
  'logDarkChannel',
  'logSaturation',
  'logSpreadRed',
  'logSpreadGreen',
  'logSpreadBlue',
  'logCoarseDetailRatio',
  'logLaplacianRatio',
  'logGradientPerContrast',
  'redChromaticity',
  'blueChromaticity',
] as const;
export const IMAGE_STATISTIC_COUNT = IMAGE_STATISTICS.length;

/** The statistics of one RGB image (HWC, uint8), written into `out` at `offset`. */
export function imageStatistics(
  rgb: Uint8Array,
  width: number,
  height: number,
  out: Float32Array = new Float32Array(IMAGE_STATISTIC_COUNT),
  offset = 0,
): Float32Array {
  const n = width * height;
  if (rgb.length < n * 3)
    throw new EstimatorError(`imageStatistics: ${rgb.length} bytes for a ${width}×${height} RGB image`);
  const lum = new Float32Array(n);
  const sum = [0, 0, 0];
  const squares = [0, 0, 0];
  let dark = 0;
  let sat = 0;
  let redShare = 0;
  let blueShare = 0;
  for (let i = 0; i < n; i++) {
    const R = rgb[3 * i];
    const G = rgb[3 * i + 1];
    const B = rgb[3 * i + 2];
    sum[0] += R;
    sum[1] += G;
    sum[2] += B;
    squares[0] += R * R;
    squares[1] += G * G;
    squares[2] += B * B;
    const lo = Math.min(R, G, B);
    dark += lo;
    sat += Math.max(R, G, B) - lo;
    // +1 per channel keeps black pixels (padding, shadow) at a neutral grey's chromaticity.
    const total = R + G + B + 3;
    redShare += (R + 1) / total;
    blueShare += (B + 1) / total;
    lum[i] = 0.299 * R + 0.587 * G + 0.114 * B;
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += lum[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (lum[i] - mean) ** 2;
  variance /= n;
  const contrast = Math.sqrt(variance);
  // The image reduced 2× and 4× by box averaging: what sensors with half and a quarter of the resolution resolve.
  const half = reduce(lum, width, height);
  const quarter = reduce(half, width >> 1, height >> 1);
  const fine = gradientEnergy(lum, width, height);
  const coarse = gradientEnergy(half, width >> 1, height >> 1);
  const coarser = gradientEnergy(quarter, width >> 2, height >> 2);
  const e = 1e-3;
  const spread = (c: number) => Math.log(Math.sqrt(Math.max(0, squares[c] / n - (sum[c] / n) ** 2)) + 1);
  const values = [
    sum[0] / n,
    sum[1] / n,
    sum[2] / n,
    Math.log(contrast + 1),
    Math.log(fine + e),
    Math.log((fine + e) / (coarse + e)),
    Math.log(dark / n + 1),
    Math.log(sat / n + 1),
    spread(0),
    spread(1),
    spread(2),
    Math.log((coarse + e) / (coarser + e)),
    Math.log(
      (laplacianEnergy(lum, width, height) + e) / (laplacianEnergy(half, width >> 1, height >> 1) + e),
    ),
    Math.log((fine + e) / (contrast + 1)),
    redShare / n,
    blueShare / n,
  ];
  out.set(values, offset);
  return out;
}

/** The image at half its size, each pixel the mean of a 2×2 block. */
function reduce(lum: Float32Array, width: number, height: number): Float32Array {
  const w2 = width >> 1;
  const h2 = height >> 1;
  const half = new Float32Array(w2 * h2);
  for (let y = 0; y < h2; y++)
    for (let x = 0; x < w2; x++) {
      const a = 2 * y * width + 2 * x;
      half[y * w2 + x] = (lum[a] + lum[a + 1] + lum[a + width] + lum[a + width + 1]) / 4;
    }
  return half;
}

/** Mean absolute difference between horizontal and vertical neighbours. */
function gradientEnergy(lum: Float32Array, width: number, height: number): number {
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width - 1; x++) {
      sum += Math.abs(lum[y * width + x + 1] - lum[y * width + x]);
      count++;
    }
  for (let y = 0; y < height - 1; y++)
    for (let x = 0; x < width; x++) {
      sum += Math.abs(lum[(y + 1) * width + x] - lum[y * width + x]);
      count++;
    }
  return count > 0 ? sum / count : 0;
}

/** Mean absolute 4-neighbour Laplacian: the finest detail, which blur removes first. */
function laplacianEnergy(lum: Float32Array, width: number, height: number): number {
  let sum = 0;
  let count = 0;
  for (let y = 1; y < height - 1; y++)
    for (let x = 1; x < width - 1; x++) {
      const k = y * width + x;
      sum += Math.abs(4 * lum[k] - lum[k - 1] - lum[k + 1] - lum[k - width] - lum[k + width]);
      count++;
    }
  return count > 0 ? sum / count : 0;
}

/**
 * The fitted reference. `points` are a seeded sample of the fitted rows, whitened (y = W (x − mean)), as
 * little-endian float32 in base64. Runs fitted before the neighbour search stored a `precision` over the first
 * eight statistics instead; they are still read, as the distance to the mean.
 */
export interface ImageShiftJSON extends EstimatorJSON {
  kind: 'ImageShift';
  mean: number[];
  /** W = L⁻¹ of the reference statistics' (ridged) covariance L Lᵀ, row-major. */
  whitening?: number[];
  points?: string;
  k?: number;
  /** Older runs: the inverse covariance of the first eight statistics. */
  precision?: number[];
  /** 99th percentile of the held-out reference rows' distance: the unit of `ratio`. */
  unit: number;
  calibration: 'held-out' | 'in-sample';
}

/** Below this many held-out rows the reference calibrates on its own rows (said in `calibration`). */
const MIN_HELD = 50;
/** Each variance grows by this share (and a floor) so a statistic that never varied cannot dominate. */
const RIDGE = 0.01;
/** Reference rows kept for the neighbour search: enough to describe every kind of imagery, cheap per tile. */
const SAMPLE_SIZE = 4096;
const NEIGHBOUR = 5;

function encodePoints(points: Float32Array): string {
  return Buffer.from(points.buffer, points.byteOffset, points.byteLength).toString('base64');
}

function decodePoints(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0)
    throw new EstimatorError(
      `ImageShift.fromJSON: the reference points are ${bytes.length} bytes, not float32 values`,
    );
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

export class ImageShift {
  private readonly points: Float32Array | null;
  private constructor(private readonly state: ImageShiftJSON) {
    this.points = state.points ? decodePoints(state.points) : null;
  }

  /** Fits on `n` rows of IMAGE_STATISTIC_COUNT statistics; a seeded share of rows is held out to set the unit. */
  static fit(stats: Float32Array, n: number, options: { seed: number; holdout?: number }): ImageShift {
    const k = IMAGE_STATISTIC_COUNT;
    assertFeatures('ImageShift.fit', stats, n, k);
    if (n < 8) throw new EstimatorError(`ImageShift.fit: ${n} reference rows are too few to describe`);
    const holdout = options.holdout ?? 0.2;
    const rng = createRng(options.seed);
    const held = new Uint8Array(n);
    const inSample = n * holdout < MIN_HELD;
    if (!inSample) for (let i = 0; i < n; i++) held[i] = rng.next() < holdout ? 1 : 0;
    const fitRows = [...Array(n).keys()].filter((i) => !held[i]);
    const calRows = inSample ? fitRows : [...Array(n).keys()].filter((i) => held[i]);
    const mean = new Array<number>(k).fill(0);
    for (const i of fitRows) for (let j = 0; j < k; j++) mean[j] += stats[i * k + j] / fitRows.length;
    const cov = new Float64Array(k * k);
    for (const i of fitRows)
      for (let a = 0; a < k; a++)
        for (let b = 0; b < k; b++)
          cov[a * k + b] +=
            ((stats[i * k + a] - mean[a]) * (stats[i * k + b] - mean[b])) / Math.max(1, fitRows.length - 1);
    for (let a = 0; a < k; a++) cov[a * k + a] += 1e-6 + RIDGE * cov[a * k + a];
    const whitening = whiteningOf(cov, k);
    if (!whitening) throw new EstimatorError('ImageShift: the reference statistics are degenerate');
    // A seeded sample of the fitted rows (partial Fisher–Yates), whitened once.
    const take = Math.min(SAMPLE_SIZE, fitRows.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(rng.next() * (fitRows.length - i));
      [fitRows[i], fitRows[j]] = [fitRows[j], fitRows[i]];
    }
    const slot = new Map(fitRows.slice(0, take).map((row, i) => [row, i]));
    const state: ImageShiftJSON = {
      kind: 'ImageShift',
      mean,
      whitening: Array.from(whitening),
      k: Math.min(NEIGHBOUR, take - 1),
      unit: 1,
      calibration: inSample ? 'in-sample' : 'held-out',
    };
    const points = new Float32Array(take * k);
    for (const [row, at] of slot) whiten(state, stats, row, points, at * k);
    state.points = encodePoints(points);
    const model = new ImageShift(state);
    // A small reference calibrates on its own rows, each left out of its own neighbour search.
    const distances = calRows
      .map((i) => model.neighbourDistance(stats, i, inSample ? (slot.get(i) ?? -1) : -1))
      .sort((a, b) => a - b);
    const unit = distances[Math.min(distances.length - 1, Math.floor(0.99 * distances.length))];
    model.state.unit = unit > 0 ? unit : 1;
    return model;
  }

  static fromJSON(json: ImageShiftJSON): ImageShift {
    assertKind('ImageShift', json, 'ImageShift');
    const k = IMAGE_STATISTIC_COUNT;
    const legacy = json.precision !== undefined && json.points === undefined;
    const dims = legacy ? 8 : k;
    const sound = legacy
      ? json.mean?.length === dims && json.precision!.length === dims * dims
      : json.mean?.length === k &&
        json.whitening?.length === k * k &&
        typeof json.points === 'string' &&
        Number.isInteger(json.k) &&
        json.k! >= 1;
    if (!sound || !(json.unit > 0))
      throw new EstimatorError(
        `ImageShift.fromJSON: expected ${dims} means, ${dims * dims} ${legacy ? 'precision' : 'whitening'} values` +
          `${legacy ? '' : ', the reference points, k'} and a positive unit`,
      );
    const model = new ImageShift({ ...json });
    if (model.points && (model.points.length % k !== 0 || model.points.length / k <= json.k!))
      throw new EstimatorError(
        `ImageShift.fromJSON: the reference points do not hold more than k rows of ${k}`,
      );
    return model;
  }

  toJSON(): ImageShiftJSON {
    return {
      ...this.state,
      mean: [...this.state.mean],
      ...(this.state.whitening ? { whitening: [...this.state.whitening] } : {}),
      ...(this.state.precision ? { precision: [...this.state.precision] } : {}),
    };
  }

  /** Image novelty ratio per row: 1 = as far from the reference as its own 99th-percentile patch. */
  ratio(stats: Float32Array, n: number): Float32Array {
    assertFeatures('ImageShift.ratio', stats, n, IMAGE_STATISTIC_COUNT);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++)
      out[i] =
        (this.points ? this.neighbourDistance(stats, i) : this.meanDistance(stats, i)) / this.state.unit;
    return out;
  }

  /** Distance to the k-th nearest reference point; `exclude` is a point the row may not use (itself). */
  private neighbourDistance(stats: Float32Array, row: number, exclude = -1): number {
    const k = IMAGE_STATISTIC_COUNT;
    const y = whiten(this.state, stats, row, new Float32Array(k), 0);
    const points = this.points!;
    const kth = this.state.k!;
    const best = new Float64Array(kth).fill(Infinity);
    for (let p = 0, at = 0; at < points.length; p++, at += k) {
      if (p === exclude) continue;
      let d = 0;
      for (let j = 0; j < k && d < best[kth - 1]; j++) d += (y[j] - points[at + j]) ** 2;
      if (d >= best[kth - 1]) continue;
      let i = kth - 1;
      while (i > 0 && best[i - 1] > d) ((best[i] = best[i - 1]), i--);
      best[i] = d;
    }
    return Math.sqrt(best[kth - 1]);
  }

  /** Older runs: the Mahalanobis distance of the first eight statistics to the reference mean. */
  private meanDistance(stats: Float32Array, row: number): number {
    const k = IMAGE_STATISTIC_COUNT;
    const { mean, precision } = this.state;
    const m = mean.length;
    let s = 0;
    for (let a = 0; a < m; a++) {
      const da = stats[row * k + a] - mean[a];
      for (let b = 0; b < m; b++) s += da * precision![a * m + b] * (stats[row * k + b] - mean[b]);
    }
    return Math.sqrt(Math.max(0, s));
  }
}

/** y = W (x − mean) for one row of statistics, written into `out` at `offset`. */
function whiten(
  state: ImageShiftJSON,
  stats: Float32Array,
  row: number,
  out: Float32Array,
  offset: number,
): Float32Array {
  const k = IMAGE_STATISTIC_COUNT;
  const W = state.whitening!;
  for (let i = 0; i < k; i++) {
    let s = 0;
    for (let j = 0; j <= i; j++) s += W[i * k + j] * (stats[row * k + j] - state.mean[j]);
    out[offset + i] = s;
  }
  return out;
}
