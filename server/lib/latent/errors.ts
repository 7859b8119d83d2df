/**
 * Errors of the latent view's data. Each carries a stable `code` and, from it, the HTTP status a route
 * answers with, as scoring's errors do.
 */
import { TilelensError, type ErrorStatus } from '../errors.ts';

const STATUS = {
  'too-many-categories': 422,
  'area-too-wide': 422,
  'tile-not-scored': 409,
  'data-changed': 409,
} as const satisfies Record<string, ErrorStatus>;

export type LatentErrorCode = keyof typeof STATUS;

export class LatentError extends TilelensError {
  override name = 'LatentError';
  declare readonly code: LatentErrorCode;
  constructor(code: LatentErrorCode, message: string, hint?: string) {
    super(code, message, { status: STATUS[code], hint });
  }
}
