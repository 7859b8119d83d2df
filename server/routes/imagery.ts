/**
 * Imagery sources: registered by the manager, then served as a plain XYZ tile server so MapSwipe and the
 * Tasking Manager can show volunteers exactly the imagery the model scored.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { imageProblem } from '../lib/imagery/decode.ts';
import { imageryRoots, LocalPathError, placeImagerySpec } from '../lib/imagery/local-files.ts';
import { imagerySpecSchema } from '../lib/imagery/source.ts';
import { logTo, type ScoringContext } from '../lib/scoring/context.ts';
import { ScoringError } from '../lib/scoring/errors.ts';
import {
  getImagery,
  getImagerySource,
  listImagery,
  registerImagery,
} from '../lib/scoring/imagery-registry.ts';
import { ApiError } from '../middleware/errors.ts';
import { idParam, tileParams as tileParamsOf } from '../middleware/params.ts';
import { validate } from '../middleware/validate.ts';
import type { Settings } from '../settings.ts';

export const registerImageryBody = z.object({
  name: z.string().trim().min(1).max(200),
  spec: imagerySpecSchema,
});

const tileParams = tileParamsOf('jpg|jpeg|png|webp');

export function imageryApiRoutes(ctx: ScoringContext, settings: Settings): Hono {
  return new Hono()
    .get('/', async (c) => c.json({ imagery: await listImagery(ctx) }))
    .post(
      '/',
      validate(
        'json',
        registerImageryBody,
        "send { name, spec: { kind: 'pmtiles', path } | { kind: 'xyz', url } | { kind: 'geotiff', path } }",
      ),
      async (c) => {
        const body = c.req.valid('json');
        // Local paths only under the data folder or the imagery-dirs setting's folders.
        const { spec } = await placeImagerySpec(
          body.spec,
          imageryRoots(ctx.dataDir, settings.imageryDirs),
        ).catch((err: unknown) => {
          // Refused like every other source that cannot be used.
          if (err instanceof LocalPathError) throw new ScoringError('imagery-unusable', err.message);
          throw err;
        });
        return c.json(await registerImagery(ctx, { name: body.name, spec }), 201);
      },
    )
    .get('/:id', validate('param', idParam), async (c) => {
      const id = c.req.valid('param').id;
      const row = await getImagery(ctx, id);
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
    const { id, z: zoom, x, y } = c.req.valid('param');
    let source: Awaited<ReturnType<typeof getImagerySource>>;
    try {
      source = await getImagerySource(ctx, id);
    } catch (err) {
      // Registered and accepted once, unreadable now (a file moved, a cache folder gone): the server's fault.
      if (err instanceof ScoringError && err.code === 'imagery-unusable') {
        logTo(ctx, `imagery ${id} cannot be opened: ${err.message}`);
        throw new ApiError(
          503,
          'imagery-unavailable',
          `imagery ${id} cannot be read at the moment`,
          'the server log says why; ask the server manager',
        );
      }
      throw err;
    }
    let tile = await source.getTile(zoom, x, y, c.req.raw.signal);
    if (tile.status === 'ok') {
      // Never serve what does not decode: clients cache a tile for max-age, a bad one with it.
      const problem = await imageProblem(tile.bytes);
      if (problem)
        tile = { status: 'undecodable', reason: `imagery ${id} tile ${zoom}/${x}/${y}: ${problem}` };
    }
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
