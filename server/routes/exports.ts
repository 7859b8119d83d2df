/**
 * Project exports, in the shapes MapSwipe and the Tasking Manager take. The large ones stream straight
 * from the tile table; the JSON bundles hold only what their library functions keep (tile coordinates
 * per tier, task squares), never the scores of every tile at once.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { mapswipeCompletenessDrafts } from '../lib/exports/mapswipe-completeness.ts';
import { maprouletteChallenge, maprouletteTaskLines } from '../lib/exports/maproulette.ts';
import { mapswipeFindDrafts } from '../lib/exports/mapswipe-find.ts';
import { tileUrlVersion } from '../lib/overlays/overlay-tiles.ts';
import { completenessOverlay, overlayCredits } from '../lib/overlays/tool-templates.ts';
import { mapswipeValidateChunks } from '../lib/exports/mapswipe-validate.ts';
import { taskingManagerExport } from '../lib/exports/tasking-manager.ts';
import { tileTableCsv, tileTableGeoJson } from '../lib/exports/tile-table.ts';
import { handoverInfo } from '../lib/deliverables/project-exports.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { publicBaseUrl } from '../lib/scoring/export-info.ts';
import { requireProject } from '../lib/scoring/projects.ts';
import { iterateScoredTiles } from '../lib/scoring/tiles-repo.ts';
import { streamDownload } from '../middleware/stream-download.ts';
import { validate } from '../middleware/validate.ts';
import { idParam } from '../middleware/params.ts';
import type { Settings } from '../settings.ts';

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'project'
  );
}

export function exportRoutes(ctx: ScoringContext, settings: Settings): Hono {
  const setup = async (c: Context, id: number) => {
    const project = await requireProject(ctx, id);
    const base = publicBaseUrl(settings.publicUrl, new URL(c.req.url).origin);
    // Every download says what the project's figures rest on (the reference run alone, or labels from the region).
    return { project, base, info: await handoverInfo(ctx, project, base) };
  };
  return new Hono()
    .get('/:id/exports/mapswipe-find', validate('param', idParam), async (c) => {
      const { project, info } = await setup(c, c.req.valid('param').id);
      const drafts = await mapswipeFindDrafts(iterateScoredTiles(ctx, project.id), info);
      return c.json({ projectId: project.id, drafts });
    })
    .get('/:id/exports/mapswipe-completeness.json', validate('param', idParam), async (c) => {
      const { project, base, info } = await setup(c, c.req.valid('param').id);
      const { version } = await tileUrlVersion(ctx.db, project.id);
      const overlay = completenessOverlay(base, project, version, overlayCredits(project.name));
      const drafts = await mapswipeCompletenessDrafts(iterateScoredTiles(ctx, project.id), info, overlay);
      return c.json({ projectId: project.id, drafts }, 200, {
        'Content-Disposition': `attachment; filename="${slug(project.name)}-mapswipe-completeness.json"`,
      });
    })
    .get('/:id/exports/mapswipe-validate.geojson', validate('param', idParam), async (c) => {
      const { project, info } = await setup(c, c.req.valid('param').id);
      // Most urgent first, so the polygon cap keeps the tiles that matter.
      const chunks = (r: ScoringContext) =>
        mapswipeValidateChunks(iterateScoredTiles(r, project.id, { orderBy: 'priority' }), info);
      return streamDownload(c, ctx, chunks, 'application/geo+json', `${slug(project.name)}-validate.geojson`);
    })
    .get('/:id/exports/tasking-manager', validate('param', idParam), async (c) => {
      const { project, info } = await setup(c, c.req.valid('param').id);
      return c.json({
        projectId: project.id,
        ...(await taskingManagerExport(iterateScoredTiles(ctx, project.id), info)),
      });
    })
    .get('/:id/exports/maproulette-challenge', validate('param', idParam), async (c) => {
      const { project, info } = await setup(c, c.req.valid('param').id);
      return c.json({ projectId: project.id, ...maprouletteChallenge(info) });
    })
    .get('/:id/exports/maproulette-tasks.geojsonl', validate('param', idParam), async (c) => {
      const { project, info } = await setup(c, c.req.valid('param').id);
      // Most urgent first, as MapRoulette lists tasks of equal priority in upload order.
      const chunks = (r: ScoringContext) =>
        maprouletteTaskLines(iterateScoredTiles(r, project.id, { orderBy: 'priority' }), info);
      return streamDownload(
        c,
        ctx,
        chunks,
        'application/x-ndjson; charset=utf-8',
        `${slug(project.name)}-maproulette-tasks.geojsonl`,
      );
    })
    .get('/:id/exports/tiles.csv', validate('param', idParam), async (c) => {
      const { project } = await setup(c, c.req.valid('param').id);
      const chunks = (r: ScoringContext) => tileTableCsv(iterateScoredTiles(r, project.id));
      return streamDownload(c, ctx, chunks, 'text/csv; charset=utf-8', `${slug(project.name)}-tiles.csv`);
    })
    .get('/:id/exports/tiles.geojson', validate('param', idParam), async (c) => {
      const { project, info } = await setup(c, c.req.valid('param').id);
      const chunks = (r: ScoringContext) =>
        tileTableGeoJson(iterateScoredTiles(r, project.id), { figures: info.figures });
      return streamDownload(c, ctx, chunks, 'application/geo+json', `${slug(project.name)}-tiles.geojson`);
    });
}
