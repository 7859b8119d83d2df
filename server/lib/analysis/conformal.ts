/**
 * Split-conformal intervals, Mondrian over novelty: each novelty bin gets its own quantile of held-out
 * residuals, so tiles far from the training data get wider intervals because the residuals there are larger,
 * not because a rule says so. An estimator like the others here (fit / interval / toJSON / fromJSON); the
 * insights calibrate it on a run (server/lib/insights/confidence-intervals.ts), scoring applies it to tiles.
 */
import type { DatabaseHandle } from '../db/client.ts';
import { getInsightRecord } from '../db/insight-records.ts';
import { EstimatorError, assertKind } from './estimator.ts';

/** The conformal quantile: the ⌈(n+1)(1−α)⌉-th smallest residual; Infinity when n is too small for 1−α. */
export function conformalQuantile(residuals: ArrayLike<number>, alpha: number): number {
  const n = residuals.length;
  const rank = Math.ceil((n + 1) * (1 - alpha));
  if (rank > n) return Number.POSITIVE_INFINITY;
  const sorted = Float64Array.from(residuals).sort();
  return sorted[rank - 1];
}

export interface MondrianParams {
  /** Miscoverage: 0.1 gives 90 % intervals. */
  alpha?: number;
  /** Novelty (percentile) bin edges; bins are [0, e0), [e0, e1), …, [eLast, ∞). */
  binEdges?: number[];
  /** Bins with fewer calibration residuals borrow the next lower bin's quantile (or the global one). */
  minPerBin?: number;
}

export interface MondrianConformalJSON {
  kind: 'MondrianConformal';
  params: Required<MondrianParams>;
  quantiles: number[];
  globalQuantile: number;
  counts: number[];
}

export class MondrianConformal {
  readonly params: Required<MondrianParams>;
  quantiles: number[] = [];
  globalQuantile = Number.NaN;
  counts: number[] = [];

  constructor(params: MondrianParams = {}) {
    this.params = {
      alpha: params.alpha ?? 0.1,
      binEdges: params.binEdges ?? [50, 80, 95],
      minPerBin: params.minPerBin ?? 30,
    };
    if (!(this.params.alpha > 0 && this.params.alpha < 1)) {
      throw new EstimatorError(`MondrianConformal: alpha must lie in (0, 1), got ${params.alpha}`);
    }
  }

  get fitted(): boolean {
    return this.quantiles.length > 0;
  }

  bin(novelty: number): number {
    const e = this.params.binEdges;
    let b = 0;
    while (b < e.length && !(novelty < e[b])) b++;
    return b;
  }

  /** Learns one residual quantile per novelty bin from held-out predictions and truths. */
  fit(pred: ArrayLike<number>, truth: ArrayLike<number>, novelty: ArrayLike<number>): this {
    if (pred.length !== truth.length || pred.length !== novelty.length) {
      throw new EstimatorError(
        `MondrianConformal.fit: got ${pred.length} predictions, ${truth.length} truths and ${novelty.length} novelties; pass one of each per patch`,
      );
    }
    const bins: number[][] = Array.from({ length: this.params.binEdges.length + 1 }, () => []);
    const all: number[] = [];
    for (let i = 0; i < pred.length; i++) {
      if (!Number.isFinite(pred[i]) || !Number.isFinite(truth[i])) continue;
      const r = Math.abs(truth[i] - pred[i]);
      all.push(r);
      bins[this.bin(Number.isFinite(novelty[i]) ? novelty[i] : 100)].push(r);
    }
    if (all.length < 2)
      throw new EstimatorError(
        `MondrianConformal.fit: needs at least 2 held-out residuals, got ${all.length}`,
      );
    this.globalQuantile = conformalQuantile(all, this.params.alpha);
    this.counts = bins.map((b) => b.length);
    let previous = 0;
    this.quantiles = bins.map((b) => {
      const own =
        b.length >= this.params.minPerBin
          ? conformalQuantile(b, this.params.alpha)
          : Math.max(previous, this.globalQuantile);
      // Never narrower than a less novel bin: more novelty should not buy more confidence.
      previous = Math.max(previous, own);
      return previous;
    });
    return this;
  }

  interval(pred: number, novelty: number): [number, number] {
    if (!this.fitted) throw new EstimatorError('MondrianConformal: not fitted yet; call fit() first');
    const q = this.quantiles[this.bin(Number.isFinite(novelty) ? novelty : 100)];
    return [Math.max(0, pred - q), Math.min(1, pred + q)];
  }

  toJSON(): MondrianConformalJSON {
    return {
      kind: 'MondrianConformal',
      params: this.params,
      quantiles: this.quantiles,
      globalQuantile: this.globalQuantile,
      counts: this.counts,
    };
  }

  static fromJSON(json: MondrianConformalJSON): MondrianConformal {
    assertKind('MondrianConformal', json, 'MondrianConformal');
    const m = new MondrianConformal(json.params);
    // JSON has no Infinity: a too-small bin was stored as null and means "the whole range".
    m.quantiles = json.quantiles.map((q) => (q === null ? Number.POSITIVE_INFINITY : q));
    m.globalQuantile = json.globalQuantile ?? Number.POSITIVE_INFINITY;
    m.counts = json.counts;
    return m;
  }
}

/** The interval model for scoring new tiles with a run; null when the run has none yet. */
export async function loadIntervalModel(
  db: DatabaseHandle,
  runId: number,
): Promise<MondrianConformal | null> {
  const record = await getInsightRecord<{ model: MondrianConformalJSON }>(db, runId, 'confidence');
  return record ? MondrianConformal.fromJSON(record.model) : null;
}

/** What a scored tile stores: the interval of its smoothed IoU at its novelty, rounded like the other scores. */
export function tileInterval(
  model: MondrianConformal,
  iouHat: number,
  novelty: number,
): { iouLow: number; iouHigh: number } {
  const [lo, hi] = model.interval(iouHat, novelty);
  return { iouLow: Number(lo.toFixed(6)), iouHigh: Number(hi.toFixed(6)) };
}
