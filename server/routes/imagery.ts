/**
 * Imagery sources: registered by the manager, then served as a plain XYZ tile server so MapSwipe and the
 * Tasking Manager can show volunteers exactly the imagery the model scored.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { Hono } from 'hono';
import { z } from 'zod';
import { imagerySpecSchema, isValidTile, type ImagerySpec } from '../lib/imagery/source.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import {
  getImagery,
  getImagerySource,
  listImagery,
  registerImagery,
} from '../lib/scoring/imagery-registry.ts';
import { ApiError } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import type { Settings } from '../settings.ts';

export const registerImageryBody = z.object({
  name: z.string().trim().min(1).max(200),
  spec: imagerySpecSchema,
});

/**
 * Where a file-backed source may live. A relative path is read under the data dir and may not climb out
 * of it; an absolute path is taken as given.
 *
 * Risk, accepted on purpose: the manager token can point the server at any image file the server process
 * can read, and then serve its pixels over the XYZ route to anyone. The token is the manager's, the
 * server binds 127.0.0.1 by default, and only files that open as PMTiles or GeoTIFF are served — but a
 * shared deployment should run the server as a user that can read nothing else.
 */
export function placeSpec(spec: ImagerySpec, dataDir: string): ImagerySpec {
  const inside = (p: string, field: string): string => {
    if (isAbsolute(p)) return p;
    const full = resolve(dataDir, p);
    const rel = relative(resolve(dataDir), full);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new ApiError(
        400,
        'invalid-request',
        `spec.${field} "${p}" leaves the data dir`,
        'give a path relative to the data dir without "..", or an absolute path on the server',
      );
    }
    return full;
  };
  if (spec.kind === 'xyz')
    return spec.cacheDir ? { ...spec, cacheDir: inside(spec.cacheDir, 'cacheDir') } : spec;
  return { ...spec, path: inside(spec.path, 'path') };
}

const idParam = z.object({ id: z.coerce.number().int().positive() });

const tileParams = z.object({
  id: z.coerce.number().int().positive(),
  z: z.coerce.number().int().min(0).max(30),
  x: z.coerce.number().int().min(0),
  file: z.string().regex(/^\d+\.(jpg|jpeg|png|webp)$/, 'the tile must be named {y}.jpg'),
});

export function imageryApiRoutes(ctx: ScoringContext): Hono {
  return new Hono()
    .get('/', (c) => c.json({ imagery: listImagery(ctx) }))
    .post(
      '/',
      validate(
        'json',
        registerImageryBody,
        "send { name, spec: { kind: 'pmtiles', path } | { kind: 'xyz', url } | { kind: 'geotiff', path } }",
      ),
      async (c) => {
        const body = c.req.valid('json');
        const row = await registerImagery(ctx, { name: body.name, spec: placeSpec(body.spec, ctx.dataDir) });
        return c.json(row, 201);
      },
    )
    .get('/:id', validate('param', idParam), (c) => {
      const id = c.req.valid('param').id;
      const row = getImagery(ctx, id);
      if (!row)
        throw new ApiError(
          404,
          'not-found',
          `imagery ${id} does not exist`,
          'GET /api/imagery lists the registered sources',
        );
      return c.json(row);
    });
}

/** `/imagery/:id/:z/:x/:y.jpg`, mounted at the root so the template is short and conventional. */
export function imageryTileRoutes(ctx: ScoringContext, settings: Settings): Hono {
  return new Hono().get('/:id/:z/:x/:file', validate('param', tileParams), async (c) => {
    const { id, z: zoom, x, file } = c.req.valid('param');
    const y = Number(file.slice(0, file.indexOf('.')));
    if (!isValidTile(zoom, x, y)) {
      throw new ApiError(
        400,
        'invalid-tile',
        `tile ${zoom}/${x}/${y} is not on the slippy-map grid`,
        'x and y run from 0 to 2^z − 1',
      );
    }
    const source = await getImagerySource(ctx, id);
    const tile = await source.getTile(zoom, x, y, c.req.raw.signal);
    if (tile.status === 'ok') {
      return c.body(tile.bytes as Uint8Array<ArrayBuffer>, 200, {
        'Content-Type': tile.contentType,
        'Cache-Control': `public, max-age=${settings.imageryMaxAge}`,
        'Access-Control-Allow-Origin': '*',
      });
    }
    // Tile clients treat 404 as "no imagery here" and draw nothing; anything else is the upstream's fault.
    const status = tile.status === 'missing' ? 404 : 502;
    return c.json(
      {
        error: {
          code: `tile-${tile.status}`,
          message: `imagery ${id} tile ${zoom}/${x}/${y}: ${tile.reason}`,
        },
      },
      status,
      {
        'Cache-Control':
          status === 404 ? `public, max-age=${Math.min(settings.imageryMaxAge, 3600)}` : 'no-store',
      },
    );
  });
}
