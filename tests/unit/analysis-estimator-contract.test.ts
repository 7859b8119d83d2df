/**
 * One conformance suite for every latent-space estimator: deterministic for a seed, identical outputs after
 * toJSON → JSON.stringify → fromJSON, and a clear error for input of the wrong width.
 */
import { describe, expect, it } from 'vitest';
import { EstimatorError } from '../../server/lib/analysis/estimator.ts';
import { KMeans } from '../../server/lib/analysis/kmeans.ts';
import { MeanRegressor, MLPRegressor } from '../../server/lib/analysis/mlp.ts';
import { KnnNovelty } from '../../server/lib/analysis/novelty.ts';
import { LogisticRegression, type LogisticJSON } from '../../server/lib/analysis/logistic.ts';
import { ShiftNovelty, type ShiftNoveltyJSON } from '../../server/lib/analysis/shift-novelty.ts';
import { StreamingPCA } from '../../server/lib/analysis/pca.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

interface Case {
  name: string;
  make: () => { fit(X: Float32Array, n: number, d: number, y?: Float32Array): unknown; toJSON(): unknown };
  fromJSON: (json: never) => unknown;
  apply: (model: never, X: Float32Array, n: number) => Float32Array | Int32Array;
}

const cases: Case[] = [
  {
    name: 'StreamingPCA',
    make: () => new StreamingPCA({ nComponents: 3, kernel: 'js' }),
    fromJSON: StreamingPCA.fromJSON,
    apply: (m: StreamingPCA, X, n) => m.transform(X, n),
  },
  {
    name: 'MLPRegressor',
    make: () => new MLPRegressor({ seed: 4, epochs: 20, hidden: 16 }),
    fromJSON: MLPRegressor.fromJSON,
    apply: (m: MLPRegressor, X, n) => m.predict(X, n),
  },
  {
    name: 'MeanRegressor',
    make: () => new MeanRegressor(),
    fromJSON: MeanRegressor.fromJSON,
    apply: (m: MeanRegressor, X, n) => m.predict(X, n),
  },
  {
    name: 'KMeans',
    make: () => new KMeans({ k: 3, seed: 4 }),
    fromJSON: KMeans.fromJSON,
    apply: (m: KMeans, X, n) => m.predict(X, n),
  },
  {
    name: 'LogisticRegression',
    // Targets thresholded to 0 / 1 for the classifier.
    make: () => {
      const m = new LogisticRegression({ l2: 0.5 });
      return {
        fit: (A: Float32Array, r: number, c: number, t?: Float32Array) =>
          m.fit(
            A,
            r,
            c,
            t!.map((v) => (v > 0 ? 1 : 0)),
          ),
        toJSON: () => m.toJSON(),
        model: m,
      };
    },
    fromJSON: (json: LogisticJSON) => ({ model: LogisticRegression.fromJSON(json) }),
    apply: (m: { model: LogisticRegression }, X, n) => m.model.predict(X, n),
  },
  {
    name: 'ShiftNovelty',
    make: () => {
      const m = new ShiftNovelty({ nComponents: 3, k: 3, seed: 4 });
      return {
        fit: (A: Float32Array, r: number, c: number) =>
          m.fit({ rows: r, dims: c, chunks: () => [{ start: 0, rows: r, data: A }] }),
        toJSON: () => m.toJSON(),
        model: m,
      };
    },
    fromJSON: (json: ShiftNoveltyJSON) => ({ model: ShiftNovelty.fromJSON(json) }),
    apply: (m: { model: ShiftNovelty }, X, n) => m.model.score(X, n).ratio,
  },
  {
    name: 'KnnNovelty',
    make: () => new KnnNovelty({ k: 3, sampleSize: 150, seed: 4 }),
    fromJSON: KnnNovelty.fromJSON,
    apply: (m: KnnNovelty, X, n) => m.score(X, n),
  },
];

const n = 300;
const d = 5;
const rng = createRng(42);
const X = Float32Array.from({ length: n * d }, () => rng.normal());
const y = Float32Array.from({ length: n }, (_, i) => Math.tanh(X[i * d] * X[i * d + 1]));
const fresh = Float32Array.from({ length: 40 * d }, () => rng.normal() * 1.5);

for (const c of cases) {
  describe(`estimator contract: ${c.name}`, () => {
    const fitted = async () => {
      const model = c.make();
      await model.fit(X, n, d, y);
      return model;
    };

    it('is deterministic for its seed', async () => {
      const a = c.apply((await fitted()) as never, fresh, 40);
      const b = c.apply((await fitted()) as never, fresh, 40);
      expect(Array.from(a)).toEqual(Array.from(b));
    });

    it('toJSON → JSON.stringify → fromJSON gives identical outputs', async () => {
      const model = await fitted();
      const restored = c.fromJSON(JSON.parse(JSON.stringify(model.toJSON())) as never);
      expect(Array.from(c.apply(restored as never, fresh, 40))).toEqual(
        Array.from(c.apply(model as never, fresh, 40)),
      );
    });

    it('refuses input of the wrong width with an EstimatorError naming the expected width', async () => {
      const model = await fitted();
      const wrong = new Float32Array(40 * (d + 1));
      expect(() => c.apply(model as never, wrong, 40)).toThrow(EstimatorError);
      expect(() => c.apply(model as never, wrong, 40)).toThrow(new RegExp(`${d} features`));
    });

    it('refuses use before fit and foreign JSON', () => {
      const model = c.make();
      expect(() => c.apply(model as never, fresh, 40)).toThrow(/not fitted yet/);
      expect(() => c.fromJSON({ kind: 'Other' } as never)).toThrow(/expected kind/);
    });
  });
}
