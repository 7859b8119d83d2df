/**
 * L2-penalised logistic regression, fitted by Newton's method (IRLS) — small, exact and deterministic, for the
 * few-feature tile-level questions (does this tile hold a building?).
 *
 * Features are standardised with the training rows' mean and standard deviation and clipped to the range the
 * training rows covered: a tile far outside that range (a region the model never saw) gets the prediction of the
 * nearest edge of what was learned instead of an extrapolated certainty.
 */
import { invertSpd, solveSpd } from './cholesky.ts';
import {
  assertFeatures,
  assertFitted,
  assertKind,
  assertMatrix,
  EstimatorError,
  type EstimatorJSON,
  type Predictor,
} from './estimator.ts';

export interface LogisticParams {
  /** L2 penalty on the standardised coefficients (never on the intercept). */
  l2?: number;
  maxIter?: number;
  /** Stop when the largest Newton step is below this. */
  tol?: number;
}

export interface LogisticJSON extends EstimatorJSON {
  kind: 'LogisticRegression';
  params: Required<LogisticParams>;
  nFeatures: number;
  mean: number[];
  scale: number[];
  lower: number[];
  upper: number[];
  /** Intercept first, then one coefficient per standardised feature. */
  coef: number[];
  /** Inverse of the penalised Hessian at the fit, (d+1)×(d+1) row-major: the coefficients' covariance. */
  covariance: number[];
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

const SINGULAR = 'LogisticRegression: the Newton system is singular';

export class LogisticRegression implements Predictor {
  readonly params: Required<LogisticParams>;
  nFeatures = 0;
  private mean = new Float64Array(0);
  private scale = new Float64Array(0);
  private lower = new Float64Array(0);
  private upper = new Float64Array(0);
  private coef = new Float64Array(0);
  private covariance = new Float64Array(0);

  constructor(params: LogisticParams = {}) {
    this.params = { l2: params.l2 ?? 1, maxIter: params.maxIter ?? 50, tol: params.tol ?? 1e-8 };
    if (!(this.params.l2 > 0))
      throw new EstimatorError(`LogisticRegression: l2 must be > 0, got ${params.l2}`);
  }

  get fitted(): boolean {
    return this.coef.length > 0;
  }

  /** `y` holds 0 / 1 per row; `weights` (optional) one non-negative weight per row. */
  fit(X: Float32Array, nRows: number, nFeatures: number, y?: Float32Array, weights?: Float32Array): this {
    assertMatrix('LogisticRegression.fit', X, nRows, nFeatures);
    if (!y || y.length !== nRows) throw new EstimatorError('LogisticRegression.fit: one 0/1 target per row');
    if (nRows === 0) throw new EstimatorError('LogisticRegression.fit: no rows to fit');
    const d = nFeatures;
    this.nFeatures = d;
    this.mean = new Float64Array(d);
    this.scale = new Float64Array(d);
    this.lower = new Float64Array(d).fill(Infinity);
    this.upper = new Float64Array(d).fill(-Infinity);
    for (let r = 0; r < nRows; r++) {
      for (let j = 0; j < d; j++) {
        const v = X[r * d + j];
        if (!Number.isFinite(v))
          throw new EstimatorError(`LogisticRegression.fit: row ${r} feature ${j} is ${v}`);
        this.mean[j] += v / nRows;
        if (v < this.lower[j]) this.lower[j] = v;
        if (v > this.upper[j]) this.upper[j] = v;
      }
    }
    for (let r = 0; r < nRows; r++)
      for (let j = 0; j < d; j++) this.scale[j] += (X[r * d + j] - this.mean[j]) ** 2;
    for (let j = 0; j < d; j++) this.scale[j] = Math.sqrt(this.scale[j] / nRows) || 1;

    const Z = this.standardise(X, nRows);
    const p = d + 1;
    const w = new Float64Array(p);
    let H = new Float64Array(p * p);
    for (let iter = 0; iter < this.params.maxIter; iter++) {
      H = new Float64Array(p * p);
      const g = new Float64Array(p);
      const row = new Float64Array(p);
      for (let r = 0; r < nRows; r++) {
        row[0] = 1;
        for (let j = 0; j < d; j++) row[j + 1] = Z[r * d + j];
        let z = 0;
        for (let j = 0; j < p; j++) z += w[j] * row[j];
        const q = sigmoid(z);
        const wt = weights ? weights[r] : 1;
        const h = wt * Math.max(q * (1 - q), 1e-12);
        const e = wt * (q - y[r]);
        for (let i = 0; i < p; i++) {
          g[i] += e * row[i];
          for (let j = 0; j <= i; j++) H[i * p + j] += h * row[i] * row[j];
        }
      }
      for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) H[j * p + i] = H[i * p + j];
      for (let j = 1; j < p; j++) {
        H[j * p + j] += this.params.l2;
        g[j] += this.params.l2 * w[j];
      }
      H[0] += 1e-9;
      const step = solveSpd(H, g, p);
      if (!step) throw new EstimatorError(SINGULAR);
      let largest = 0;
      for (let j = 0; j < p; j++) {
        w[j] -= step[j];
        largest = Math.max(largest, Math.abs(step[j]));
      }
      if (largest < this.params.tol) break;
    }
    this.coef = w;
    // The Hessian of the last step is the penalised information at the fit; its inverse is the covariance.
    const covariance = invertSpd(H, p);
    if (!covariance) throw new EstimatorError(SINGULAR);
    this.covariance = covariance;
    return this;
  }

  private standardise(X: Float32Array, nRows: number): Float64Array {
    const d = this.nFeatures;
    const Z = new Float64Array(nRows * d);
    for (let r = 0; r < nRows; r++) {
      for (let j = 0; j < d; j++) {
        const v = Math.min(this.upper[j], Math.max(this.lower[j], X[r * d + j]));
        Z[r * d + j] = (v - this.mean[j]) / this.scale[j];
      }
    }
    return Z;
  }

  /** P(y = 1) per row. */
  predict(X: Float32Array, nRows: number): Float32Array {
    assertFitted('LogisticRegression', this.fitted);
    assertFeatures('LogisticRegression.predict', X, nRows, this.nFeatures);
    const d = this.nFeatures;
    const Z = this.standardise(X, nRows);
    const out = new Float32Array(nRows);
    for (let r = 0; r < nRows; r++) {
      let z = this.coef[0];
      for (let j = 0; j < d; j++) z += this.coef[j + 1] * Z[r * d + j];
      out[r] = sigmoid(z);
    }
    return out;
  }

  /**
   * P(y = 1) per row with its Wald band: the linear predictor ± z standard errors from the coefficients'
   * covariance, through the sigmoid. The band says how much the fit itself is unsure of, on rows like its own.
   */
  predictInterval(
    X: Float32Array,
    nRows: number,
    z: number,
  ): { p: Float32Array; low: Float32Array; high: Float32Array } {
    assertFitted('LogisticRegression', this.fitted);
    assertFeatures('LogisticRegression.predictInterval', X, nRows, this.nFeatures);
    const d = this.nFeatures;
    const q = d + 1;
    const Z = this.standardise(X, nRows);
    const out = { p: new Float32Array(nRows), low: new Float32Array(nRows), high: new Float32Array(nRows) };
    const row = new Float64Array(q);
    for (let r = 0; r < nRows; r++) {
      row[0] = 1;
      for (let j = 0; j < d; j++) row[j + 1] = Z[r * d + j];
      let eta = 0;
      let v = 0;
      for (let i = 0; i < q; i++) {
        eta += this.coef[i] * row[i];
        for (let j = 0; j < q; j++) v += row[i] * this.covariance[i * q + j] * row[j];
      }
      const se = Math.sqrt(Math.max(0, v));
      out.p[r] = sigmoid(eta);
      out.low[r] = sigmoid(eta - z * se);
      out.high[r] = sigmoid(eta + z * se);
    }
    return out;
  }

  toJSON(): LogisticJSON {
    assertFitted('LogisticRegression', this.fitted);
    return {
      kind: 'LogisticRegression',
      params: { ...this.params },
      nFeatures: this.nFeatures,
      mean: Array.from(this.mean),
      scale: Array.from(this.scale),
      lower: Array.from(this.lower),
      upper: Array.from(this.upper),
      coef: Array.from(this.coef),
      covariance: Array.from(this.covariance),
    };
  }

  static fromJSON(json: LogisticJSON): LogisticRegression {
    assertKind('LogisticRegression', json, 'LogisticRegression');
    const m = new LogisticRegression(json.params);
    m.nFeatures = json.nFeatures;
    m.mean = Float64Array.from(json.mean);
    m.scale = Float64Array.from(json.scale);
    m.lower = Float64Array.from(json.lower);
    m.upper = Float64Array.from(json.upper);
    m.coef = Float64Array.from(json.coef);
    m.covariance = Float64Array.from(json.covariance ?? []);
    if (m.covariance.length !== (m.nFeatures + 1) ** 2)
      throw new EstimatorError('LogisticRegression.fromJSON: covariance must be (features + 1)² values');
    if (m.coef.length !== m.nFeatures + 1)
      throw new EstimatorError(
        'LogisticRegression.fromJSON: coef must hold an intercept and one value per feature',
      );
    return m;
  }
}

/** Mean negative log-likelihood of 0 / 1 outcomes under probabilities p (clipped away from 0 and 1). */
export function logLoss(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - 1e-6, Math.max(1e-6, p[i]));
    s -= y[i] ? Math.log(q) : Math.log(1 - q);
  }
  return s / p.length;
}

export function brierScore(p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i] - y[i]) ** 2;
  return s / p.length;
}
