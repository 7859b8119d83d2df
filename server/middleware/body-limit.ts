/**
 * Request bodies are read only up to a size the settings allow, per route: a project's area may be a
 * large GeoJSON, every other body is a few fields. A body past its limit is refused with 413 as it
 * streams in, before anything parses it, so a 50 MB upload costs neither memory nor a parse.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Settings } from '../settings.ts';
import { ApiError } from './errors.ts';

const READS_NO_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The one route whose body is an area. */
const AREA_ROUTE = /^\/api\/projects\/?$/;

function refuse(limit: number, setting: string) {
  return (): never => {
    throw new ApiError(
      413,
      'body-too-large',
      `the request body is larger than ${limit.toLocaleString('en')} bytes`,
      `send less (simplify the area, split it into several projects), or start the server with a larger --${setting}`,
    );
  };
}

export function limitBodies(settings: Pick<Settings, 'maxBodyBytes' | 'maxAreaBytes'>): MiddlewareHandler {
  const area = bodyLimit({
    maxSize: settings.maxAreaBytes,
    onError: refuse(settings.maxAreaBytes, 'max-area-bytes'),
  });
  const other = bodyLimit({
    maxSize: settings.maxBodyBytes,
    onError: refuse(settings.maxBodyBytes, 'max-body-bytes'),
  });
  return (c, next) => {
    if (READS_NO_BODY.has(c.req.method)) return next();
    return (c.req.method === 'POST' && AREA_ROUTE.test(c.req.path) ? area : other)(c, next);
  };
}
