/**
 * Errors of the labelled side (calibration samples, imported answers, estimates). Like the scoring side's
 * errors, each carries a stable `code` and the HTTP status a route answers with; the message says what to do.
 */
export type TrustErrorCode =
  | 'invalid-request'
  | 'project-not-found'
  | 'sample-not-found'
  | 'no-tiles'
  | 'no-labels'
  | 'sample-stale'
  | 'results-refused'
  | 'upload-too-large';

const STATUS: Record<TrustErrorCode, 400 | 404 | 409 | 413 | 422> = {
  'invalid-request': 400,
  'project-not-found': 404,
  'sample-not-found': 404,
  'no-tiles': 409,
  'no-labels': 409,
  'sample-stale': 409,
  'results-refused': 422,
  'upload-too-large': 413,
};

export class TrustError extends Error {
  override name = 'TrustError';
  readonly status: 400 | 404 | 409 | 413 | 422;
  constructor(
    readonly code: TrustErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}
