/**
 * The manager token: reads are open (volunteers and MapSwipe fetch tiles and overlays without an
 * account), every change needs `Authorization: Bearer <token>`.
 *
 * The token comes from TILELENS_TOKEN, else from a file in the data dir, else it is generated on the
 * first start, written there readable by the owner only, and printed once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';
import { TilelensError } from '../lib/errors.ts';

export const TOKEN_FILE = 'manager-token';
const MIN_TOKEN_LENGTH = 16;

export class TokenError extends TilelensError {
  override name = 'TokenError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('token', message, { status: 500, cause: options?.cause });
  }
}

export interface ManagerToken {
  token: string;
  source: 'env' | 'file' | 'generated';
  /** Where it is stored, for the start-up message (never sent to a client). */
  path?: string;
}

export function resolveManagerToken(
  dataDir: string,
  env: Record<string, string | undefined> = process.env,
): ManagerToken {
  const fromEnv = env.TILELENS_TOKEN?.trim();
  if (fromEnv) {
    if (fromEnv.length < MIN_TOKEN_LENGTH) {
      throw new TokenError(
        `TILELENS_TOKEN is ${fromEnv.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. \`openssl rand -hex 24\`)`,
      );
    }
    return { token: fromEnv, source: 'env' };
  }
  const path = join(dataDir, TOKEN_FILE);
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new TokenError(`${path} holds no usable token; delete it and restart to generate a new one`);
    }
    // A token file others can read is a token others have: tighten it rather than trust it silently.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return { token, source: 'file', path };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, source: 'generated', path };
}

/** Hashing both sides first gives equal-length buffers, so the comparison time says nothing about the token. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function requireManagerForChanges(token: string): MiddlewareHandler {
  return async (c, next) => {
    if (!CHANGES.has(c.req.method)) return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new ApiError(
        401,
        'unauthorised',
        `${c.req.method} needs the manager token`,
        'send `Authorization: Bearer <token>`; the server printed the token at its first start (or set TILELENS_TOKEN)',
      );
    }
    if (!tokensEqual(match[1], token)) {
      throw new ApiError(
        401,
        'unauthorised',
        'the manager token is wrong',
        'use the token the server printed, or TILELENS_TOKEN',
      );
    }
    c.header('Cache-Control', 'no-store');
    return next();
  };
}
