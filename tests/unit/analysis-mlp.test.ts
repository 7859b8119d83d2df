import { describe, expect, it } from 'vitest';
import {
  meanAbsoluteError,
  MeanRegressor,
  MLPRegressor,
  r2Score,
  trainTestSplit,
} from '../../server/lib/analysis/mlp.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

function nonlinear(n: number, seed: number) {
  const rng = createRng(seed);
  const X = new Float32Array(n * 3);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.next() * 4 - 2;
    const b = rng.next() * 4 - 2;
    X.set([a * 10 + 50, b, rng.next()], i * 3); // unscaled feature + an irrelevant one: the scaler must cope
    y[i] = Math.sin(a) * Math.abs(b) * 0.5 + 0.5;
  }
  return { X, y };
}

describe('MLPRegressor', () => {
  it('learns a nonlinear function (held-out R² > 0.9) and beats the mean predictor', () => {
    const { X, y } = nonlinear(3000, 1);
    const train = { X: X.subarray(0, 2500 * 3), y: y.subarray(0, 2500) };
    const test = { X: X.subarray(2500 * 3), y: y.subarray(2500) };
    const mlp = new MLPRegressor({ seed: 2, epochs: 150, hidden: 50, learningRate: 0.005 }).fit(
      train.X,
      2500,
      3,
      train.y,
    );
    const r2 = r2Score(test.y, mlp.predict(test.X, 500));
    expect(r2).toBeGreaterThan(0.9);
    const mean = new MeanRegressor().fit(train.X, 2500, 3, train.y);
    expect(r2Score(test.y, mean.predict(test.X, 500))).toBeLessThan(0.01);
    expect(meanAbsoluteError(test.y, mlp.predict(test.X, 500))).toBeLessThan(
      meanAbsoluteError(test.y, mean.predict(test.X, 500)),
    );
  });

  it('early stopping ends before the epoch cap', () => {
    const { X, y } = nonlinear(600, 3);
    const mlp = new MLPRegressor({ seed: 1, epochs: 500, earlyStopping: true }).fit(X, 600, 3, y);
    expect(mlp.epochsRun).toBeLessThan(500);
  });

  it('refuses targets that are not finite, naming the row', () => {
    const y = new Float32Array([0, 1, NaN]);
    expect(() => new MLPRegressor().fit(new Float32Array(6), 3, 2, y)).toThrow(/row 2 is NaN/);
  });
});

describe('metrics and split', () => {
  it('r2Score and MAE on hand cases', () => {
    expect(r2Score([1, 2, 3], [1, 2, 3])).toBe(1);
    expect(r2Score([1, 2, 3], [2, 2, 2])).toBeCloseTo(0);
    expect(r2Score([1, 2, 3], [3, 2, 1])).toBeCloseTo(-3);
    expect(meanAbsoluteError([1, 2, 3], [2, 2, 5])).toBeCloseTo(1);
  });
  it('trainTestSplit: disjoint, complete, 15 %, reproducible', () => {
    const a = trainTestSplit(200, 0.15, 4);
    expect(a.test.length).toBe(30);
    expect(new Set([...a.train, ...a.test]).size).toBe(200);
    expect(Array.from(trainTestSplit(200, 0.15, 4).test)).toEqual(Array.from(a.test));
    expect(Array.from(trainTestSplit(200, 0.15, 5).test)).not.toEqual(Array.from(a.test));
  });
});
