/**
 * The raster overlay layers: which score each shows, its colour scale, and how scoring tiles that share
 * a pixel (view zoom below scoring zoom − 8) are folded into one. The fold keeps what a manager must not
 * miss: the highest priority, the lowest confidence, the highest novelty.
 */
import { CONFIDENCE_SCALE, NOVELTY_SCALE, PRIORITY_SCALE, type ColourScale } from './colour-scales.ts';
import type { OverlayCellRow } from '../db/tile-scores-repo.ts';

export const OVERLAY_LAYERS = ['priority', 'confidence', 'novelty'] as const;
export type OverlayLayer = (typeof OVERLAY_LAYERS)[number];

/**
 * The columns of a scored tile the overlays read (db/tile-scores-repo.ts reads them); the smoothed IoU's
 * conformal interval and P(building)'s no-label interval may be absent on tiles scored before they existed.
 */
type Optional = 'iouLow' | 'iouHigh' | 'buildingProbLow' | 'buildingProbHigh';
export type OverlayCell = Omit<OverlayCellRow, Optional> & Partial<Pick<OverlayCellRow, Optional>>;

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
      "How far the reference run speaks for each tile's answer: green = like the tiles the model was checked on; red = unlike anything it was checked on, so its answer there is a guess until labels from the region confirm it — the doubt behind the priority.",
    scale: CONFIDENCE_SCALE,
    value: confidenceShown,
    keep: 'min',
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
 * The confidence a tile is drawn with: 1 − its doubt, the width of its P(building) interval without labels (the
 * interval is [p(1 − u), p + u(1 − p)], u wide). Tiles scored before tile-level trust existed have none.
 */
export function confidenceShown(c: OverlayCell): number | null {
  if (c.status !== 'scored') return null;
  const { buildingProbLow: lo, buildingProbHigh: hi } = c;
  if (lo === null || lo === undefined || hi === null || hi === undefined) return null;
  return Math.min(1, Math.max(0, 1 - (hi - lo)));
}
