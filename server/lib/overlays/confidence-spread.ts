/**
 * How doubtful a whole region is, and the confidence scale a volunteer can read there. On a region unlike
 * everything the reference run checked, most tiles' P(building) intervals are wide and the fixed scale paints
 * them all the same red: true, but it says nothing about where to look. So where most of the region is
 * doubtful the legend says so once, and the scale's colours are spread over the region's own range of
 * confidence (5th to 95th percentile), so the differences inside it show.
 *
 * Percentiles come from a 1,000-bin histogram filled in one pass over the cells: memory stays fixed whatever
 * the region's size.
 */
import { buildScale, type ColourScale } from './colour-scales.ts';
import { confidenceShown, type OverlayCell } from './layers.ts';

/** A region is doubtful when its median tile is below this confidence (the scale's amber stop). */
export const DOUBTFUL_MEDIAN = 0.4;
/** Below this spread (5th–95th percentile) a stretch would magnify noise: the fixed scale stays. */
export const MIN_STRETCH_SPREAD = 0.02;
const BINS = 1000;

export interface ConfidenceSpread {
  /** Scored tiles with a confidence. */
  tiles: number;
  median: number | null;
  p05: number | null;
  p95: number | null;
  /** Most of the region lies below DOUBTFUL_MEDIAN. */
  doubtful: boolean;
  /** The colour scale's domain is the region's own range rather than 0..1. */
  stretched: boolean;
  /** One sentence for the legend or a banner; null when the region is not doubtful. */
  note: string | null;
}

export async function confidenceSpread(
  cells: AsyncIterable<OverlayCell> | Iterable<OverlayCell>,
): Promise<ConfidenceSpread> {
  const hist = new Uint32Array(BINS);
  let n = 0;
  for await (const c of cells) {
    const v = confidenceShown(c);
    if (v === null) continue;
    hist[Math.min(BINS - 1, Math.floor(v * BINS))]++;
    n++;
  }
  if (n === 0) {
    return { tiles: 0, median: null, p05: null, p95: null, doubtful: false, stretched: false, note: null };
  }
  const quantile = (q: number) => {
    const rank = q * (n - 1);
    let seen = 0;
    for (let b = 0; b < BINS; b++) {
      seen += hist[b];
      if (seen > rank) return (b + 0.5) / BINS;
    }
    return 1;
  };
  const median = quantile(0.5);
  const p05 = quantile(0.05);
  const p95 = quantile(0.95);
  const doubtful = median < DOUBTFUL_MEDIAN;
  const stretched = doubtful && p95 - p05 >= MIN_STRETCH_SPREAD;
  const pct = (v: number) => `${Math.round(v * 100)} %`;
  // "Below" a bound rounded up, never "below 0 %": the median is the middle of a bin a thousandth wide.
  const below = (v: number) => `${Math.max(1, Math.ceil(v * 100))} %`;
  const note = doubtful
    ? `The whole region is unlike what the model was checked on: half its tiles are below ${below(median)} confidence, so every answer here is a guess until volunteers confirm it.` +
      (stretched
        ? ` Colours show the differences inside the region (${pct(p05)} to ${pct(p95)}): red is the least trusted part of it, blue the most.`
        : '')
    : null;
  return { tiles: n, median, p05, p95, doubtful, stretched, note };
}

/** The confidence scale for a region: the given one, or its colours spread over the region's range. */
export function regionConfidenceScale(base: ColourScale, spread: ConfidenceSpread): ColourScale {
  if (!spread.stretched || spread.p05 === null || spread.p95 === null) return base;
  const [lo, hi] = base.domain;
  const { p05, p95 } = spread;
  return buildScale(
    `${base.name} (region)`,
    base.stops.map((s) => ({ value: p05 + ((s.value - lo) / (hi - lo)) * (p95 - p05), rgba: s.rgba })),
  );
}
