/**
 * Errors of publishing to volunteer tools. Like the scoring and trust errors, each carries a stable `code`
 * and, from it, the HTTP status a route answers with; the message says what to do. Messages never hold
 * credentials: a refused login says so without repeating what was sent.
 */
import { TilelensError, type ErrorStatus } from '../errors.ts';

const STATUS = {
  'invalid-request': 400,
  'not-configured': 409,
  'nothing-to-publish': 409,
  'publication-not-found': 404,
  'unfinished-publication': 409,
  'publication-finished': 409,
  'remote-auth': 422,
  'remote-refused': 422,
  'remote-unreachable': 502,
} as const satisfies Record<string, ErrorStatus>;

export type PublishErrorCode = keyof typeof STATUS;

export class PublishError extends TilelensError {
  override name = 'PublishError';
  declare readonly code: PublishErrorCode;
  constructor(code: PublishErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(code, message, { status: STATUS[code], hint, cause: options?.cause });
  }
}
