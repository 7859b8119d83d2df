/**
 * Colour scales shared by the latent view, the legends and the panels. Continuous scales are a few
 * stops interpolated in RGB; categorical ones a fixed palette. Points get an integer code into a
 * palette (regl-scatterplot draws integer values as categories), so one small palette serves a
 * million points.
 */

export type Rgb = [number, number, number];

export interface ContinuousScale {
  id: string;
  stops: string[];
  domain: [number, number];
  /** What the ends mean, in plain words, for the legend. */
  lowLabel: string;
  highLabel: string;
}

/** Low IoU in warm red, high in blue: tells "the model fails here" apart without relying on red/green. */
export const IOU_SCALE: ContinuousScale = {
  id: 'iou',
  stops: ['#b2182b', '#ef8a62', '#fddbc7', '#d1e5f0', '#67a9cf', '#2166ac'],
  domain: [0, 1],
  lowLabel: 'poor (0)',
  highLabel: 'good (1)',
};

export const NOVELTY_SCALE: ContinuousScale = {
  id: 'novelty',
  stops: ['#f2f0f7', '#cbc9e2', '#9e9ac8', '#756bb1', '#54278f'],
  domain: [0, 100],
  lowLabel: 'typical',
  highLabel: 'unlike any training tile',
};

export const PRIORITY_SCALE: ContinuousScale = {
  id: 'priority',
  stops: ['#ffffcc', '#fed976', '#fd8d3c', '#e31a1c', '#800026'],
  domain: [0, 1],
  lowLabel: 'skip',
  highLabel: 'volunteers first',
};

/** Tableau 10, then a second, lighter round: distinct enough for clusters, districts and splits. */
export const CATEGORY_COLOURS = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#a0cbe8', '#ffbe7d', '#ff9d9a', '#86bcb6', '#8cd17d', '#f1ce63', '#d4a6c8', '#fabfd2', '#d7b5a6', '#79706e',
];

export const NULL_COLOUR = '#9a9a9a';
/** The new region's tiles when the colouring has no value for them (e.g. IoU, unknown before mapping). */
export const NEW_TILE_COLOUR = '#111111';

export function hexToRgb(hex: string): Rgb {
  const h = hex.replace('#', '');
  const full = h.length === 3 ? h.split('').map((c) => c + c).join('') : h;
  const n = Number.parseInt(full, 16);
  if (full.length !== 6 || Number.isNaN(n)) throw new Error(`colour "${hex}" is not #rgb or #rrggbb`);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function rgbToHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((v) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, '0')).join('')}`;
}

/** The colour at t ∈ [0, 1] along the scale's stops (clamped). */
export function sampleScale(scale: ContinuousScale, t: number): Rgb {
  const stops = scale.stops.map(hexToRgb);
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u));
  const f = u - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** The value's colour on the scale's domain. */
export function colourOf(scale: ContinuousScale, value: number): Rgb {
  const [lo, hi] = scale.domain;
  return sampleScale(scale, (value - lo) / (hi - lo));
}

/** n evenly spaced colours of the scale, as hex: bin k covers [k/n, (k+1)/n) of the domain. */
export function binColours(scale: ContinuousScale, n: number): string[] {
  return Array.from({ length: n }, (_, k) => rgbToHex(sampleScale(scale, (k + 0.5) / n)));
}

/** The bin (0..n−1) of a value on the scale's domain, or −1 for NaN. */
export function binOf(scale: ContinuousScale, value: number, n: number): number {
  if (!Number.isFinite(value)) return -1;
  const [lo, hi] = scale.domain;
  const t = (value - lo) / (hi - lo);
  return Math.min(n - 1, Math.max(0, Math.floor(t * n)));
}

export function categoryColour(i: number): string {
  return CATEGORY_COLOURS[((i % CATEGORY_COLOURS.length) + CATEGORY_COLOURS.length) % CATEGORY_COLOURS.length];
}

/** A CSS linear-gradient for a legend bar. */
export function gradientCss(scale: ContinuousScale): string {
  return `linear-gradient(to right, ${scale.stops.join(', ')})`;
}
