/**
 * The latent view's data (format: server/lib/latent/columns-format.ts, decoded by map-ui/src/data/columns.ts):
 *
 *   GET /api/runs/:id/latent?x=1&y=2          positions of every patch on PCs x and y   (4 B / patch)
 *   GET /api/runs/:id/latent/attributes       IoU, smoothed IoU, cluster, district, split, novelty and
 *                                             the patch's tile, once per run             (10 B / patch)
 *   GET /api/projects/:id/latent?x=1&y=2      the project's scored tiles in the same space (4 B / tile)
 *   GET /api/projects/:id/latent/attributes   smoothed IoU, novelty, priority, building probability,
 *                                             tier and the tile, once per project        (9 B / tile)
 *   GET /api/projects/:id/tiles/:taskId/neighbours?k=6   the training patches nearest a tile in the
 *                                             run's 9-component space: the evidence behind its score
 */
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { getRun } from '../lib/db/analysis-repo.ts';
import type { DatabaseHandle } from '../lib/db/client.ts';
import { PC_COUNT } from '../lib/db/latent-repo.ts';
import type { AnalysisRun } from '../lib/db/schema.ts';
import { COLUMNS_FORMAT, encodeHeader, type ColumnsBody } from '../lib/latent/columns-format.ts';
import { LatentError } from '../lib/latent/errors.ts';
import { nearestPatches } from '../lib/latent/nearest-patches.ts';
import { projectAttributes, projectPositions } from '../lib/latent/project-columns.ts';
import { runAttributes, runPositions } from '../lib/latent/run-columns.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { requireProject } from '../lib/scoring/projects.ts';
import { getTileRow } from '../lib/scoring/tiles-repo.ts';
import { notFound } from '../middleware/errors.ts';
import { decimalId, decimalInt, idParam, taskIdText } from '../middleware/params.ts';
import { validate } from '../middleware/validate.ts';

const SEND_CHUNK = 1 << 20;

function sendColumns(c: Context, { header, body }: ColumnsBody) {
  const prefix = encodeHeader(header);
  c.header('Content-Type', 'application/octet-stream');
  c.header('Content-Length', String(prefix.length + body.length));
  c.header('X-Tilelens-Format', COLUMNS_FORMAT);
  // A stored run never changes under its id, but a project still being scored does.
  c.header('Cache-Control', 'no-cache');
  return stream(c, async (s) => {
    await s.write(prefix);
    for (let at = 0; at < body.length; at += SEND_CHUNK) {
      if (s.aborted) return;
      await s.write(body.subarray(at, Math.min(body.length, at + SEND_CHUNK)));
    }
  });
}

const axesQuery = z.object({
  x: decimalInt(1, PC_COUNT).default(1),
  y: decimalInt(1, PC_COUNT).default(2),
});
const tileParam = idParam.extend({
  taskId: taskIdText,
});
const asOfQuery = z.object({ asOf: decimalId.optional() });
const neighbourQuery = z.object({ k: decimalInt(1, 50).default(6) });

async function requireRun(db: DatabaseHandle, id: number): Promise<AnalysisRun> {
  const run = await getRun(db, id);
  if (!run) throw notFound(`analysis run ${id}`, 'GET /api/runs lists the stored runs');
  return run;
}

export function runLatentRoutes(db: DatabaseHandle): Hono {
  return new Hono()
    .get('/:id/latent', validate('param', idParam), validate('query', axesQuery), async (c) => {
      const { x, y } = c.req.valid('query');
      return sendColumns(c, await runPositions(db, await requireRun(db, c.req.valid('param').id), x, y));
    })
    .get('/:id/latent/attributes', validate('param', idParam), async (c) =>
      sendColumns(c, await runAttributes(db, await requireRun(db, c.req.valid('param').id))),
    );
}

export function projectLatentRoutes(ctx: ScoringContext): Hono {
  return new Hono()
    .get(
      '/:id/latent',
      validate('param', idParam),
      validate('query', axesQuery.extend(asOfQuery.shape)),
      async (c) => {
        const { x, y, asOf } = c.req.valid('query');
        const project = await requireProject(ctx, c.req.valid('param').id);
        return sendColumns(c, await projectPositions(ctx.db, project, x, y, asOf));
      },
    )
    .get('/:id/latent/attributes', validate('param', idParam), validate('query', asOfQuery), async (c) => {
      const project = await requireProject(ctx, c.req.valid('param').id);
      return sendColumns(c, await projectAttributes(ctx.db, project, c.req.valid('query').asOf));
    })
    .get(
      '/:id/tiles/:taskId/neighbours',
      validate('param', tileParam),
      validate('query', neighbourQuery),
      async (c) => {
        const { id, taskId } = c.req.valid('param');
        const project = await requireProject(ctx, id);
        const row = await getTileRow(ctx, project.id, taskId);
        if (!row)
          throw notFound(
            `tile ${taskId} of project ${project.id}`,
            'it lies outside the area or has not been scored yet',
          );
        if (!row.pcs)
          throw new LatentError(
            'tile-not-scored',
            `tile ${taskId} has no latent position (status ${row.status})`,
            'its imagery could not be scored',
          );
        return c.json({
          projectId: project.id,
          runId: project.runId,
          taskId,
          neighbours: await nearestPatches(ctx.db, project.runId, row.pcs, c.req.valid('query').k),
        });
      },
    );
}
