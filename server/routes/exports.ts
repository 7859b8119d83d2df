/**
 * Project exports, in the shapes MapSwipe and the Tasking Manager take. The large ones stream straight
 * from the tile table; the JSON bundles hold only what their library functions keep (tile coordinates
 * per tier, task squares), never the scores of every tile at once.
 */
import { eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { models } from '../lib/db/schema.ts';
import type { ExportProject } from '../lib/exports/project-info.ts';
import { mapswipeFindDrafts } from '../lib/exports/mapswipe-find.ts';
import { mapswipeValidateChunks } from '../lib/exports/mapswipe-validate.ts';
import { taskingManagerExport } from '../lib/exports/tasking-manager.ts';
import { tileTableCsv, tileTableGeoJson } from '../lib/exports/tile-table.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { getImagery } from '../lib/scoring/imagery-registry.ts';
import { iterateScoredTiles } from '../lib/scoring/tiles-repo.ts';
import { ApiError } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import type { Settings } from '../settings.ts';
import { requireProject } from './projects.ts';

const idParam = z.object({ id: z.coerce.number().int().positive() });

type Project = ReturnType<typeof requireProject>;

/** The URL other tools reach this server at: the configured one, else the one this request came in on. */
export function publicBase(c: Context, settings: Settings): string {
  return (settings.publicUrl ?? new URL(c.req.url).origin).replace(/\/+$/, '');
}

export function exportInfo(ctx: ScoringContext, project: Project, base: string): ExportProject {
  const imagery = getImagery(ctx, project.imageryId);
  const model = ctx.db.db.select().from(models).where(eq(models.id, project.modelId)).get();
  if (!imagery || !model) {
    throw new ApiError(
      409,
      'project-incomplete',
      `project ${project.id} refers to ${!imagery ? `imagery ${project.imageryId}` : `model ${project.modelId}`}, which is gone`,
      'register it again or create the project anew',
    );
  }
  return {
    name: project.name,
    imagery: { name: imagery.name, url: `${base}/imagery/${imagery.id}/{z}/{x}/{y}.jpg`, credits: imagery.attribution ?? '' },
    model: { id: String(model.id), name: model.name, version: model.sha256.slice(0, 12) },
    runId: project.runId,
    lookFor: project.lookFor ?? 'buildings',
    zoom: project.zoom,
  };
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'project';
}

function streamText(c: Context, chunks: AsyncIterable<string>, type: string, filename: string) {
  c.header('Content-Type', type);
  c.header('Content-Disposition', `attachment; filename="${filename}"`);
  return stream(c, async (s) => {
    for await (const chunk of chunks) {
      if (s.aborted) break;
      await s.write(chunk);
    }
  });
}

export function exportRoutes(ctx: ScoringContext, settings: Settings): Hono {
  const setup = (c: Context & { req: { valid(t: 'param'): { id: number } } }) => {
    const project = requireProject(ctx, c.req.valid('param').id);
    return { project, info: exportInfo(ctx, project, publicBase(c, settings)) };
  };
  return new Hono()
    .get('/:id/exports/mapswipe-find', validate('param', idParam), (c) => {
      const { project, info } = setup(c);
      const drafts = mapswipeFindDrafts(iterateScoredTiles(ctx, project.id), info);
      return c.json({ projectId: project.id, drafts });
    })
    .get('/:id/exports/mapswipe-validate.geojson', validate('param', idParam), (c) => {
      const { project, info } = setup(c);
      // Most urgent first, so the polygon cap keeps the tiles that matter.
      const tiles = iterateScoredTiles(ctx, project.id, { orderBy: 'priority' });
      return streamText(c, mapswipeValidateChunks(tiles, info), 'application/geo+json', `${slug(project.name)}-validate.geojson`);
    })
    .get('/:id/exports/tasking-manager', validate('param', idParam), (c) => {
      const { project, info } = setup(c);
      return c.json({ projectId: project.id, ...taskingManagerExport(iterateScoredTiles(ctx, project.id), info) });
    })
    .get('/:id/exports/tiles.csv', validate('param', idParam), (c) => {
      const { project } = setup(c);
      return streamText(c, tileTableCsv(iterateScoredTiles(ctx, project.id)), 'text/csv; charset=utf-8', `${slug(project.name)}-tiles.csv`);
    })
    .get('/:id/exports/tiles.geojson', validate('param', idParam), (c) => {
      const { project } = setup(c);
      return streamText(c, tileTableGeoJson(iterateScoredTiles(ctx, project.id)), 'application/geo+json', `${slug(project.name)}-tiles.geojson`);
    });
}
