/**
 * Request validation over zod: Hono's own `validator` hook, with failures turned into our error shape
 * (every issue with its path, so a client can point at the field).
 */
import type { ValidationTargets } from 'hono';
import { validator } from 'hono/validator';
import type { z } from 'zod';
import { ApiError } from './errors.ts';

const WHERE: Record<keyof ValidationTargets, string> = {
  json: 'body',
  form: 'form',
  query: 'query string',
  param: 'path',
  header: 'headers',
  cookie: 'cookies',
};

export function zodIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

export function invalid(target: keyof ValidationTargets, error: z.ZodError, hint?: string): ApiError {
  const issues = zodIssues(error);
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new ApiError(
    400,
    'invalid-request',
    `the ${WHERE[target]} is invalid: ${first.path}: ${first.message}${more}`,
    hint,
    issues,
  );
}

/** `validate('json', schema)` then `c.req.valid('json')` in the handler gives the parsed, typed value. */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
  hint?: string,
) {
  return validator(target, (value): z.output<T> => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw invalid(target, parsed.error, hint);
    return parsed.data;
  });
}
