/**
 * Project exports, in the shapes MapSwipe and the Tasking Manager take. The large ones stream straight
 * from the tile table; the JSON bundles hold only what their library functions keep (tile coordinates
 * per tier, task squares), never the scores of every tile at once.
 */
import Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { DatabaseHandle } from '../lib/db/client.ts';
import * as schema from '../lib/db/schema.ts';
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { models } from '../lib/db/schema.ts';
import type { ExportProject } from '../lib/exports/project-info.ts';
import { mapswipeFindDrafts } from '../lib/exports/mapswipe-find.ts';
import { mapswipeValidateChunks } from '../lib/exports/mapswipe-validate.ts';
import { taskingManagerExport } from '../lib/exports/tasking-manager.ts';
import { tileTableCsv, tileTableGeoJson } from '../lib/exports/tile-table.ts';
import { maprouletteChallenge, maprouletteTaskLines } from '../lib/exports/maproulette.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { getImagery } from '../lib/scoring/imagery-registry.ts';
import { iterateScoredTiles } from '../lib/scoring/tiles-repo.ts';
import { ApiError } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import type { Settings } from '../settings.ts';
import { requireProject, type ProjectRow } from '../lib/scoring/projects.ts';

const idParam = z.object({ id: z.coerce.number().int().positive() });

type Project = ProjectRow;

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
    imagery: {
      name: imagery.name,
      url: `${base}/imagery/${imagery.id}/{z}/{x}/{y}.jpg`,
      credits: imagery.attribution ?? '',
    },
    model: { id: String(model.id), name: model.name, version: model.sha256.slice(0, 12) },
    runId: project.runId,
    lookFor: project.lookFor ?? 'buildings',
    zoom: project.zoom,
  };
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'project'
  );
}

/**
 * A read-only connection of its own for one streamed export. The tile iterator keeps its statement open
 * between rows, and better-sqlite3 refuses every other statement on a connection while one iterates —
 * a scoring job's inserts included — so a slow download must not hold the shared connection. Under WAL
 * the reader sees one consistent snapshot while the job goes on writing.
 */
export function openReader(ctx: ScoringContext): { ctx: ScoringContext; close(): void } {
  const file = ctx.db.sqlite.name;
  if (ctx.db.sqlite.memory || !file) {
    throw new ApiError(
      501,
      'no-streaming',
      'streamed exports need a database file; this server runs on an in-memory database',
      'start the server with --db PATH',
    );
  }
  const sqlite = new Database(file, { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  const handle: DatabaseHandle = {
    db: drizzle({ client: sqlite, schema }),
    sqlite,
    close: () => sqlite.close(),
  };
  return { ctx: { ...ctx, db: handle }, close: () => handle.close() };
}

export async function streamTiles(
  c: Context,
  ctx: ScoringContext,
  chunksFor: (reader: ScoringContext) => AsyncIterable<string> | Iterable<string>,
  type: string,
  filename: string,
) {
  const reader = openReader(ctx);
  const made = chunksFor(reader.ctx);
  const chunks: AsyncIterator<string> | Iterator<string> =
    Symbol.asyncIterator in made ? made[Symbol.asyncIterator]() : made[Symbol.iterator]();
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
    return { project, info: exportInfo(ctx, project, publicBase(c, settings)) };
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
    .get('/:id/exports/maproulette-challenge', validate('param', idParam), (c) => {
      const { project, info } = setup(c, c.req.valid('param').id);
      return c.json({ projectId: project.id, ...maprouletteChallenge(info) });
    })
    .get('/:id/exports/maproulette-tasks.geojsonl', validate('param', idParam), (c) => {
      const { project, info } = setup(c, c.req.valid('param').id);
      // Most urgent first, as MapRoulette lists tasks of equal priority in upload order.
      const chunks = (r: ScoringContext) =>
        maprouletteTaskLines(iterateScoredTiles(r, project.id, { orderBy: 'priority' }), info);
      return streamTiles(
        c,
        ctx,
        chunks,
        'application/x-ndjson; charset=utf-8',
        `${slug(project.name)}-maproulette-tasks.geojsonl`,
      );
    })
    .get('/:id/exports/tiles.csv', validate('param', idParam), (c) => {
      const { project } = setup(c, c.req.valid('param').id);
      const chunks = (r: ScoringContext) => tileTableCsv(iterateScoredTiles(r, project.id));
      return streamTiles(c, ctx, chunks, 'text/csv; charset=utf-8', `${slug(project.name)}-tiles.csv`);
    })
    .get('/:id/exports/tiles.geojson', validate('param', idParam), (c) => {
      const { project } = setup(c, c.req.valid('param').id);
      const chunks = (r: ScoringContext) => tileTableGeoJson(iterateScoredTiles(r, project.id));
      return streamTiles(c, ctx, chunks, 'application/geo+json', `${slug(project.name)}-tiles.geojson`);
    });
}
