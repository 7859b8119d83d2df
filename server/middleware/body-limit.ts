/**
 * Request bodies are read only up to a size the settings allow, per route: a project's area may be a
 * large GeoJSON and an import a large file, every other body is a few fields. A body past its limit is
 * refused with 413 as it streams in, before anything parses it, so a 50 MB upload costs neither memory
 * nor a parse.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Settings } from '../settings.ts';
import { ApiError } from './errors.ts';

type Limits = Pick<Settings, 'maxBodyBytes' | 'maxAreaBytes' | 'maxUploadBytes'>;

const READS_NO_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The routes whose bodies may be larger than `max-body-bytes`, first match wins. `null`: the route reads
 * its body itself, streamed under its own limit (buffering it here first would hold it twice).
 */
const LARGER: Array<{ method: string; path: RegExp; setting: keyof Limits | null }> = [
  { method: 'POST', path: /^\/api\/projects\/?$/, setting: 'maxAreaBytes' },
  { method: 'POST', path: /^\/api\/projects\/[^/]+\/labels\/mapswipe\/?$/, setting: null },
  { method: 'POST', path: /^\/api\/projects\/[^/]+\/fair\/?$/, setting: null },
  { method: 'POST', path: /^\/api\/projects\/[^/]+\/labels\/?$/, setting: 'maxUploadBytes' },
];

const FLAG: Record<keyof Limits, string> = {
  maxBodyBytes: 'max-body-bytes',
  maxAreaBytes: 'max-area-bytes',
  maxUploadBytes: 'max-upload-bytes',
};

function refuse(limit: number, setting: keyof Limits) {
  return (): never => {
    throw new ApiError(
      413,
      'body-too-large',
      `the request body is larger than ${limit.toLocaleString('en')} bytes`,
      `send less (simplify the area, split it into several projects), or start the server with a larger --${FLAG[setting]}`,
    );
  };
}

export function limitBodies(settings: Limits): MiddlewareHandler {
  const limiters = Object.fromEntries(
    (Object.keys(FLAG) as Array<keyof Limits>).map((k) => [
      k,
      bodyLimit({ maxSize: settings[k], onError: refuse(settings[k], k) }),
    ]),
  ) as Record<keyof Limits, MiddlewareHandler>;
  return (c, next) => {
    if (READS_NO_BODY.has(c.req.method)) return next();
    const rule = LARGER.find((r) => r.method === c.req.method && r.path.test(c.req.path));
    if (rule && rule.setting === null) return next();
    return limiters[rule?.setting ?? 'maxBodyBytes'](c, next);
  };
}
