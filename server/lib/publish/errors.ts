/**
 * Errors of publishing to volunteer tools. Like the scoring and trust errors, each carries a stable `code`
 * and the HTTP status a route answers with; the message says what to do. Messages never hold credentials:
 * a refused login says so without repeating what was sent.
 */
export type PublishErrorCode =
  | 'invalid-request'
  | 'not-configured'
  | 'nothing-to-publish'
  | 'publication-not-found'
  | 'unfinished-publication'
  | 'publication-finished'
  | 'remote-auth'
  | 'remote-refused'
  | 'remote-unreachable';

export type PublishErrorStatus = 400 | 404 | 409 | 422 | 502;

const STATUS: Record<PublishErrorCode, PublishErrorStatus> = {
  'invalid-request': 400,
  'not-configured': 409,
  'nothing-to-publish': 409,
  'publication-not-found': 404,
  'unfinished-publication': 409,
  'publication-finished': 409,
  'remote-auth': 422,
  'remote-refused': 422,
  'remote-unreachable': 502,
};

export class PublishError extends Error {
  override name = 'PublishError';
  readonly status: PublishErrorStatus;
  constructor(
    readonly code: PublishErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = STATUS[code];
  }
}
