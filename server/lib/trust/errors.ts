/**
 * Errors of the labelled side (calibration samples, imported answers, estimates). Like the scoring side's
 * errors, each carries a stable `code` and, from it, the HTTP status a route answers with; the message says
 * what to do.
 */
import { TilelensError, type ErrorStatus } from '../errors.ts';

const STATUS = {
  'invalid-request': 400,
  'project-not-found': 404,
  'sample-not-found': 404,
  'no-tiles': 409,
  'no-labels': 409,
  'sample-stale': 409,
  'results-refused': 422,
  'upload-too-large': 413,
} as const satisfies Record<string, ErrorStatus>;

export type TrustErrorCode = keyof typeof STATUS;

export class TrustError extends TilelensError {
  override name = 'TrustError';
  declare readonly code: TrustErrorCode;
  constructor(code: TrustErrorCode, message: string, hint?: string) {
    super(code, message, { status: STATUS[code], hint });
  }
}
