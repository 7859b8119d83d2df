/**
 * The colour scales of the overlay layers, as 256-entry RGBA lookup tables built from a few stops.
 * Alpha is part of each scale: an overlay lies over imagery, so what a manager should look at is opaque
 * and what they may ignore lets the imagery through.
 *
 * - priority (0..1, volunteers first at 1): magma (perceptually uniform, colour-blind safe). Low priority
 *   is dark and translucent — the imagery looks dimmed where volunteers can skip — high is bright yellow
 *   and nearly opaque.
 * - confidence (smoothed IoU 0..1): low confidence stands out. Red at 0 through amber to blue at 1, with
 *   alpha falling from 0.86 to 0.16, so trusted tiles barely tint the imagery and doubtful ones glow.
 * - novelty (percentile 0..100 of the distance to the training set): plasma, translucent where the tile
 *   is typical of the training data, opaque where the model has seen nothing like it.
 * - tiles that could not be scored (imagery missing, undecodable, failed) are grey in every layer,
 *   except priority, which shows the priority the scoring gave them (volunteers still get them).
 * - tiles not scored yet (no row) are transparent.
 *
 * The same stops are served to browsers as the legend, so the legend cannot drift from the tiles.
 */
import { TilelensError } from '../errors.ts';

export type Rgba = [r: number, g: number, b: number, a: number];

export interface ColourStop {
  /** Position in the scale's domain (not 0..1 unless the domain is). */
  value: number;
  rgba: Rgba;
}

export interface ColourScale {
  name: string;
  domain: [min: number, max: number];
  stops: ColourStop[];
  /** 256 RGBA entries, the colour of `domain[0] + i/255 · (domain[1] − domain[0])`. */
  lut: Uint8Array;
}

export class ColourScaleError extends TilelensError {
  override name = 'ColourScaleError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('colour-scale', message, { status: 500, cause: options?.cause });
  }
}

function hex(h: string, alpha: number): Rgba {
  const v = Number.parseInt(h.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255, Math.round(alpha * 255)];
}

/** Linear interpolation between stops, sampled at 256 evenly spaced values of the domain. */
export function buildScale(name: string, stops: ColourStop[]): ColourScale {
  if (stops.length < 2)
    throw new ColourScaleError(`colour scale ${name} needs at least two stops, got ${stops.length}`);
  for (let i = 1; i < stops.length; i++) {
    if (!(stops[i].value > stops[i - 1].value)) {
      throw new ColourScaleError(
        `colour scale ${name}: stop values must increase, stop ${i} (${stops[i].value}) does not`,
      );
    }
  }
  const lo = stops[0].value;
  const hi = stops[stops.length - 1].value;
  const lut = new Uint8Array(256 * 4);
  let s = 0;
  for (let i = 0; i < 256; i++) {
    const v = lo + (i / 255) * (hi - lo);
    while (s < stops.length - 2 && v > stops[s + 1].value) s++;
    const a = stops[s];
    const b = stops[s + 1];
    const t = Math.min(1, Math.max(0, (v - a.value) / (b.value - a.value)));
    for (let c = 0; c < 4; c++) lut[i * 4 + c] = Math.round(a.rgba[c] + t * (b.rgba[c] - a.rgba[c]));
  }
  return { name, domain: [lo, hi], stops, lut };
}

/** LUT index of a value: clamped to the domain, so an out-of-range score gets the end colour, not garbage. */
export function lutIndex(scale: ColourScale, value: number): number {
  const [lo, hi] = scale.domain;
  const t = (value - lo) / (hi - lo);
  if (!(t > 0)) return 0; // also NaN
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

export function colourAt(scale: ColourScale, value: number): Rgba {
  const i = lutIndex(scale, value) * 4;
  return [scale.lut[i], scale.lut[i + 1], scale.lut[i + 2], scale.lut[i + 3]];
}

const evenly = (colours: string[], alphas: number[], max = 1): ColourStop[] =>
  colours.map((c, i) => ({ value: (i / (colours.length - 1)) * max, rgba: hex(c, alphas[i]) }));

// magma and plasma at 9 / 5 evenly spaced points (matplotlib's tables); between them linear RGB is
// within a few levels of the full tables.
const MAGMA = [
  '#000004',
  '#1c1044',
  '#4f127b',
  '#812581',
  '#b5367a',
  '#e55964',
  '#fb8761',
  '#fec287',
  '#fcfdbf',
];
const PLASMA = ['#0d0887', '#7e03a8', '#cc4778', '#f89540', '#f0f921'];

export const PRIORITY_SCALE = buildScale(
  'magma',
  evenly(MAGMA, [0.35, 0.42, 0.5, 0.58, 0.65, 0.72, 0.8, 0.86, 0.9]),
);

export const CONFIDENCE_SCALE = buildScale('red-amber-blue', [
  { value: 0, rgba: hex('#d7191c', 0.86) },
  { value: 0.4, rgba: hex('#fdae61', 0.62) },
  { value: 0.7, rgba: hex('#abd9e9', 0.3) },
  { value: 1, rgba: hex('#2c7bb6', 0.16) },
]);

export const NOVELTY_SCALE = buildScale('plasma', evenly(PLASMA, [0.12, 0.25, 0.45, 0.7, 0.88], 100));

/** Tiles whose imagery could not be read or scored. */
export const NO_SCORE_RGBA: Rgba = [128, 128, 128, 150];

export const cssRgba = ([r, g, b, a]: Rgba): string => `rgba(${r}, ${g}, ${b}, ${(a / 255).toFixed(2)})`;
