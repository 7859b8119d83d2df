/**
 * The one error base of tilelens. Every error the library throws on purpose is a TilelensError: a stable
 * `code` a client can branch on, the HTTP `status` it means, and a message a person can act on (what is
 * wrong and what to do). Status says whose fault it is: 4xx the caller's (the message goes back as it is),
 * 5xx the server's (the message stays in the log; see server/middleware/errors.ts, the one place that turns
 * errors into HTTP answers). The command line prints the message either way.
 */

/** The statuses library errors answer with; a subset of what Hono sends as a JSON body. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 500 | 501 | 502 | 503;

/** One problem of a request's input, named by where it is (e.g. `area.features.0.geometry`). */
export interface ErrorIssue {
  path: string;
  message: string;
}

export interface TilelensErrorOptions {
  /** 500 unless said: an error nobody classified is the server's to fix. */
  status?: ErrorStatus;
  /** What to do about it, when the message alone does not say. */
  hint?: string;
  issues?: ErrorIssue[];
  cause?: unknown;
}

export class TilelensError extends Error {
  override name = 'TilelensError';
  readonly code: string;
  readonly status: ErrorStatus;
  readonly hint?: string;
  readonly issues?: ErrorIssue[];

  constructor(code: string, message: string, options: TilelensErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 500;
    if (options.hint !== undefined) this.hint = options.hint;
    if (options.issues !== undefined) this.issues = options.issues;
  }

  /** True when the caller can fix it by asking differently. */
  get isClientError(): boolean {
    return this.status < 500;
  }
}

/** A thing a request or a caller named by id that is not there. */
export class NotFoundError extends TilelensError {
  override name = 'NotFoundError';
  constructor(what: string, hint?: string) {
    super('not-found', `${what} does not exist`, { status: 404, hint });
  }
}
