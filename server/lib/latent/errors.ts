/**
 * Errors of the latent view's data. Each carries a stable `code` and the HTTP status a route answers
 * with, as scoring's errors do, so the routes pass them through.
 */
export type LatentErrorCode = 'too-many-categories' | 'area-too-wide' | 'tile-not-scored' | 'data-changed';

const STATUS: Record<LatentErrorCode, 409 | 422> = {
  'too-many-categories': 422,
  'area-too-wide': 422,
  'tile-not-scored': 409,
  'data-changed': 409,
};

export class LatentError extends Error {
  override name = 'LatentError';
  readonly status: 409 | 422;
  constructor(
    readonly code: LatentErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}
