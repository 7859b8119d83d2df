/**
 * Novelty of a new tile: how far its PCs lie from the training patches, as the distance to the k-th nearest
 * training point, and as a percentile of the training set's own leave-one-out k-distances — so that "95" means
 * "farther out than 95 % of the training patches are from their neighbours", whatever the units.
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
import { KdTree } from './kdtree.ts';
import { createRng, sampleIndices, takeRows } from './random.ts';

export interface KnnNoveltyParams {
  k?: number;
  /** Reference points kept (sampled past this size): bounds memory, JSON size and query time. */
  sampleSize?: number;
  seed?: number;
}

export interface KnnNoveltyJSON extends EstimatorJSON {
  kind: 'KnnNovelty';
  params: Required<KnnNoveltyParams>;
  dims: number;
  reference: number[];
  referenceKDistances: number[];
}

export class KnnNovelty implements Predictor {
  readonly params: Required<KnnNoveltyParams>;
  dims = 0;
  private reference: Float32Array = new Float32Array(0);
  /** Ascending leave-one-out k-distances of the reference points. */
  private refKd: Float64Array = new Float64Array(0);
  private tree: KdTree | null = null;

  constructor(params: KnnNoveltyParams = {}) {
    this.params = { k: params.k ?? 5, sampleSize: params.sampleSize ?? 20_000, seed: params.seed ?? 0 };
    if (!Number.isInteger(this.params.k) || this.params.k < 1)
      throw new EstimatorError(`KnnNovelty: k must be a positive integer, got ${params.k}`);
  }

  get fitted(): boolean {
    return this.tree !== null;
  }

  fit(X: Float32Array, nRows: number, nFeatures: number): this {
    assertMatrix('KnnNovelty.fit', X, nRows, nFeatures);
    const idx = sampleIndices(nRows, this.params.sampleSize, createRng(this.params.seed));
    if (idx.length <= this.params.k)
      throw new EstimatorError(`KnnNovelty.fit: needs more than k=${this.params.k} rows, got ${idx.length}`);
    this.dims = nFeatures;
    this.reference = takeRows(X, nFeatures, idx);
    this.tree = new KdTree(this.reference, nFeatures);
    const m = idx.length;
    const out = new Float64Array(this.params.k);
    this.refKd = new Float64Array(m);
    for (let i = 0; i < m; i++)
      this.refKd[i] = Math.sqrt(
        this.tree.knn(this.reference, i * nFeatures, this.params.k, out, i)[this.params.k - 1],
      );
    this.refKd.sort();
    return this;
  }

  /** Distance to the k-th nearest reference point. */
  score(X: Float32Array, nRows: number): Float32Array {
    assertFitted('KnnNovelty', this.fitted);
    assertFeatures('KnnNovelty.score', X, nRows, this.dims);
    const out = new Float32Array(nRows);
    const buf = new Float64Array(this.params.k);
    for (let r = 0; r < nRows; r++)
      out[r] = Math.sqrt(this.tree!.knn(X, r * this.dims, this.params.k, buf)[this.params.k - 1]);
    return out;
  }

  /** The score as a percentile (0–100) of the reference set's own k-distances. */
  percentile(X: Float32Array, nRows: number): Float32Array {
    const scores = this.score(X, nRows);
    const ref = this.refKd;
    for (let r = 0; r < nRows; r++) {
      let lo = 0;
      let hi = ref.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ref[mid] <= scores[r]) lo = mid + 1;
        else hi = mid;
      }
      scores[r] = (100 * lo) / ref.length;
    }
    return scores;
  }

  predict(X: Float32Array, nRows: number): Float32Array {
    return this.percentile(X, nRows);
  }

  toJSON(): KnnNoveltyJSON {
    assertFitted('KnnNovelty', this.fitted);
    return {
      kind: 'KnnNovelty',
      params: { ...this.params },
      dims: this.dims,
      reference: Array.from(this.reference),
      referenceKDistances: Array.from(this.refKd),
    };
  }

  static fromJSON(json: KnnNoveltyJSON): KnnNovelty {
    assertKind('KnnNovelty', json, 'KnnNovelty');
    const model = new KnnNovelty(json.params);
    model.dims = json.dims;
    model.reference = Float32Array.from(json.reference);
    model.refKd = Float64Array.from(json.referenceKDistances);
    model.tree = new KdTree(model.reference, model.dims);
    return model;
  }
}
