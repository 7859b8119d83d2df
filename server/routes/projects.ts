/**
 * Projects: an area over registered imagery, scored with a model through a reference run; their scoring
 * jobs, scored tiles, effort curve and, for demo-world projects, the evaluation against known truth.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { createProject, listProjects, requireProject } from '../lib/scoring/projects.ts';
import { evaluateProject } from '../lib/scoring/evaluation.ts';
import { latestJob, MAX_BATCH_SIZE, startScoring } from '../lib/scoring/jobs.ts';
import { countScoredTiles, getScoredTile, iterateScoredTiles } from '../lib/scoring/tiles-repo.ts';
import { tileFootprint, type BBox } from '../lib/geo/tiles.ts';
import { tileRow } from '../lib/exports/tile-table.ts';
import { MAX_ZOOM } from '../lib/projects/area.ts';
import { projectEffort } from '../lib/trust/project-effort.ts';
import { describeRegionLook } from '../lib/scoring/region-look.ts';
import { ApiError, notFound } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import { decimalInt, idParam, taskIdText } from '../middleware/params.ts';
import type { Settings } from '../settings.ts';

export const createProjectBody = z.object({
  name: z.string().trim().min(1).max(200),
  /** Checked by the area parser (GeoJSON, polygons, self-crossings, MapSwipe's size limit), not here. */
  area: z
    .unknown()
    .refine(
      (v) => v !== undefined && v !== null,
      'give the area as GeoJSON (Polygon, MultiPolygon, Feature or FeatureCollection)',
    ),
  imageryId: z.number().int().positive(),
  runId: z.number().int().positive(),
  zoom: z.number().int().min(1).max(MAX_ZOOM).default(18),
  lookFor: z.string().trim().min(1).max(100).optional(),
});

const tileParam = idParam.extend({
  taskId: taskIdText,
});

const bboxText = z.string().transform((s, ctx) => {
  const v = s.split(',').map(Number);
  const [w, south, e, n] = v;
  if (
    v.length !== 4 ||
    v.some((x) => !Number.isFinite(x)) ||
    !(w < e && south < n) ||
    w < -180 ||
    e > 180 ||
    south < -90 ||
    n > 90
  ) {
    ctx.addIssue({
      code: 'custom',
      message: 'bbox is west,south,east,north in degrees with west < east and south < north',
    });
    return z.NEVER;
  }
  return [w, south, e, n] as BBox;
});

function tilesQuery(max: number) {
  return z.object({
    bbox: bboxText.optional(),
    limit: decimalInt(1, max).default(max),
  });
}

const scoreBody = z.object({ batchSize: z.number().int().min(1).max(MAX_BATCH_SIZE).optional() }).default({});

export function projectRoutes(ctx: ScoringContext, settings: Settings): Hono {
  return new Hono()
    .get('/', async (c) => c.json({ projects: await listProjects(ctx) }))
    .post(
      '/',
      validate('json', createProjectBody, 'send { name, area (GeoJSON), imageryId, runId, zoom? }'),
      async (c) => c.json(await createProject(ctx, c.req.valid('json')), 201),
    )
    .get('/:id', validate('param', idParam), async (c) => {
      const project = await requireProject(ctx, c.req.valid('param').id);
      return c.json({
        ...project,
        regionLook: describeRegionLook(project.regionLook),
        job: (await latestJob(ctx, project.id)) ?? null,
        counts: await countScoredTiles(ctx, project.id),
      });
    })
    .post('/:id/score', validate('param', idParam), async (c) => {
      const project = await requireProject(ctx, c.req.valid('param').id);
      // An empty body means the defaults; a body that is there must be valid.
      const raw = (await c.req.text()).trim();
      let json: unknown = {};
      if (raw !== '') {
        try {
          json = JSON.parse(raw);
        } catch {
          throw new ApiError(
            400,
            'invalid-request',
            'the body is not JSON',
            'send {} or { "batchSize": 16 }, or no body',
          );
        }
      }
      const parsed = scoreBody.safeParse(json);
      if (!parsed.success) {
        throw new ApiError(
          400,
          'invalid-request',
          `the body is invalid: ${parsed.error.issues[0].message}`,
          `send { "batchSize": 1..${MAX_BATCH_SIZE} } or no body`,
        );
      }
      const job = await startScoring(ctx, project.id, {
        batchSize: parsed.data.batchSize ?? settings.scoringBatch,
      });
      return c.json(job, 202, { Location: `/api/jobs/${job.id}` });
    })
    .post('/:id/retry-failed', validate('param', idParam), async (c) => {
      const project = await requireProject(ctx, c.req.valid('param').id);
      const job = await startScoring(ctx, project.id, {
        batchSize: settings.scoringBatch,
        retryFailed: true,
      });
      return c.json(job, 202, { Location: `/api/jobs/${job.id}` });
    })
    .get('/:id/job', validate('param', idParam), async (c) => {
      const project = await requireProject(ctx, c.req.valid('param').id);
      const job = await latestJob(ctx, project.id);
      if (!job)
        throw notFound(
          `a scoring job of project ${project.id}`,
          `start one with POST /api/projects/${project.id}/score`,
        );
      return c.json(job);
    })
    .get(
      '/:id/tiles',
      validate('param', idParam),
      validate('query', tilesQuery(settings.maxTileFeatures)),
      async (c) => {
        const project = await requireProject(ctx, c.req.valid('param').id);
        const q = c.req.valid('query');
        const features = [];
        let truncated = false;
        for await (const t of iterateScoredTiles(ctx, project.id, { bbox: q.bbox })) {
          if (features.length >= q.limit) {
            truncated = true;
            break;
          }
          features.push({
            type: 'Feature' as const,
            id: t.taskId,
            properties: tileRow(t),
            geometry: tileFootprint(t.z, t.x, t.y),
          });
        }
        return c.json({
          type: 'FeatureCollection',
          features,
          tilelens: {
            projectId: project.id,
            limit: q.limit,
            truncated,
            hint: truncated
              ? 'more tiles lie in this bbox; zoom in (a smaller bbox) or page the area by bbox'
              : undefined,
          },
        });
      },
    )
    .get('/:id/tiles/:taskId', validate('param', tileParam), async (c) => {
      const { id, taskId } = c.req.valid('param');
      const project = await requireProject(ctx, id);
      const tile = await getScoredTile(ctx, project.id, taskId);
      if (!tile)
        throw notFound(
          `tile ${taskId} of project ${project.id}`,
          'it lies outside the area or has not been scored yet',
        );
      return c.json(tile);
    })
    .get('/:id/effort', validate('param', idParam), async (c) => {
      const project = await requireProject(ctx, c.req.valid('param').id);
      return c.json({
        projectId: project.id,
        counts: await countScoredTiles(ctx, project.id),
        ...(await projectEffort(ctx, project.id)),
      });
    })
    .get('/:id/evaluation', validate('param', idParam), async (c) => {
      const project = await requireProject(ctx, c.req.valid('param').id);
      return c.json(await evaluateProject(ctx, project));
    });
}
