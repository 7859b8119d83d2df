/**
 * Numbers in paths and query strings, read strictly: plain decimal digits, no sign, no leading zeros, no
 * exponent, hex or octal, no blanks, within the range asked for. `z.coerce.number()` would take
 * `0x1`, `+1`, `1e1` and ` ` (as 0) for ids, so two spellings would name one thing and a blank would
 * name something.
 */
import { z } from 'zod';
import { MAX_TILE_ZOOM } from '../lib/imagery/source.ts';

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** A decimal integer in `min..max` given as text; the parsed value is a number. */
export function decimalInt(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.string().transform((s, ctx) => {
    const n = DECIMAL.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: 'custom',
        message:
          max === Number.MAX_SAFE_INTEGER
            ? `must be a decimal integer of at least ${min}, got ${JSON.stringify(s)}`
            : `must be a decimal integer from ${min} to ${max}, got ${JSON.stringify(s)}`,
      });
      return z.NEVER;
    }
    return n;
  });
}

/** A database id: 1, 2, 3 … */
export const decimalId = decimalInt(1);

export const idParam = z.object({ id: decimalId });

/** MapSwipe's task id `z-x-y`, each part a decimal integer as above (range checked by the library). */
export const taskIdText = z
  .string()
  .regex(/^(0|[1-9][0-9]*)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/, 'a task id is z-x-y, e.g. 18-155703-141324');

const zoomParam = z.string().transform((s, ctx) => {
  const n = DECIMAL.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n > MAX_TILE_ZOOM) {
    ctx.addIssue({
      code: 'custom',
      message: DECIMAL.test(s)
        ? `zoom ${s} is out of range: tiles run from zoom 0 to ${MAX_TILE_ZOOM}`
        : `zoom must be a decimal integer, got ${JSON.stringify(s)}`,
    });
    return z.NEVER;
  }
  return n;
});

/** The fields of `:id/:z/:x/:file` (file `{y}.ext`), for routes that add their own. */
export function tileFields(ext: string) {
  return {
    id: decimalId,
    z: zoomParam,
    x: decimalInt(0),
    file: z
      .string()
      .regex(new RegExp(`^(0|[1-9][0-9]*)\\.(${ext})$`), `the tile must be named {y}.${ext.split('|')[0]}`),
  };
}

/** Adds y (from the file name) once x and y are known to lie on the zoom's grid. */
export function onTileGrid<T extends { z: number; x: number; file: string }>(
  p: T,
  ctx: z.RefinementCtx,
): T & { y: number } {
  const y = Number(p.file.slice(0, p.file.indexOf('.')));
  const n = 2 ** p.z;
  if (p.x >= n || !Number.isSafeInteger(y) || y >= n) {
    ctx.addIssue({
      code: 'custom',
      path: ['x'],
      message: `tile ${p.z}/${p.x}/${y} is not on the slippy-map grid: x and y run from 0 to ${n - 1} at zoom ${p.z}`,
    });
    return z.NEVER;
  }
  return { ...p, y };
}

/** `:id/:z/:x/:file` of a tile route; y comes from the file name (`{y}.png`). */
export function tileParams(ext: string) {
  return z.object(tileFields(ext)).transform(onTileGrid);
}
