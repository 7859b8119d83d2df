/**
 * One error shape for every answer that is not a success: `{ error: { code, message, hint?, issues? } }`.
 *
 * Library errors carry the words a person can act on, so their messages pass through; errors we did not
 * expect are logged with their stack under a reference id and answered with that id only, because their
 * messages may hold server paths or internals.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AreaError } from '../lib/projects/area.ts';
import { ImageryError } from '../lib/imagery/source.ts';
import { ModelError } from '../lib/model/errors.ts';
import { InvalidQueryError } from '../lib/db/analysis-repo.ts';
import { DatasetError } from '../lib/datasets/patch-source.ts';
import { ExportError } from '../lib/exports/project-info.ts';
import { EffortError } from '../lib/scoring/effort.ts';
import { ScoringError } from '../lib/scoring/errors.ts';
import { LatentError } from '../lib/latent/errors.ts';
import { TrustError } from '../lib/trust/errors.ts';
import { PublishError } from '../lib/publish/errors.ts';

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    hint?: string;
    issues?: Array<{ path: string; message: string }>;
  };
}

/** An answer the routes decide on themselves (not found, conflict, a bad parameter). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly issues?: ErrorBody['error']['issues'],
  ) {
    super(message);
  }
}

export const notFound = (what: string, hint?: string) =>
  new ApiError(404, 'not-found', `${what} does not exist`, hint);

/** Server paths say where the server keeps its files; a client needs the file's name at most. */
export function redactPaths(message: string): string {
  return message.replace(/(?:[A-Za-z]:)?(?:[\\/][^\s'"`,;:()[\]\\/]+){2,}/g, (p) => `…/${basename(p)}`);
}

function body(
  code: string,
  message: string,
  extra: Omit<ErrorBody['error'], 'code' | 'message'> = {},
): ErrorBody {
  return { error: { code, message, ...extra } };
}

/** Status and body for a thrown error; `log` gets the details of the ones kept from the client. */
export function describeError(
  err: unknown,
  log: (msg: string) => void,
): { status: ContentfulStatusCode; body: ErrorBody } {
  if (err instanceof ApiError) {
    return { status: err.status, body: body(err.code, err.message, { hint: err.hint, issues: err.issues }) };
  }
  if (err instanceof HTTPException) {
    // Hono's own refusals: malformed JSON bodies and the like.
    const message = err.message || 'the request could not be read';
    return {
      status: err.status as ContentfulStatusCode,
      body: body('bad-request', message, { hint: 'send a JSON body with Content-Type: application/json' }),
    };
  }
  if (err instanceof AreaError) return { status: 400, body: body(`area-${err.code}`, err.message) };
  if (err instanceof InvalidQueryError) return { status: 400, body: body('invalid-query', err.message) };
  if (err instanceof ImageryError) return { status: 422, body: body('imagery', err.message) };
  if (err instanceof ModelError) return { status: 422, body: body('model', err.message) };
  if (err instanceof DatasetError) return { status: 422, body: body('dataset', err.message) };
  if (err instanceof ExportError) return { status: 409, body: body('export', err.message) };
  if (err instanceof EffortError) return { status: 409, body: body('effort', err.message) };
  if (err instanceof PublishError) {
    return { status: err.status, body: body(err.code, err.message, err.hint ? { hint: err.hint } : {}) };
  }
  if (err instanceof LatentError)
    return { status: err.status, body: body(err.code, err.message, { hint: err.hint }) };
  if (err instanceof TrustError) {
    return { status: err.status, body: body(err.code, err.message, err.hint ? { hint: err.hint } : {}) };
  }
  if (err instanceof ScoringError) {
    if (err.status >= 500) log(`scoring error ${err.code}: ${err.message}`);
    return {
      status: err.status,
      body: body(err.code, err.status >= 500 ? redactPaths(err.message) : err.message),
    };
  }
  const ref = randomUUID().slice(0, 8);
  log(`internal error ${ref}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return {
    status: 500,
    body: body('internal', `the server failed on this request (reference ${ref})`, {
      hint: 'the server log has the details under that reference; report it if it repeats',
    }),
  };
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
