/**
 * The one place errors become HTTP answers, all of the shape `{ error: { code, message, hint?, issues? } }`.
 *
 * A TilelensError (server/lib/errors.ts) carries its code and status, and a message written for a person.
 * A client mistake (4xx) is answered with it as it is. A server fault (5xx) is logged in full under a
 * reference id and answered with its code and its message stripped of server paths. Any other error is an
 * accident whose message may hold anything: it is logged and answered with the reference alone.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { NotFoundError, TilelensError, type ErrorIssue, type ErrorStatus } from '../lib/errors.ts';

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    hint?: string;
    issues?: ErrorIssue[];
  };
}

/** An answer a route decides on itself (a bad parameter, a conflict only the route can see). */
export class ApiError extends TilelensError {
  override name = 'ApiError';
  constructor(status: ErrorStatus, code: string, message: string, hint?: string, issues?: ErrorIssue[]) {
    super(code, message, { status, hint, issues });
  }
}

export const notFound = (what: string, hint?: string) => new NotFoundError(what, hint);

function body(
  code: string,
  message: string,
  extra: Omit<ErrorBody['error'], 'code' | 'message'> = {},
): ErrorBody {
  const error: ErrorBody['error'] = { code, message };
  if (extra.hint !== undefined) error.hint = extra.hint;
  if (extra.issues !== undefined) error.issues = extra.issues;
  return { error };
}

/** Server paths say where the server keeps its files; a client needs the file's name at most. */
function redactPaths(message: string): string {
  return message.replace(/(?:[A-Za-z]:)?(?:[\\/][^\s'"`,;:()[\]\\/]+){2,}/g, (p) => `…/${basename(p)}`);
}

/** Logs the fault under a new reference; the body says what the client may know of it. */
function serverFault(err: unknown, log: (msg: string) => void): ErrorBody {
  const ref = randomUUID().slice(0, 8);
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  const hint = `the server log has the details under reference ${ref}; report it if it repeats`;
  if (err instanceof TilelensError) {
    log(`${err.code} error ${ref}: ${detail}`);
    return body(err.code, redactPaths(err.message), {
      hint: err.hint ? `${redactPaths(err.hint)}; ${hint}` : hint,
    });
  }
  log(`internal error ${ref}: ${detail}`);
  return body('internal', `the server failed on this request (reference ${ref})`, { hint });
}

/** Status and body for a thrown error; `log` gets the details of the ones kept from the client. */
export function describeError(
  err: unknown,
  log: (msg: string) => void,
): { status: ContentfulStatusCode; body: ErrorBody } {
  if (err instanceof TilelensError) {
    if (err.isClientError) {
      return {
        status: err.status,
        body: body(err.code, err.message, { hint: err.hint, issues: err.issues }),
      };
    }
    return { status: err.status, body: serverFault(err, log) };
  }
  if (err instanceof HTTPException && err.status < 500) {
    // Hono's own refusals: malformed JSON bodies and the like.
    const message = err.message || 'the request could not be read';
    return {
      status: err.status as ContentfulStatusCode,
      body: body('bad-request', message, { hint: 'send a JSON body with Content-Type: application/json' }),
    };
  }
  return { status: 500, body: serverFault(err, log) };
}

export function errorHandler(log: (msg: string) => void): ErrorHandler {
  return (err, c) => {
    const { status, body: b } = describeError(err, log);
    return c.json(b, status);
  };
}

export const notFoundHandler: NotFoundHandler = (c: Context) =>
  c.json(
    body('not-found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`, {
      hint: 'GET /api/health lists nothing but proves the server is up; the API lives under /api',
    }),
    404,
  );
