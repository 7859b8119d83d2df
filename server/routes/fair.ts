/**
 * fAIr predictions in a project, thin over server/lib/fair/.
 *
 *   POST /api/projects/:id/fair?name=NAME            fAIr's prediction GeoJSON as the body (token) → summary
 *   GET  /api/projects/:id/fair                      the project's imports
 *   GET  /api/projects/:id/fair/:importId/tiles      the per-tile signal: polygons and confidence per tile
 *   GET  /api/projects/:id/fair/:importId/objects.geojson   the polygons as MapSwipe Validate objects,
 *                                                    most urgent tile first (read-only; MapSwipe fetches it)
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { fairTileSignalRows, getFairImport, listFairImports } from '../lib/db/fair-repo.ts';
import { fairObjectsChunks } from '../lib/fair/objects.ts';
import { importFairPredictions } from '../lib/fair/predictions.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { requireProject } from '../lib/scoring/projects.ts';
import { boundedBody } from '../middleware/bounded-body.ts';
import { notFound } from '../middleware/errors.ts';
import { streamDownload } from '../middleware/stream-download.ts';
import { decimalId, idParam } from '../middleware/params.ts';
import { validate } from '../middleware/validate.ts';
import type { Settings } from '../settings.ts';

const importParam = idParam.extend({ importId: decimalId });
const importQuery = z.object({ name: z.string().trim().min(1).max(200).default('fAIr predictions') });

export function fairRoutes(ctx: ScoringContext, settings: Settings): Hono {
  const requireImport = async (projectId: number, importId: number) => {
    await requireProject(ctx, projectId);
    const imp = await getFairImport(ctx.db, importId);
    if (!imp || imp.projectId !== projectId) {
      throw notFound(
        `fAIr import ${importId} of project ${projectId}`,
        `GET /api/projects/${projectId}/fair lists them`,
      );
    }
    return imp;
  };
  return new Hono()
    .post('/:id/fair', validate('param', idParam), validate('query', importQuery), async (c) => {
      const { id } = c.req.valid('param');
      await requireProject(ctx, id);
      const body = await boundedBody(c, settings.maxUploadBytes);
      const summary = await importFairPredictions(ctx, id, body, {
        name: c.req.valid('query').name,
        maxBytes: settings.maxUploadBytes,
      });
      return c.json(summary, 201);
    })
    .get('/:id/fair', validate('param', idParam), async (c) => {
      const { id } = c.req.valid('param');
      await requireProject(ctx, id);
      return c.json({ imports: await listFairImports(ctx.db, id) });
    })
    .get('/:id/fair/:importId/tiles', validate('param', importParam), async (c) => {
      const { id, importId } = c.req.valid('param');
      const imp = await requireImport(id, importId);
      return c.json({ import: imp, tiles: await fairTileSignalRows(ctx.db, importId) });
    })
    .get('/:id/fair/:importId/objects.geojson', validate('param', importParam), async (c) => {
      const { id, importId } = c.req.valid('param');
      await requireImport(id, importId);
      return streamDownload(
        c,
        ctx,
        (r) => fairObjectsChunks(r, id, importId),
        'application/geo+json',
        `project-${id}-fair-${importId}-objects.geojson`,
      );
    });
}
