/**
 * What the latent space tells about a run — label-error review queue, failure families, confidence intervals —
 * and two projects' scores side by side. Thin over `server/lib/insights/*`.
 *
 *   GET  /api/runs/:id/review?rank=1&unmarked=true    one queue item (rank 1 = most suspicious), with image URLs
 *   GET  /api/runs/:id/review/list?offset=0&limit=50  a page of the queue
 *   POST /api/runs/:id/review/:idx  {mark, note?}     mark 'label_wrong' | 'model_wrong' | 'unsure' (manager token)
 *   GET  /api/runs/:id/review.geojson | review.csv    marked patches and the first `top` ranks, for OSM mappers
 *   GET  /api/runs/:id/families | families.html       failure families (JSON / self-contained HTML)
 *   GET  /api/runs/:id/confidence                     interval method, coverage vs nominal, baselines
 *   GET  /api/runs/:id/intervals                      per-patch iou_low / iou_high, idx order
 *   GET  /api/projects/:a/compare/:b                  per-tile change in priority and confidence (summary)
 *   GET  /api/projects/:a/compare/:b/layer.geojson    Δpriority per matched tile
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { collectText } from '../lib/exports/stream.ts';
import type { DatabaseHandle } from '../lib/db/client.ts';
import { REVIEW_MARKS } from '../lib/db/schema.ts';
import { getFamilies } from '../lib/insights/failure-families.ts';
import { familiesHtml } from '../lib/insights/families-html.ts';
import { comparisonGeoJson, compareProjects } from '../lib/insights/model-compare.ts';
import { markPatch, reviewCsv, reviewGeoJson, reviewItem, reviewPage } from '../lib/insights/review.ts';
import { InsightsError, requireRun } from '../lib/insights/run-dataset.ts';
import { ApiError } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import { decimalId, decimalInt, idParam } from '../middleware/params.ts';
import type { PatchImageStore } from './patch-images.ts';

const markParam = idParam.extend({ idx: decimalInt(0) });
const itemQuery = z.object({
  rank: decimalId.default(1),
  unmarked: z.enum(['true', 'false']).default('false'),
});
const pageQuery = z.object({
  offset: decimalInt(0).default(0),
  limit: decimalInt(1, 1000).default(50),
});
const markBody = z.object({ mark: z.enum(REVIEW_MARKS), note: z.string().max(2000).optional() });
const exportQuery = z.object({
  top: decimalInt(0, 100_000).default(50),
  marks: z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',') : undefined))
    .pipe(z.array(z.enum(REVIEW_MARKS)).optional()),
});
const compareParam = z.object({
  a: decimalId,
  b: decimalId,
});

/** Library errors name what is missing; a missing thing is a 404, anything else a conflict with the run's state. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InsightsError) {
      const missing = /does not exist|is gone/.test(err.message);
      throw new ApiError(missing ? 404 : 409, missing ? 'not-found' : 'insights-not-ready', err.message);
    }
    throw err;
  }
}

const imageUrls = (runId: number, idx: number) => ({
  image: `/api/runs/${runId}/patches/${idx}/image.png`,
  mask: `/api/runs/${runId}/patches/${idx}/mask.png`,
  prediction: `/api/runs/${runId}/patches/${idx}/prediction.png`,
});

/** Mounted under /api/runs. */
export function insightRunRoutes(db: DatabaseHandle, images: PatchImageStore): Hono {
  return new Hono()
    .get('/:id/review', validate('param', idParam), validate('query', itemQuery), (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const item = guard(() => reviewItem(db, id, q.rank, q.unmarked === 'true'));
      return c.json({ ...item, images: imageUrls(id, item.idx) }, 200, { 'Cache-Control': 'no-store' });
    })
    .get('/:id/review/list', validate('param', idParam), validate('query', pageQuery), (c) => {
      const { id } = c.req.valid('param');
      const { offset, limit } = c.req.valid('query');
      return c.json({ items: guard(() => reviewPage(db, id, offset, limit)) }, 200, {
        'Cache-Control': 'no-store',
      });
    })
    .post('/:id/review/:idx', validate('param', markParam), validate('json', markBody), (c) => {
      const { id, idx } = c.req.valid('param');
      const { mark, note } = c.req.valid('json');
      guard(() => markPatch(db, id, idx, mark, note));
      return c.json({ runId: id, idx, mark, note: note ?? null });
    })
    .get('/:id/review.geojson', validate('param', idParam), validate('query', exportQuery), async (c) => {
      const { id } = c.req.valid('param');
      const body = await collectText(guard(() => [...reviewGeoJson(db, id, c.req.valid('query'))]));
      return c.body(body, 200, {
        'Content-Type': 'application/geo+json',
        'Content-Disposition': `attachment; filename="run-${id}-review.geojson"`,
      });
    })
    .get('/:id/review.csv', validate('param', idParam), validate('query', exportQuery), async (c) => {
      const { id } = c.req.valid('param');
      const body = await collectText(guard(() => [...reviewCsv(db, id, c.req.valid('query'))]));
      return c.body(body, 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="run-${id}-review.csv"`,
      });
    })
    .get('/:id/families', validate('param', idParam), (c) => {
      const { id } = c.req.valid('param');
      const { assignment, ...report } = guard(() => getFamilies(db, id));
      return c.json({ ...report, assignment });
    })
    .get('/:id/families.html', validate('param', idParam), async (c) => {
      const { id } = c.req.valid('param');
      const report = guard(() => getFamilies(db, id));
      const html = await familiesHtml(report, (idx) => images.png(id, idx, 'image'));
      return c.html(html);
    })
    .get('/:id/confidence', validate('param', idParam), (c) => {
      const { id } = c.req.valid('param');
      guard(() => requireRun(db, id));
      const row = db.sqlite
        .prepare("select record from insight_records where run_id = ? and kind = 'confidence'")
        .get(id) as { record: string } | undefined;
      if (!row) {
        throw new ApiError(
          409,
          'insights-not-ready',
          `run ${id} has no confidence intervals yet`,
          'run `npx tsx server/lib/insights/run-insights.ts --run <id>` first',
        );
      }
      return c.json(JSON.parse(row.record));
    })
    .get('/:id/intervals', validate('param', idParam), (c) => {
      const { id } = c.req.valid('param');
      guard(() => requireRun(db, id));
      const rows = db.sqlite
        .prepare(
          'select idx, iou_low as lo, iou_high as hi from patch_intervals where run_id = ? order by idx',
        )
        .raw()
        .all(id) as [number, number, number][];
      return c.json({
        idx: rows.map((r) => r[0]),
        iouLow: rows.map((r) => r[1]),
        iouHigh: rows.map((r) => r[2]),
      });
    });
}

/** Mounted under /api/projects. */
export function insightProjectRoutes(db: DatabaseHandle): Hono {
  return new Hono()
    .get('/:a/compare/:b', validate('param', compareParam), (c) => {
      const { a, b } = c.req.valid('param');
      return c.json(guard(() => compareProjects(db, a, b)));
    })
    .get('/:a/compare/:b/layer.geojson', validate('param', compareParam), async (c) => {
      const { a, b } = c.req.valid('param');
      const body = await collectText(guard(() => [...comparisonGeoJson(db, a, b)]));
      return c.body(body, 200, { 'Content-Type': 'application/geo+json' });
    });
}
