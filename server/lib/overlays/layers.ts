/**
 * The raster overlay layers: which score each shows, its colour scale, and how scoring tiles that share
 * a pixel (view zoom below scoring zoom − 8) are folded into one. The fold keeps what a manager must not
 * miss: the highest priority, the lowest confidence, the highest novelty.
 */
import { CONFIDENCE_SCALE, NOVELTY_SCALE, PRIORITY_SCALE, type ColourScale } from './colour-scales.ts';
import type { OverlayCellRow } from '../db/tile-scores-repo.ts';
import { modelTrust } from '../scoring/priority.ts';

export const OVERLAY_LAYERS = ['priority', 'confidence', 'novelty'] as const;
export type OverlayLayer = (typeof OVERLAY_LAYERS)[number];

/**
 * The columns of a scored tile the overlays read (db/tile-scores-repo.ts reads them); the smoothed IoU's
 * conformal interval may be absent on tiles scored before the run's intervals existed.
 */
export type OverlayCell = Omit<OverlayCellRow, 'iouLow' | 'iouHigh'> &
  Partial<Pick<OverlayCellRow, 'iouLow' | 'iouHigh'>>;

export interface OverlayLayerDef {
  id: OverlayLayer;
  title: string;
  /** One sentence for the legend: what the colour means. */
  description: string;
  scale: ColourScale;
  /** The value to colour, or null when the tile has none (not scored: drawn grey). */
  value(cell: OverlayCell): number | null;
  /** Which of two values sharing a pixel is kept. */
  keep: 'max' | 'min';
  /** A factor (0..1) on the scale's alpha for this tile, e.g. fading a score nobody can vouch for. */
  alpha?(cell: OverlayCell): number;
  lowLabel: string;
  highLabel: string;
}

export const OVERLAY_LAYER_DEFS: Record<OverlayLayer, OverlayLayerDef> = {
  priority: {
    id: 'priority',
    title: 'Priority',
    description:
      'Which tiles volunteers should see first: bright = likely buildings or a model that cannot be trusted there.',
    scale: PRIORITY_SCALE,
    // Tiles without imagery still carry the priority the job gave them, and volunteers still get them.
    value: (c) => c.priority,
    keep: 'max',
    lowLabel: 'skip',
    highLabel: 'first',
  },
  confidence: {
    id: 'confidence',
    title: 'Confidence',
    description:
      'How far the model can be trusted on each tile: the smoothed IoU from its latent space (lower end of its 90 % interval), discounted where the tile is unlike anything in the training data — the trust behind the priority: red = doubtful.',
    scale: CONFIDENCE_SCALE,
    value: confidenceShown,
    keep: 'min',
    alpha: intervalAlpha,
    lowLabel: 'doubtful',
    highLabel: 'trusted',
  },
  novelty: {
    id: 'novelty',
    title: 'Novelty',
    description:
      'How unlike the training data each tile looks to the model (percentile of distance): bright = never seen anything like it.',
    scale: NOVELTY_SCALE,
    value: (c) => (c.status === 'scored' ? c.novelty : null),
    keep: 'max',
    lowLabel: 'familiar',
    highLabel: 'novel',
  },
};

/**
 * The confidence a tile is drawn with: the trust that also drives its priority — the smoothed IoU (at the lower
 * end of its interval when it has one), discounted as the tile lies beyond the training data (novelty). A
 * conformal interval is calibrated on training-like tiles only; far outside them the surface extrapolates (the
 * demo's new region reads IoU ≈ 1 where the truth is ≈ 0.01), so novelty must be able to pull the colour down.
 */
export function confidenceShown(c: OverlayCell): number | null {
  if (c.status !== 'scored') return null;
  const iou = c.iouLow ?? c.iouHat;
  if (iou === null || iou === undefined || !Number.isFinite(iou)) return null;
  const novelty = c.novelty ?? 100;
  return modelTrust(Math.min(1, Math.max(0, iou)), Math.min(100, Math.max(0, novelty)));
}

/**
 * Opacity factor from the width of the tile's confidence interval: a tile that *looks* trusted (shown confidence ≥
 * 0.5) fades by 1 − width, kept within 0.25..1, so it does not claim a confidence it has not got; a doubtful tile
 * keeps full strength whatever its interval — in a region the model has never seen (wide intervals everywhere)
 * the doubt is exactly what a manager must see. Tiles without an interval keep full strength.
 */
export function intervalAlpha(c: OverlayCell): number {
  if (c.iouLow === null || c.iouLow === undefined || c.iouHigh === null || c.iouHigh === undefined) return 1;
  const shown = confidenceShown(c);
  if (shown === null || !(shown >= 0.5)) return 1;
  const width = c.iouHigh - c.iouLow;
  if (!Number.isFinite(width)) return 1;
  return Math.min(1, Math.max(0.25, 1 - width));
}
