/**
 * Recalibrating the model's P(building) to a region from its labelled sample: weighted Platt scaling on
 * logit(buildingProb), P(y = 1) = σ(a·logit(p) + b), each label weighted by 1/π (its inclusion
 * probability) so the fit describes the region, not the sample's strata.
 *
 * A small Gaussian prior pulls (a, b) toward (1, 0) — "the reference calibration holds" — with the weight
 * of `prior` labels. It keeps the fit finite when the sample has no positive (or no negative) at all,
 * and it fades as labels come in.
 *
 * Where a recalibrated probability feeds an estimate, it is cross-fitted (`crossFitCalibrators`): each
 * labelled tile is predicted by a model fitted without its fold, and the region's tiles by the mean of
 * the fold models (cross-prediction-powered inference, Zrnic & Candès 2024), so the labels that correct
 * the model are never the ones it was fitted on.
 */
import { TrustError } from './errors.ts';

export interface WeightedLabel {
  buildingProb: number;
  label: 0 | 1;
  /** 1 / inclusion probability. */
  weight: number;
}

export interface RegionCalibratorState {
  kind: 'RegionCalibrator';
  slope: number;
  intercept: number;
  labels: number;
  positives: number;
  prior: number;
}

const P_MIN = 1e-4;

export const logit = (p: number) => {
  const q = Math.min(1 - P_MIN, Math.max(P_MIN, p));
  return Math.log(q / (1 - q));
};
export const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export class RegionCalibrator {
  slope = 1;
  intercept = 0;
  labels = 0;
  positives = 0;
  readonly prior: number;

  constructor(options: { prior?: number } = {}) {
    this.prior = options.prior ?? 2;
    if (!(this.prior > 0)) throw new TrustError('invalid-request', `prior = ${this.prior}; use a weight > 0`);
  }

  /** Newton's method on the penalised weighted log-likelihood (convex, so it converges from (1, 0)). */
  fit(data: readonly WeightedLabel[]): this {
    const n = data.length;
    this.labels = n;
    this.positives = data.filter((d) => d.label === 1).length;
    this.slope = 1;
    this.intercept = 0;
    if (n === 0) return this;
    const totalW = data.reduce((s, d) => s + d.weight, 0);
    if (!(totalW > 0)) throw new TrustError('invalid-request', 'calibration weights must be positive');
    // Weights sum to n, so the prior counts as `prior` labels whatever the region's size.
    const w = data.map((d) => (d.weight * n) / totalW);
    const x = data.map((d) => logit(d.buildingProb));
    const lam = this.prior;
    const loss = (a: number, b: number) => {
      let l = (lam / 2) * ((a - 1) ** 2 + b ** 2);
      for (let i = 0; i < n; i++) {
        const z = a * x[i] + b;
        // log(1 + e^z) − y·z, stable for large |z|.
        l += w[i] * ((z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - data[i].label * z);
      }
      return l;
    };
    let a = 1;
    let b = 0;
    let current = loss(a, b);
    for (let iter = 0; iter < 100; iter++) {
      let ga = lam * (a - 1);
      let gb = lam * b;
      let haa = lam;
      let hab = 0;
      let hbb = lam;
      for (let i = 0; i < n; i++) {
        const s = sigmoid(a * x[i] + b);
        const r = w[i] * (s - data[i].label);
        const v = w[i] * s * (1 - s);
        ga += r * x[i];
        gb += r;
        haa += v * x[i] * x[i];
        hab += v * x[i];
        hbb += v;
      }
      const det = haa * hbb - hab * hab;
      const da = (hbb * ga - hab * gb) / det;
      const db = (haa * gb - hab * ga) / det;
      let step = 1;
      let next = loss(a - da, b - db);
      while (next > current && step > 1e-6) {
        step /= 2;
        next = loss(a - step * da, b - step * db);
      }
      a -= step * da;
      b -= step * db;
      const done = Math.max(Math.abs(step * da), Math.abs(step * db)) < 1e-9;
      current = next;
      if (done) break;
    }
    this.slope = a;
    this.intercept = b;
    return this;
  }

  predict(buildingProb: number): number {
    return sigmoid(this.slope * logit(buildingProb) + this.intercept);
  }

  toJSON(): RegionCalibratorState {
    return {
      kind: 'RegionCalibrator',
      slope: this.slope,
      intercept: this.intercept,
      labels: this.labels,
      positives: this.positives,
      prior: this.prior,
    };
  }

  static fromJSON(state: RegionCalibratorState): RegionCalibrator {
    if (
      state?.kind !== 'RegionCalibrator' ||
      !Number.isFinite(state.slope) ||
      !Number.isFinite(state.intercept)
    ) {
      throw new TrustError('invalid-request', 'not a RegionCalibrator state; refit it from the labels');
    }
    const c = new RegionCalibrator({ prior: state.prior });
    c.slope = state.slope;
    c.intercept = state.intercept;
    c.labels = state.labels;
    c.positives = state.positives;
    return c;
  }
}

export interface CrossFit {
  models: RegionCalibrator[];
  /** Fold of each label, in input order. */
  fold: Int32Array;
  /** Each label's prediction by the model that did not see it. */
  outOfFold: Float64Array;
  /** A region tile's prediction: the mean of the fold models. */
  predict(buildingProb: number): number;
}

/**
 * K-fold cross-fit. Folds are dealt round-robin in the order given (callers pass labels sorted by stratum,
 * so every fold spans the strata); with fewer than 2·K labels K shrinks, and with fewer than 4 labels the
 * one prior-only model (which has seen no label) serves every tile.
 */
export function crossFitCalibrators(data: readonly WeightedLabel[], folds = 5, prior = 2): CrossFit {
  const K = Math.max(1, Math.min(folds, Math.floor(data.length / 2)));
  const fold = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) fold[i] = i % K;
  const models: RegionCalibrator[] = [];
  if (K === 1 || data.length < 4) {
    models.push(new RegionCalibrator({ prior }).fit([]));
  } else {
    for (let k = 0; k < K; k++) {
      models.push(new RegionCalibrator({ prior }).fit(data.filter((_, i) => fold[i] !== k)));
    }
  }
  const outOfFold = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    outOfFold[i] = models[models.length === 1 ? 0 : fold[i]].predict(data[i].buildingProb);
  }
  return {
    models,
    fold,
    outOfFold,
    predict: (p) => {
      const x = logit(p);
      let s = 0;
      for (const m of models) s += sigmoid(m.slope * x + m.intercept);
      return s / models.length;
    },
  };
}
