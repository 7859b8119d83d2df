/**
 * The estimator contract every latent-space model follows (after scikit-learn): parameters at construction,
 * `fit` learns state, `transform` / `predict` apply it, and the learned state round-trips through JSON so that a
 * stored reference analysis scores new tiles exactly as it scored its own patches.
 */
import { TilelensError } from '../errors.ts';
export interface EstimatorJSON {
  kind: string;
  [key: string]: unknown;
}

export interface Estimator {
  readonly fitted: boolean;
  toJSON(): EstimatorJSON;
}

export interface Predictor extends Estimator {
  fit(X: Float32Array, nRows: number, nFeatures: number, y?: Float32Array): unknown;
  predict(X: Float32Array, nRows: number): Float32Array | Int32Array;
}

export interface Transformer extends Estimator {
  transform(X: Float32Array, nRows: number): Float32Array;
}

/** Raised for misuse of an estimator: wrong shapes, unfitted state, bad parameters, foreign JSON. */
export class EstimatorError extends TilelensError {
  override name = 'EstimatorError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('estimator', message, { status: 422, cause: options?.cause });
  }
}

export function assertMatrix(name: string, X: ArrayLike<number>, nRows: number, nFeatures: number): void {
  if (!Number.isInteger(nRows) || nRows < 0) {
    throw new EstimatorError(`${name}: nRows must be a non-negative integer, got ${nRows}`);
  }
  if (!Number.isInteger(nFeatures) || nFeatures <= 0) {
    throw new EstimatorError(`${name}: nFeatures must be a positive integer, got ${nFeatures}`);
  }
  if (X.length < nRows * nFeatures) {
    throw new EstimatorError(
      `${name}: expected ${nRows}×${nFeatures} = ${nRows * nFeatures} values, got ${X.length}; ` +
        'pass a row-major matrix and the row count it holds',
    );
  }
}

export function assertFitted(name: string, fitted: boolean): void {
  if (!fitted)
    throw new EstimatorError(`${name}: not fitted yet; call fit() before predicting or serialising`);
}

/** For predict/transform after fit: the matrix must have exactly the feature count the model learned. */
export function assertFeatures(name: string, X: ArrayLike<number>, nRows: number, expected: number): void {
  if (nRows > 0 && X.length !== nRows * expected) {
    throw new EstimatorError(
      `${name}: the model was fitted on ${expected} features, but got ${X.length} values for ${nRows} rows ` +
        `(${(X.length / Math.max(nRows, 1)).toFixed(2)} per row); pass rows with ${expected} features`,
    );
  }
}

export function assertKind(name: string, json: { kind?: unknown }, kind: string): void {
  if (json?.kind !== kind) {
    throw new EstimatorError(`${name}.fromJSON: expected kind "${kind}", got ${JSON.stringify(json?.kind)}`);
  }
}
