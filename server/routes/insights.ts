/**
 * What the latent space tells about a run — label-error review queue, failure families, confidence intervals —
 * and two projects' scores side by side. Thin over `server/lib/insights/*`.
 *
 *   GET  /api/runs/:id/review?rank=1&unmarked=true    one queue item (rank 1 = most suspicious), with image URLs
 *   GET  /api/runs/:id/review/list?offset=0&limit=50  a page of the queue
 *   POST /api/runs/:id/review/:idx  {mark, note?}     mark 'label_wrong' | 'model_wrong' | 'unsure' (manager token)
 *   GET  /api/runs/:id/review.geojson | review.csv    marked patches and the first `top` ranks, for OSM mappers
 *   GET  /api/runs/:id/label-objects                  label errors per object: how many of each kind
 *   GET  /api/runs/:id/label-objects/list?kind=phantom&offset&limit   one kind's queue, strongest first
 *   GET  /api/runs/:id/label-objects.geojson?kinds=&limit=&minScore=  outlines, fixes, JOSM links
 *   GET  /api/runs/:id/label-objects.maproulette.geojson?…            a MapRoulette challenge (line by line)
 *   GET  /api/runs/:id/families | families.html       failure families (JSON / self-contained HTML)
 *   GET  /api/runs/:id/confidence                     interval method, coverage vs nominal, baselines
 *   GET  /api/runs/:id/intervals                      per-patch iou_low / iou_high, idx order
 *   GET  /api/projects/:a/compare/:b                  per-tile change in priority and confidence (summary)
 *   GET  /api/projects/:a/compare/:b/layer.geojson    Δpriority per matched tile
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { DatabaseHandle } from '../lib/db/client.ts';
import { LABEL_OBJECT_KINDS, REVIEW_MARKS } from '../lib/db/schema.ts';
import {
  labelFixesGeoJson,
  labelFixesMapRoulette,
  labelFixSelectionSchema,
} from '../lib/exports/label-fixes.ts';
import { labelObjectCounts, labelObjectQueue } from '../lib/insights/object-queue.ts';
import { getConfidenceRecord, getPatchIntervals } from '../lib/insights/confidence-intervals.ts';
import { getFamilies } from '../lib/insights/failure-families.ts';
import { familiesHtml } from '../lib/insights/families-html.ts';
import { comparisonGeoJson, compareProjects } from '../lib/insights/model-compare.ts';
import type { PatchImageStore } from '../lib/insights/patch-images.ts';
import { markPatch, reviewCsv, reviewGeoJson, reviewItem, reviewPage } from '../lib/insights/review.ts';
import { validate } from '../middleware/validate.ts';
import { decimalId, decimalInt, idParam } from '../middleware/params.ts';

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
const objectPageQuery = pageQuery.extend({ kind: z.enum(LABEL_OBJECT_KINDS) });
const compareParam = z.object({
  a: decimalId,
  b: decimalId,
});

/**
 * The whole body at once, synchronously: the generator holds a statement open on the shared connection,
 * which must be closed before this request yields to another.
 */
const readAll = async (chunks: AsyncIterable<string> | Iterable<string>) => {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
};

const imageUrls = (runId: number, idx: number) => ({
  image: `/api/runs/${runId}/patches/${idx}/image.png`,
  mask: `/api/runs/${runId}/patches/${idx}/mask.png`,
  prediction: `/api/runs/${runId}/patches/${idx}/prediction.png`,
});

/** Mounted under /api/runs. */
export function insightRunRoutes(db: DatabaseHandle, images: PatchImageStore): Hono {
  return new Hono()
    .get('/:id/review', validate('param', idParam), validate('query', itemQuery), async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const item = await reviewItem(db, id, q.rank, q.unmarked === 'true');
      return c.json({ ...item, images: imageUrls(id, item.idx) }, 200, { 'Cache-Control': 'no-store' });
    })
    .get('/:id/review/list', validate('param', idParam), validate('query', pageQuery), async (c) => {
      const { id } = c.req.valid('param');
      const { offset, limit } = c.req.valid('query');
      return c.json({ items: await reviewPage(db, id, offset, limit) }, 200, {
        'Cache-Control': 'no-store',
      });
    })
    .post('/:id/review/:idx', validate('param', markParam), validate('json', markBody), async (c) => {
      const { id, idx } = c.req.valid('param');
      const { mark, note } = c.req.valid('json');
      await markPatch(db, id, idx, mark, note);
      return c.json({ runId: id, idx, mark, note: note ?? null });
    })
    .get('/:id/review.geojson', validate('param', idParam), validate('query', exportQuery), async (c) => {
      const { id } = c.req.valid('param');
      const body = await readAll(reviewGeoJson(db, id, c.req.valid('query')));
      return c.body(body, 200, {
        'Content-Type': 'application/geo+json',
        'Content-Disposition': `attachment; filename="run-${id}-review.geojson"`,
      });
    })
    .get('/:id/review.csv', validate('param', idParam), validate('query', exportQuery), async (c) => {
      const { id } = c.req.valid('param');
      const body = await readAll(reviewCsv(db, id, c.req.valid('query')));
      return c.body(body, 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="run-${id}-review.csv"`,
      });
    })
    .get('/:id/label-objects', validate('param', idParam), async (c) =>
      c.json(await labelObjectCounts(db, c.req.valid('param').id), 200, { 'Cache-Control': 'no-store' }),
    )
    .get(
      '/:id/label-objects/list',
      validate('param', idParam),
      validate('query', objectPageQuery),
      async (c) => {
        const { id } = c.req.valid('param');
        const { kind, offset, limit } = c.req.valid('query');
        const items = (await labelObjectQueue(db, id, kind, offset, limit)).map((o) => ({
          ...o,
          images: imageUrls(id, o.idx),
        }));
        return c.json({ kind, items }, 200, { 'Cache-Control': 'no-store' });
      },
    )
    .get(
      '/:id/label-objects.geojson',
      validate('param', idParam),
      validate('query', labelFixSelectionSchema),
      async (c) => {
        const { id } = c.req.valid('param');
        await labelObjectCounts(db, id);
        const body = await readAll(labelFixesGeoJson(db, id, c.req.valid('query')));
        return c.body(body, 200, {
          'Content-Type': 'application/geo+json',
          'Content-Disposition': `attachment; filename="run-${id}-label-fixes.geojson"`,
        });
      },
    )
    .get(
      '/:id/label-objects.maproulette.geojson',
      validate('param', idParam),
      validate('query', labelFixSelectionSchema),
      async (c) => {
        const { id } = c.req.valid('param');
        await labelObjectCounts(db, id);
        const body = await readAll(labelFixesMapRoulette(db, id, c.req.valid('query')));
        return c.body(body, 200, {
          'Content-Type': 'application/geo+json-seq',
          'Content-Disposition': `attachment; filename="run-${id}-maproulette.geojson"`,
        });
      },
    )
    .get('/:id/families', validate('param', idParam), async (c) => {
      const { id } = c.req.valid('param');
      const { assignment, ...report } = await getFamilies(db, id);
      return c.json({ ...report, assignment });
    })
    .get('/:id/families.html', validate('param', idParam), async (c) => {
      const { id } = c.req.valid('param');
      const report = await getFamilies(db, id);
      const html = await familiesHtml(report, (idx) => images.png(id, idx, 'image'));
      return c.html(html);
    })
    .get('/:id/confidence', validate('param', idParam), async (c) =>
      c.json(await getConfidenceRecord(db, c.req.valid('param').id)),
    )
    .get('/:id/intervals', validate('param', idParam), async (c) =>
      c.json(await getPatchIntervals(db, c.req.valid('param').id)),
    );
}

/** Mounted under /api/projects. */
export function insightProjectRoutes(db: DatabaseHandle): Hono {
  return new Hono()
    .get('/:a/compare/:b', validate('param', compareParam), async (c) => {
      const { a, b } = c.req.valid('param');
      return c.json(await compareProjects(db, a, b));
    })
    .get('/:a/compare/:b/layer.geojson', validate('param', compareParam), async (c) => {
      const { a, b } = c.req.valid('param');
      const body = await readAll(comparisonGeoJson(db, a, b));
      return c.body(body, 200, { 'Content-Type': 'application/geo+json' });
    });
}
