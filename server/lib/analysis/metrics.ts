/**
 * Per-patch segmentation metrics. Confusion counts are the one source; every metric is a reduction of them, so
 * a patch's IoU, Dice, precision and recall can never disagree with each other.
 */
import { TilelensError } from '../errors.ts';
export interface ConfusionCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** What IoU/Dice mean for a patch with neither ground truth nor prediction: undefined (null), 1, or the paper's 0. */
export type EmptyPolicy = 'null' | 'one' | 'zero';

export interface PatchMetrics {
  iou: number | null;
  dice: number | null;
  precision: number | null;
  recall: number | null;
  gtFraction: number;
  predFraction: number;
  empty: boolean;
}

export class MetricsError extends TilelensError {
  override name = 'MetricsError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('metrics', message, { status: 400, cause: options?.cause });
  }
}

/** `prob` may be probabilities (Float32Array) or a binary mask (Uint8Array, 0/1 or 0/255: any non-zero value is above 0.5). */
export function confusionCounts(
  prob: Float32Array | Uint8Array,
  gt: Uint8Array,
  threshold = 0.5,
): ConfusionCounts {
  if (prob.length !== gt.length) {
    throw new MetricsError(
      `confusionCounts: prediction has ${prob.length} pixels but ground truth has ${gt.length}; ` +
        'crop both to the same patch before scoring',
    );
  }
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < gt.length; i++) {
    const p = prob[i] > threshold;
    const g = gt[i] !== 0;
    if (p) {
      if (g) tp++;
      else fp++;
    } else if (g) fn++;
    else tn++;
  }
  return { tp, fp, fn, tn };
}

export function metricsFromCounts(c: ConfusionCounts, emptyPolicy: EmptyPolicy = 'null'): PatchMetrics {
  const total = c.tp + c.fp + c.fn + c.tn;
  if (total <= 0)
    throw new MetricsError('metricsFromCounts: the counts add up to 0 pixels; a patch needs at least one');
  const gt = c.tp + c.fn;
  const pred = c.tp + c.fp;
  const empty = gt === 0 && pred === 0;
  const emptyValue = emptyPolicy === 'null' ? null : emptyPolicy === 'one' ? 1 : 0;
  return {
    iou: empty ? emptyValue : c.tp / (c.tp + c.fp + c.fn),
    dice: empty ? emptyValue : (2 * c.tp) / (2 * c.tp + c.fp + c.fn),
    precision: pred === 0 ? null : c.tp / pred,
    recall: gt === 0 ? null : c.tp / gt,
    gtFraction: gt / total,
    predFraction: pred / total,
    empty,
  };
}
