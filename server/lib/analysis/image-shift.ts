/**
 * Novelty of the imagery itself, beside novelty in the model's activations (shift-novelty.ts).
 *
 * The model's pooled bottleneck is built to ignore what a segmentation does not need — blur, haze, a colour cast,
 * compression — so a region flown at half the resolution can look ordinary there while the model quietly finds
 * half the buildings. A handful of image statistics notices those shifts directly: the colour means, the contrast,
 * the fine-scale gradient energy and how much of it survives a 2× reduction (detail a coarser sensor never had),
 * the darkest channel (haze lifts it), the saturation. Their Mahalanobis distance to the reference patches, in
 * units of the reference's own 99th percentile (scored on held-out rows), is the image novelty ratio; a tile's
 * novelty is the larger of the two ratios.
 *
 * Blockiness is left out on purpose: every tile server re-encodes its imagery as JPEG, which the training patches
 * need not have been, and a detector that flags every served tile says nothing.
 */
import { assertFeatures, assertKind, EstimatorError, type EstimatorJSON } from './estimator.ts';
import { invertSpd } from './cholesky.ts';
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
  let r = 0;
  let g = 0;
  let b = 0;
  let dark = 0;
  let sat = 0;
  for (let i = 0; i < n; i++) {
    const R = rgb[3 * i];
    const G = rgb[3 * i + 1];
    const B = rgb[3 * i + 2];
    r += R;
    g += G;
    b += B;
    const lo = Math.min(R, G, B);
    dark += lo;
    sat += Math.max(R, G, B) - lo;
    lum[i] = 0.299 * R + 0.587 * G + 0.114 * B;
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += lum[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (lum[i] - mean) ** 2;
  variance /= n;
  const fine = gradientEnergy(lum, width, height);
  // The same image reduced 2× by box averaging: what a sensor with half the resolution would still resolve.
  const w2 = width >> 1;
  const h2 = height >> 1;
  const half = new Float32Array(w2 * h2);
  for (let y = 0; y < h2; y++)
    for (let x = 0; x < w2; x++) {
      const a = 2 * y * width + 2 * x;
      half[y * w2 + x] = (lum[a] + lum[a + 1] + lum[a + width] + lum[a + width + 1]) / 4;
    }
  const coarse = gradientEnergy(half, w2, h2);
  const e = 1e-3;
  out[offset] = r / n;
  out[offset + 1] = g / n;
  out[offset + 2] = b / n;
  out[offset + 3] = Math.log(Math.sqrt(variance) + 1);
  out[offset + 4] = Math.log(fine + e);
  out[offset + 5] = Math.log((fine + e) / (coarse + e));
  out[offset + 6] = Math.log(dark / n + 1);
  out[offset + 7] = Math.log(sat / n + 1);
  return out;
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

export interface ImageShiftJSON extends EstimatorJSON {
  kind: 'ImageShift';
  mean: number[];
  /** Inverse of the reference statistics' (ridged) covariance, row-major. */
  precision: number[];
  /** 99th percentile of the held-out reference rows' distance: the unit of `ratio`. */
  unit: number;
  calibration: 'held-out' | 'in-sample';
}

/** Below this many held-out rows the reference calibrates on its own rows (said in `calibration`). */
const MIN_HELD = 50;
/** Each variance grows by this share (and a floor) so a statistic that never varied cannot dominate. */
const RIDGE = 0.01;

export class ImageShift {
  private constructor(private readonly state: ImageShiftJSON) {}

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
    const precision = invertSpd(cov, k);
    if (!precision) throw new EstimatorError('ImageShift: the reference statistics are degenerate');
    const model = new ImageShift({
      kind: 'ImageShift',
      mean,
      precision: Array.from(precision),
      unit: 1,
      calibration: inSample ? 'in-sample' : 'held-out',
    });
    const distances = calRows.map((i) => model.distance(stats, i)).sort((a, b) => a - b);
    const unit = distances[Math.min(distances.length - 1, Math.floor(0.99 * distances.length))];
    model.state.unit = unit > 0 ? unit : 1;
    return model;
  }

  static fromJSON(json: ImageShiftJSON): ImageShift {
    assertKind('ImageShift', json, 'ImageShift');
    const k = IMAGE_STATISTIC_COUNT;
    if (json.mean?.length !== k || json.precision?.length !== k * k || !(json.unit > 0))
      throw new EstimatorError(
        `ImageShift.fromJSON: expected ${k} means, ${k * k} precision values and a positive unit`,
      );
    return new ImageShift({ ...json });
  }

  toJSON(): ImageShiftJSON {
    return { ...this.state, mean: [...this.state.mean], precision: [...this.state.precision] };
  }

  /** Image novelty ratio per row: 1 = as far from the reference as its own 99th-percentile patch. */
  ratio(stats: Float32Array, n: number): Float32Array {
    assertFeatures('ImageShift.ratio', stats, n, IMAGE_STATISTIC_COUNT);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.distance(stats, i) / this.state.unit;
    return out;
  }

  private distance(stats: Float32Array, row: number): number {
    const k = IMAGE_STATISTIC_COUNT;
    const { mean, precision } = this.state;
    let s = 0;
    for (let a = 0; a < k; a++) {
      const da = stats[row * k + a] - mean[a];
      for (let b = 0; b < k; b++) s += da * precision[a * k + b] * (stats[row * k + b] - mean[b]);
    }
    return Math.sqrt(Math.max(0, s));
  }
}
