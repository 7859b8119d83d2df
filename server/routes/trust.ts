/**
 * The labelled side of a project, thin over server/lib/trust/project-trust.ts. Mounted under /api/projects.
 *
 *   POST /:id/calibration-samples  {size?, halfWidth?, level?, seed?, strata?}   draw and store a sample (token)
 *   GET  /:id/calibration-samples                                           the project's samples, label counts
 *   GET  /:id/calibration-samples/:sampleId                                 one sample: design and tiles
 *   GET  /:id/calibration-samples/:sampleId/tiles.csv                       task id, quadkey, centre, stratum, π
 *   GET  /:id/calibration-samples/:sampleId/mapswipe-find?drafts=1          MapSwipe Find drafts (+ extra tiles)
 *   POST /:id/labels/mapswipe?purpose=sample|mapping&mapswipeProject=ID     MapSwipe aggregated results, CSV or
 *                                                                           GeoJSON, gzip or not, as the body (token)
 *   POST /:id/labels  {labels: [{taskId, label}], purpose?}                 labels set in tilelens (token)
 *   PUT  /:id/labels/:taskId  {label, purpose?}                             one tile's label (token)
 *   GET  /:id/trust?sampleId&level&target&delta&steps&threshold             the region's figures with intervals
 *   GET  /:id/trust/after-mapping?sampleId&level&top                        achieved recall, skip precision, disagreements
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { LABEL_PURPOSES, LABEL_VALUES } from '../lib/db/schema.ts';
import { countLabels } from '../lib/db/trust-repo.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { projectExportInfo, publicBaseUrl } from '../lib/scoring/export-info.ts';
import { requireProject } from '../lib/scoring/projects.ts';
import { describeRegionLook } from '../lib/scoring/region-look.ts';
import { TrustError } from '../lib/trust/errors.ts';
import {
  afterMappingReport,
  drawProjectSample,
  importMapswipeResults,
  listSamples,
  loadSample,
  projectRegionEstimate,
  setTileLabels,
  trustReport,
} from '../lib/trust/project-trust.ts';
import { sampleCsv, sampleFindDrafts } from '../lib/trust/sample-exports.ts';
import { decimalId, decimalInt, idParam, taskIdText } from '../middleware/params.ts';
import { boundedBody } from '../middleware/bounded-body.ts';
import { validate } from '../middleware/validate.ts';
import type { Settings } from '../settings.ts';

const sampleParam = idParam.extend({ sampleId: decimalId });
const taskParam = idParam.extend({ taskId: taskIdText });

const drawBody = z
  .object({
    size: z.number().int().min(2).max(100_000).optional(),
    halfWidth: z.number().gt(0).lt(1).optional(),
    level: z.number().gt(0).lt(1).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31)
      .optional(),
    strata: z.number().int().min(1).max(50).optional(),
  })
  .refine((b) => !(b.size && b.halfWidth), 'give a size or a halfWidth, not both')
  .default({});
const share = z.coerce.number().gt(0).lt(1);
const trustQuery = z.object({
  sampleId: decimalId.optional(),
  level: share.default(0.9),
  target: share.default(0.95),
  delta: share.default(0.1),
  steps: decimalInt(2, 1001).default(21),
  threshold: z.coerce.number().min(0).max(1).optional(),
});
const afterQuery = z.object({
  sampleId: decimalId.optional(),
  level: share.default(0.9),
  top: decimalInt(1, 1000).default(50),
});
const importQuery = z.object({
  purpose: z.enum(LABEL_PURPOSES),
  mapswipeProject: z.string().trim().min(1).max(100).optional(),
  format: z.enum(['csv', 'geojson', 'auto']).default('auto'),
});
const labelsBody = z.object({
  labels: z.array(z.unknown()).min(1),
  purpose: z.enum(LABEL_PURPOSES).default('sample'),
});
const labelBody = z.object({
  label: z.enum(LABEL_VALUES),
  purpose: z.enum(LABEL_PURPOSES).default('sample'),
});
const findQuery = z.object({ drafts: decimalInt(1, 1000).optional() });

export function trustRoutes(ctx: ScoringContext, settings: Settings): Hono {
  return new Hono()
    .post('/:id/calibration-samples', validate('param', idParam), async (c) => {
      const { id } = c.req.valid('param');
      const raw = (await c.req.text()).trim();
      let json: unknown = {};
      if (raw) {
        try {
          json = JSON.parse(raw);
        } catch {
          throw new TrustError(
            'invalid-request',
            'the body is not JSON',
            'send {} or { "size": 200, "seed": 1 }',
          );
        }
      }
      const parsed = drawBody.safeParse(json);
      if (!parsed.success) {
        throw new TrustError(
          'invalid-request',
          `the body is invalid: ${parsed.error.issues[0].message}`,
          'send { size?, halfWidth?, level?, seed?, strata? }',
        );
      }
      const sample = await drawProjectSample(ctx, id, parsed.data);
      return c.json(sample, 201, { Location: `/api/projects/${id}/calibration-samples/${sample.id}` });
    })
    .get('/:id/calibration-samples', validate('param', idParam), async (c) => {
      const { id } = c.req.valid('param');
      await requireProject(ctx, id);
      return c.json({
        projectId: id,
        samples: await listSamples(ctx.db, id),
        labels: {
          sample: await countLabels(ctx.db, id, 'sample'),
          mapping: await countLabels(ctx.db, id, 'mapping'),
        },
      });
    })
    .get('/:id/calibration-samples/:sampleId', validate('param', sampleParam), async (c) => {
      const { id, sampleId } = c.req.valid('param');
      return c.json(await loadSample(ctx, id, sampleId));
    })
    .get('/:id/calibration-samples/:sampleId/tiles.csv', validate('param', sampleParam), async (c) => {
      const { id, sampleId } = c.req.valid('param');
      const sample = await loadSample(ctx, id, sampleId);
      c.header('Content-Type', 'text/csv; charset=utf-8');
      c.header(
        'Content-Disposition',
        `attachment; filename="project-${id}-calibration-sample-${sampleId}.csv"`,
      );
      return c.body([...sampleCsv(sample)].join(''));
    })
    .get(
      '/:id/calibration-samples/:sampleId/mapswipe-find',
      validate('param', sampleParam),
      validate('query', findQuery),
      async (c) => {
        const { id, sampleId } = c.req.valid('param');
        const project = await requireProject(ctx, id);
        const sample = await loadSample(ctx, id, sampleId);
        const info = await projectExportInfo(
          ctx,
          project,
          publicBaseUrl(settings.publicUrl, new URL(c.req.url).origin),
        );
        const drafts = c.req.valid('query').drafts;
        return c.json({
          projectId: id,
          sampleId,
          ...sampleFindDrafts(sample, info, sampleId, { maxDrafts: drafts }),
        });
      },
    )
    .post('/:id/labels/mapswipe', validate('param', idParam), validate('query', importQuery), async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      await requireProject(ctx, id);
      const body = await boundedBody(c, settings.maxUploadBytes);
      const summary = await importMapswipeResults(ctx, id, body, {
        purpose: q.purpose,
        mapswipeProjectId: q.mapswipeProject,
        maxBytes: settings.maxUploadBytes,
        format: q.format,
      });
      return c.json(summary, 201);
    })
    .post(
      '/:id/labels',
      validate('param', idParam),
      validate('json', labelsBody, 'send { labels: [{ taskId, label }], purpose? }'),
      async (c) => {
        const { id } = c.req.valid('param');
        const b = c.req.valid('json');
        return c.json(await setTileLabels(ctx, id, b.labels, b.purpose), 201);
      },
    )
    .put(
      '/:id/labels/:taskId',
      validate('param', taskParam),
      validate('json', labelBody, `send { label: ${LABEL_VALUES.join(' | ')} }`),
      async (c) => {
        const { id, taskId } = c.req.valid('param');
        const b = c.req.valid('json');
        return c.json(await setTileLabels(ctx, id, [{ taskId, label: b.label }], b.purpose));
      },
    )
    .get('/:id/trust', validate('param', idParam), validate('query', trustQuery), async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const est = await projectRegionEstimate(ctx, id, { sampleId: q.sampleId, level: q.level });
      const regionLook = describeRegionLook((await requireProject(ctx, id)).regionLook);
      return c.json({ projectId: id, ...trustReport(est, q), regionLook }, 200, {
        'Cache-Control': 'no-store',
      });
    })
    .get('/:id/trust/after-mapping', validate('param', idParam), validate('query', afterQuery), async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      return c.json(await afterMappingReport(ctx, id, q), 200, { 'Cache-Control': 'no-store' });
    });
}
