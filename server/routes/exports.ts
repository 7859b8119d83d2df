/**
 * Project exports, in the shapes MapSwipe and the Tasking Manager take. The large ones stream straight
 * from the tile table; the JSON bundles hold only what their library functions keep (tile coordinates
 * per tier, task squares), never the scores of every tile at once.
 */
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { openReadOnly } from '../lib/db/client.ts';
import { mapswipeFindDrafts } from '../lib/exports/mapswipe-find.ts';
import { mapswipeValidateChunks } from '../lib/exports/mapswipe-validate.ts';
import { taskingManagerExport } from '../lib/exports/tasking-manager.ts';
import { tileTableCsv, tileTableGeoJson } from '../lib/exports/tile-table.ts';
import { handoverInfo } from '../lib/deliverables/project-exports.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { publicBaseUrl } from '../lib/scoring/export-info.ts';
import { requireProject } from '../lib/scoring/projects.ts';
import { iterateScoredTiles } from '../lib/scoring/tiles-repo.ts';
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

/** Streams an export from a read-only connection of its own (see openReadOnly), closed when the body ends. */
async function streamTiles(
  c: Context,
  ctx: ScoringContext,
  chunksFor: (reader: ScoringContext) => AsyncIterable<string>,
  type: string,
  filename: string,
) {
  const db = openReadOnly(ctx.db);
  const reader = { ctx: { ...ctx, db }, close: () => db.close() };
  const chunks = chunksFor(reader.ctx)[Symbol.asyncIterator]();
  let first: IteratorResult<string>;
  try {
    // Pulled before any byte is sent, so a project that cannot be exported gets a JSON error, not a short file.
    first = await chunks.next();
  } catch (err) {
    reader.close();
    throw err;
  }
  c.header('Content-Type', type);
  c.header('Content-Disposition', `attachment; filename="${filename}"`);
  return stream(
    c,
    async (s) => {
      try {
        for (let r = first; !r.done && !s.aborted; r = await chunks.next()) await s.write(r.value);
      } finally {
        reader.close();
      }
    },
    async (err, s) => {
      // Headers are gone already: break the transfer so the client sees a failed download, not a complete-looking file.
      ctx.log?.(`export ${filename} failed mid-stream: ${err.message}`);
      s.abort();
    },
  );
}

export function exportRoutes(ctx: ScoringContext, settings: Settings): Hono {
  const setup = (c: Context, id: number) => {
    const project = requireProject(ctx, id);
    const base = publicBaseUrl(settings.publicUrl, new URL(c.req.url).origin);
    // Every download says what the project's figures rest on (the reference run alone, or labels from the region).
    return { project, info: handoverInfo(ctx, project, base) };
  };
  return new Hono()
    .get('/:id/exports/mapswipe-find', validate('param', idParam), (c) => {
      const { project, info } = setup(c, c.req.valid('param').id);
      const drafts = mapswipeFindDrafts(iterateScoredTiles(ctx, project.id), info);
      return c.json({ projectId: project.id, drafts });
    })
    .get('/:id/exports/mapswipe-validate.geojson', validate('param', idParam), (c) => {
      const { project, info } = setup(c, c.req.valid('param').id);
      // Most urgent first, so the polygon cap keeps the tiles that matter.
      const chunks = (r: ScoringContext) =>
        mapswipeValidateChunks(iterateScoredTiles(r, project.id, { orderBy: 'priority' }), info);
      return streamTiles(c, ctx, chunks, 'application/geo+json', `${slug(project.name)}-validate.geojson`);
    })
    .get('/:id/exports/tasking-manager', validate('param', idParam), (c) => {
      const { project, info } = setup(c, c.req.valid('param').id);
      return c.json({
        projectId: project.id,
        ...taskingManagerExport(iterateScoredTiles(ctx, project.id), info),
      });
    })
    .get('/:id/exports/tiles.csv', validate('param', idParam), (c) => {
      const { project } = setup(c, c.req.valid('param').id);
      const chunks = (r: ScoringContext) => tileTableCsv(iterateScoredTiles(r, project.id));
      return streamTiles(c, ctx, chunks, 'text/csv; charset=utf-8', `${slug(project.name)}-tiles.csv`);
    })
    .get('/:id/exports/tiles.geojson', validate('param', idParam), (c) => {
      const { project, info } = setup(c, c.req.valid('param').id);
      const chunks = (r: ScoringContext) =>
        tileTableGeoJson(iterateScoredTiles(r, project.id), { figures: info.figures });
      return streamTiles(c, ctx, chunks, 'application/geo+json', `${slug(project.name)}-tiles.geojson`);
    });
}
