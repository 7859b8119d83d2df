/**
 * The IoU surface ("smoothed IoU"): a one-hidden-layer ReLU network trained with Adam on squared error plus an L2
 * penalty, as scikit-learn's MLPRegressor (same loss scaling, Glorot init, early-stopping rule), so numbers compare
 * with the paper's. Inputs are standardised inside the model; the scaler is part of its state.
 */
import {
  assertFeatures,
  assertFitted,
  assertKind,
  assertMatrix,
  EstimatorError,
  type EstimatorJSON,
  type Predictor,
} from './estimator.ts';
import { createRng, permutation, type Rng } from './random.ts';

export interface MLPParams {
  hidden?: number;
  learningRate?: number;
  /** sklearn's alpha. */
  l2?: number;
  /** sklearn's max_iter. */
  epochs?: number;
  batchSize?: number;
  seed?: number;
  /** Hold out validationFraction of the training rows and stop when their R² stops improving. */
  earlyStopping?: boolean;
  validationFraction?: number;
  patience?: number;
  tol?: number;
}

export interface MLPJSON extends EstimatorJSON {
  kind: 'MLPRegressor';
  params: Required<MLPParams>;
  nFeatures: number;
  scalerMean: number[];
  scalerScale: number[];
  W1: number[];
  b1: number[];
  W2: number[];
  b2: number;
  epochsRun: number;
}

export class MLPRegressor implements Predictor {
  readonly params: Required<MLPParams>;
  nFeatures = 0;
  epochsRun = 0;
  private scalerMean = new Float64Array(0);
  private scalerScale = new Float64Array(0);
  private W1 = new Float64Array(0); // nFeatures×hidden
  private b1 = new Float64Array(0);
  private W2 = new Float64Array(0);
  private b2 = 0;
  private isFitted = false;

  constructor(params: MLPParams = {}) {
    this.params = {
      hidden: params.hidden ?? 100,
      learningRate: params.learningRate ?? 0.001,
      l2: params.l2 ?? 1e-4,
      epochs: params.epochs ?? 200,
      batchSize: params.batchSize ?? 64,
      seed: params.seed ?? 0,
      earlyStopping: params.earlyStopping ?? false,
      validationFraction: params.validationFraction ?? 0.1,
      patience: params.patience ?? 10,
      tol: params.tol ?? 1e-4,
    };
    const p = this.params;
    if (!Number.isInteger(p.hidden) || p.hidden <= 0)
      throw new EstimatorError(`MLPRegressor: hidden must be a positive integer, got ${p.hidden}`);
    if (!(p.learningRate > 0))
      throw new EstimatorError(`MLPRegressor: learningRate must be > 0, got ${p.learningRate}`);
    if (!Number.isInteger(p.batchSize) || p.batchSize <= 0)
      throw new EstimatorError(`MLPRegressor: batchSize must be a positive integer, got ${p.batchSize}`);
  }

  get fitted(): boolean {
    return this.isFitted;
  }

  fit(X: Float32Array, nRows: number, nFeatures: number, y?: Float32Array): this {
    assertMatrix('MLPRegressor.fit', X, nRows, nFeatures);
    if (!y || y.length !== nRows)
      throw new EstimatorError(
        `MLPRegressor.fit: y must hold one target per row (${nRows}), got ${y?.length ?? 'none'}`,
      );
    for (let i = 0; i < nRows; i++) {
      if (!Number.isFinite(y[i]))
        throw new EstimatorError(
          `MLPRegressor.fit: target of row ${i} is ${y[i]}; drop rows without a target first`,
        );
    }
    if (nRows < 2) throw new EstimatorError(`MLPRegressor.fit: needs at least 2 rows, got ${nRows}`);
    const p = this.params;
    const rng = createRng(p.seed);
    const f = nFeatures;
    const h = p.hidden;
    this.nFeatures = f;
    this.fitScaler(X, nRows, f);
    const Xs = this.standardise(X, nRows);

    // sklearn's Glorot-uniform initialisation.
    const bound1 = Math.sqrt(6 / (f + h));
    const bound2 = Math.sqrt(6 / (h + 1));
    this.W1 = Float64Array.from({ length: f * h }, () => (rng.next() * 2 - 1) * bound1);
    this.b1 = Float64Array.from({ length: h }, () => (rng.next() * 2 - 1) * bound1);
    this.W2 = Float64Array.from({ length: h }, () => (rng.next() * 2 - 1) * bound2);
    this.b2 = (rng.next() * 2 - 1) * bound2;

    let trainIdx = permutation(nRows, rng);
    let validIdx = new Int32Array(0);
    if (p.earlyStopping) {
      const nValid = Math.max(1, Math.round(nRows * p.validationFraction));
      if (nRows - nValid < 1)
        throw new EstimatorError(
          'MLPRegressor.fit: too few rows to hold out a validation set; disable earlyStopping',
        );
      validIdx = trainIdx.slice(0, nValid);
      trainIdx = trainIdx.slice(nValid);
    }
    this.train(Xs, y, trainIdx, validIdx, rng);
    this.isFitted = true;
    return this;
  }

  private fitScaler(X: Float32Array, n: number, f: number): void {
    this.scalerMean = new Float64Array(f);
    this.scalerScale = new Float64Array(f);
    for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) this.scalerMean[j] += X[r * f + j];
    for (let j = 0; j < f; j++) this.scalerMean[j] /= n;
    for (let r = 0; r < n; r++)
      for (let j = 0; j < f; j++) this.scalerScale[j] += (X[r * f + j] - this.scalerMean[j]) ** 2;
    // A constant feature keeps scale 1 (as sklearn's StandardScaler) rather than dividing by zero.
    for (let j = 0; j < f; j++) this.scalerScale[j] = Math.sqrt(this.scalerScale[j] / n) || 1;
  }

  private standardise(X: Float32Array, n: number): Float64Array {
    const f = this.nFeatures;
    const out = new Float64Array(n * f);
    for (let r = 0; r < n; r++)
      for (let j = 0; j < f; j++) out[r * f + j] = (X[r * f + j] - this.scalerMean[j]) / this.scalerScale[j];
    return out;
  }

  private train(
    Xs: Float64Array,
    y: Float32Array,
    trainIdx: Int32Array,
    validIdx: Int32Array,
    rng: Rng,
  ): void {
    const p = this.params;
    const f = this.nFeatures;
    const h = p.hidden;
    const params = [this.W1, this.b1, this.W2];
    const grads = params.map((a) => new Float64Array(a.length));
    const m = params.map((a) => new Float64Array(a.length));
    const v = params.map((a) => new Float64Array(a.length));
    let mb2 = 0;
    let vb2 = 0;
    const [gW1, gb1, gW2] = grads;
    const act = new Float64Array(h);
    const beta1 = 0.9;
    const beta2 = 0.999;
    let step = 0;
    let best = p.earlyStopping ? -Infinity : Infinity;
    let noImprove = 0;
    let bestState: Float64Array[] | null = null;
    let bestB2 = 0;
    const nTrain = trainIdx.length;
    for (let epoch = 0; epoch < p.epochs; epoch++) {
      // sklearn shuffles the training rows every epoch.
      for (let i = nTrain - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = trainIdx[i];
        trainIdx[i] = trainIdx[j];
        trainIdx[j] = t;
      }
      let epochLoss = 0;
      for (let start = 0; start < nTrain; start += p.batchSize) {
        const end = Math.min(start + p.batchSize, nTrain);
        const bs = end - start;
        gW1.fill(0);
        gb1.fill(0);
        gW2.fill(0);
        let gb2 = 0;
        for (let s = start; s < end; s++) {
          const r = trainIdx[s];
          const xo = r * f;
          let out = this.b2;
          for (let k = 0; k < h; k++) {
            let z = this.b1[k];
            for (let j = 0; j < f; j++) z += Xs[xo + j] * this.W1[j * h + k];
            const a = z > 0 ? z : 0;
            act[k] = a;
            out += a * this.W2[k];
          }
          const err = out - y[r];
          epochLoss += err * err;
          gb2 += err;
          for (let k = 0; k < h; k++) {
            gW2[k] += err * act[k];
            if (act[k] > 0) {
              const delta = err * this.W2[k];
              gb1[k] += delta;
              for (let j = 0; j < f; j++) gW1[j * h + k] += delta * Xs[xo + j];
            }
          }
        }
        // Mean gradient of 0.5·MSE plus alpha·W / batch — sklearn's scaling of the L2 term.
        for (let i = 0; i < gW1.length; i++) gW1[i] = gW1[i] / bs + (p.l2 * this.W1[i]) / bs;
        for (let i = 0; i < gW2.length; i++) gW2[i] = gW2[i] / bs + (p.l2 * this.W2[i]) / bs;
        for (let i = 0; i < gb1.length; i++) gb1[i] /= bs;
        gb2 /= bs;
        step++;
        const lr = (p.learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
        for (let q = 0; q < params.length; q++) {
          const w = params[q];
          const g = grads[q];
          const mq = m[q];
          const vq = v[q];
          for (let i = 0; i < w.length; i++) {
            mq[i] = beta1 * mq[i] + (1 - beta1) * g[i];
            vq[i] = beta2 * vq[i] + (1 - beta2) * g[i] * g[i];
            w[i] -= (lr * mq[i]) / (Math.sqrt(vq[i]) + 1e-8);
          }
        }
        mb2 = beta1 * mb2 + (1 - beta1) * gb2;
        vb2 = beta2 * vb2 + (1 - beta2) * gb2 * gb2;
        this.b2 -= (lr * mb2) / (Math.sqrt(vb2) + 1e-8);
      }
      this.epochsRun = epoch + 1;
      if (p.earlyStopping) {
        const score = this.scoreRows(Xs, y, validIdx);
        if (score > best + p.tol) {
          best = score;
          noImprove = 0;
          bestState = params.map((a) => a.slice());
          bestB2 = this.b2;
        } else if (++noImprove >= p.patience) break;
      } else {
        const loss = epochLoss / (2 * nTrain);
        if (loss < best - p.tol) {
          best = loss;
          noImprove = 0;
        } else if (++noImprove >= p.patience) break;
      }
    }
    if (bestState) {
      this.W1.set(bestState[0]);
      this.b1.set(bestState[1]);
      this.W2.set(bestState[2]);
      this.b2 = bestB2;
    }
  }

  private forward(Xs: Float64Array, r: number): number {
    const f = this.nFeatures;
    const h = this.params.hidden;
    let out = this.b2;
    for (let k = 0; k < h; k++) {
      let z = this.b1[k];
      for (let j = 0; j < f; j++) z += Xs[r * f + j] * this.W1[j * h + k];
      if (z > 0) out += z * this.W2[k];
    }
    return out;
  }

  private scoreRows(Xs: Float64Array, y: Float32Array, idx: Int32Array): number {
    const pred = new Float32Array(idx.length);
    const truth = new Float32Array(idx.length);
    for (let i = 0; i < idx.length; i++) {
      pred[i] = this.forward(Xs, idx[i]);
      truth[i] = y[idx[i]];
    }
    return r2Score(truth, pred);
  }

  predict(X: Float32Array, nRows: number): Float32Array {
    assertFitted('MLPRegressor', this.isFitted);
    assertFeatures('MLPRegressor.predict', X, nRows, this.nFeatures);
    const out = new Float32Array(nRows);
    const f = this.nFeatures;
    const row = new Float64Array(f);
    for (let r = 0; r < nRows; r++) {
      for (let j = 0; j < f; j++) row[j] = (X[r * f + j] - this.scalerMean[j]) / this.scalerScale[j];
      out[r] = this.forward(row, 0);
    }
    return out;
  }

  toJSON(): MLPJSON {
    assertFitted('MLPRegressor', this.isFitted);
    return {
      kind: 'MLPRegressor',
      params: { ...this.params },
      nFeatures: this.nFeatures,
      scalerMean: Array.from(this.scalerMean),
      scalerScale: Array.from(this.scalerScale),
      W1: Array.from(this.W1),
      b1: Array.from(this.b1),
      W2: Array.from(this.W2),
      b2: this.b2,
      epochsRun: this.epochsRun,
    };
  }

  static fromJSON(json: MLPJSON): MLPRegressor {
    assertKind('MLPRegressor', json, 'MLPRegressor');
    const model = new MLPRegressor(json.params);
    model.nFeatures = json.nFeatures;
    model.scalerMean = Float64Array.from(json.scalerMean);
    model.scalerScale = Float64Array.from(json.scalerScale);
    model.W1 = Float64Array.from(json.W1);
    model.b1 = Float64Array.from(json.b1);
    model.W2 = Float64Array.from(json.W2);
    model.b2 = json.b2;
    model.epochsRun = json.epochsRun;
    model.isFitted = true;
    return model;
  }
}

export interface MeanRegressorJSON extends EstimatorJSON {
  kind: 'MeanRegressor';
  nFeatures: number;
  mean: number;
}

/** The baseline every IoU surface is shown beside: predicts the training mean. */
export class MeanRegressor implements Predictor {
  nFeatures = 0;
  mean = 0;
  private isFitted = false;

  get fitted(): boolean {
    return this.isFitted;
  }

  fit(X: Float32Array, nRows: number, nFeatures: number, y?: Float32Array): this {
    assertMatrix('MeanRegressor.fit', X, nRows, nFeatures);
    if (!y || y.length !== nRows || nRows === 0)
      throw new EstimatorError(
        `MeanRegressor.fit: y must hold one target per row (${nRows}), got ${y?.length ?? 'none'}`,
      );
    let s = 0;
    for (let i = 0; i < nRows; i++) s += y[i];
    this.mean = s / nRows;
    this.nFeatures = nFeatures;
    this.isFitted = true;
    return this;
  }

  predict(X: Float32Array, nRows: number): Float32Array {
    assertFitted('MeanRegressor', this.isFitted);
    assertFeatures('MeanRegressor.predict', X, nRows, this.nFeatures);
    return new Float32Array(nRows).fill(this.mean);
  }

  toJSON(): MeanRegressorJSON {
    assertFitted('MeanRegressor', this.isFitted);
    return { kind: 'MeanRegressor', nFeatures: this.nFeatures, mean: this.mean };
  }

  static fromJSON(json: MeanRegressorJSON): MeanRegressor {
    assertKind('MeanRegressor', json, 'MeanRegressor');
    const m = new MeanRegressor();
    m.nFeatures = json.nFeatures;
    m.mean = json.mean;
    m.isFitted = true;
    return m;
  }
}

export function r2Score(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  if (n === 0 || yPred.length !== n)
    throw new EstimatorError(`r2Score: needs equal, non-empty arrays, got ${n} and ${yPred.length}`);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i];
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (yTrue[i] - yPred[i]) ** 2;
    ssTot += (yTrue[i] - mean) ** 2;
  }
  // sklearn's convention for a constant target: perfect → 1, otherwise 0.
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

export function meanAbsoluteError(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  if (n === 0 || yPred.length !== n)
    throw new EstimatorError(
      `meanAbsoluteError: needs equal, non-empty arrays, got ${n} and ${yPred.length}`,
    );
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(yTrue[i] - yPred[i]);
  return s / n;
}

/** Shuffled split of 0..n-1; both halves returned ascending. */
export function trainTestSplit(
  n: number,
  testFraction = 0.15,
  seed = 0,
): { train: Int32Array; test: Int32Array } {
  if (!(testFraction > 0 && testFraction < 1))
    throw new EstimatorError(`trainTestSplit: testFraction must be in (0, 1), got ${testFraction}`);
  const perm = permutation(n, createRng(seed));
  const nTest = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
  return { test: perm.slice(0, nTest).sort(), train: perm.slice(nTest).sort() };
}
