/**
 * Reference analysis runs: what the ML lead checks before managers rely on a model, and their patches as
 * columns (JSON, paged).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { clusterJson, runDetail } from '../lib/analysis/run-detail.ts';
import {
  getClusters,
  getPatches,
  listRuns,
  PATCH_COLUMN_NAMES,
  requireRun,
  type PatchColumn,
} from '../lib/db/analysis-repo.ts';
import type { DatabaseHandle } from '../lib/db/client.ts';
import { validate } from '../middleware/validate.ts';
import { decimalId, decimalInt, idParam } from '../middleware/params.ts';
import type { Settings } from '../settings.ts';

/** Columns a client may ask for: everything but the run id the path already names. */
const PATCH_COLUMNS = PATCH_COLUMN_NAMES.filter((c) => c !== 'runId');
const DEFAULT_COLUMNS: PatchColumn[] = [
  'idx',
  'patchKey',
  'split',
  'pc1',
  'pc2',
  'iou',
  'iouHat',
  'cluster',
  'gtFraction',
  'predFraction',
  'empty',
];

const listQuery = z.object({
  limit: decimalInt(1, 1000).default(100),
  offset: decimalInt(0).default(0),
  modelId: decimalId.optional(),
});

function patchQuery(maxRows: number) {
  return z.object({
    columns: z
      .string()
      .optional()
      .transform((s, ctx) => {
        if (s === undefined || s.trim() === '') return DEFAULT_COLUMNS;
        const names = s.split(',').map((n) => n.trim());
        const unknown = names.filter((n) => !(PATCH_COLUMNS as string[]).includes(n));
        if (unknown.length > 0) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown column(s) ${unknown.join(', ')}; choose from ${PATCH_COLUMNS.join(', ')}`,
          });
          return z.NEVER;
        }
        return [...new Set(names)] as PatchColumn[];
      }),
    cluster: decimalInt(0).optional(),
    limit: decimalInt(1, maxRows).default(maxRows),
    offset: decimalInt(0).default(0),
  });
}

export function runRoutes(db: DatabaseHandle, settings: Settings): Hono {
  return new Hono()
    .get('/', validate('query', listQuery), async (c) => {
      const q = c.req.valid('query');
      return c.json({ runs: await listRuns(db, q) });
    })
    .get('/:id', validate('param', idParam), async (c) => {
      const run = await requireRun(db, c.req.valid('param').id);
      return c.json(await runDetail(db, run));
    })
    .get('/:id/clusters', validate('param', idParam), async (c) => {
      const run = await requireRun(db, c.req.valid('param').id);
      return c.json({
        runId: run.id,
        urbanisedReason: run.urbanised.reason,
        clusters: (await getClusters(db, run.id)).map(clusterJson),
      });
    })
    .get(
      '/:id/patches',
      validate('param', idParam),
      validate('query', patchQuery(settings.maxPatchRows)),
      async (c) => {
        const run = await requireRun(db, c.req.valid('param').id);
        const q = c.req.valid('query');
        const rows = await getPatches(db, run.id, {
          columns: q.columns,
          cluster: q.cluster,
          limit: q.limit,
          offset: q.offset,
        });
        const columns: Record<string, unknown[]> = Object.fromEntries(
          q.columns.map((n) => [n, new Array(rows.length)]),
        );
        rows.forEach((row, i) => {
          for (const n of q.columns) columns[n][i] = (row as Record<string, unknown>)[n];
        });
        const next = rows.length === q.limit ? q.offset + q.limit : null;
        return c.json({
          runId: run.id,
          count: rows.length,
          offset: q.offset,
          nextOffset: next,
          total: run.patchCount,
          columns,
        });
      },
    );
}
