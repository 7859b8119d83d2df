/**
 * Reference analysis runs: what the ML lead checks before managers rely on a model, and the columns
 * the latent view draws.
 *
 * `GET /:id/patches?format=f32` is the latent view's binary form: little-endian float32, row-major,
 * F32_COLUMNS.length values per patch in that order (pc1..pc9, iou, iouHat), patches in idx order,
 * NaN where a value is null (an empty patch's IoU). `X-Tilelens-Columns` and `X-Tilelens-Rows` repeat
 * the layout; a client wraps the body as `new Float32Array(buffer)` and reads row i at i × 11.
 * It is streamed page by page, so the server never holds a large run's table.
 */
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { getClusters, getPatches, getRun, listRuns, type PatchColumn } from '../lib/db/analysis-repo.ts';
import { summariseRun } from '../lib/analysis/analyze-dataset.ts';
import type { DatabaseHandle } from '../lib/db/client.ts';
import type { AnalysisRun, Cluster, Patch } from '../lib/db/schema.ts';
import { patches as patchTable } from '../lib/db/schema.ts';
import { getTableColumns } from 'drizzle-orm';
import { ApiError, notFound } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import { decimalId, decimalInt, idParam } from '../middleware/params.ts';
import type { Settings } from '../settings.ts';

export const F32_COLUMNS = [
  'pc1',
  'pc2',
  'pc3',
  'pc4',
  'pc5',
  'pc6',
  'pc7',
  'pc8',
  'pc9',
  'iou',
  'iouHat',
] as const;
const F32_PAGE = 20_000;

/** Columns a client may ask for: everything but the blob the analysis keeps for itself. */
const PATCH_COLUMNS = Object.keys(getTableColumns(patchTable)).filter((c) => c !== 'runId') as PatchColumn[];
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
    format: z.enum(['json', 'f32']).default('json'),
  });
}

function requireRun(db: DatabaseHandle, id: number): AnalysisRun {
  const run = getRun(db, id);
  if (!run) throw notFound(`analysis run ${id}`, 'GET /api/runs lists the stored runs');
  return run;
}

function clusterJson(c: Cluster) {
  const { runId: _r, ...rest } = c;
  return rest;
}

/** What the run page shows: model quality, the IoU surface against the mean predictor, the k sweep, clusters. */
export function runDetail(db: DatabaseHandle, run: AnalysisRun) {
  const summary = summariseRun(run, false);
  const settings = run.settings as Record<string, unknown>;
  return {
    ...summary,
    createdAt: run.createdAt,
    settings: {
      pooling: run.settings.pooling,
      emptyPolicy: run.settings.emptyPolicy,
      seed: run.settings.seed,
      nComponents: run.settings.nComponents,
    },
    explainedVarianceRatio: settings.explainedVarianceRatio ?? run.pca.explainedVarianceRatio ?? null,
    // The verdict a person needs first: does the IoU surface beat answering the mean?
    estimatorBeatsMean: summary.estimator.r2 > summary.estimator.meanPredictorR2,
    sweep: run.kmeans.sweep,
    clusters: getClusters(db, run.id).map(clusterJson),
    urbanised: {
      clusters: run.urbanised.clusters,
      threshold: run.urbanised.threshold,
      reason: run.urbanised.reason,
    },
  };
}

export function runRoutes(db: DatabaseHandle, settings: Settings): Hono {
  return new Hono()
    .get('/', validate('query', listQuery), (c) => {
      const q = c.req.valid('query');
      return c.json({ runs: listRuns(db, q) });
    })
    .get('/:id', validate('param', idParam), (c) => {
      const run = requireRun(db, c.req.valid('param').id);
      return c.json(runDetail(db, run));
    })
    .get('/:id/clusters', validate('param', idParam), (c) => {
      const run = requireRun(db, c.req.valid('param').id);
      return c.json({
        runId: run.id,
        urbanisedReason: run.urbanised.reason,
        clusters: getClusters(db, run.id).map(clusterJson),
      });
    })
    .get(
      '/:id/patches',
      validate('param', idParam),
      validate('query', patchQuery(settings.maxPatchRows)),
      (c) => {
        const run = requireRun(db, c.req.valid('param').id);
        const q = c.req.valid('query');
        if (q.format === 'f32') return f32Patches(c, db, run, q.cluster);
        const rows = getPatches(db, run.id, {
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

function f32Patches(c: Context, db: DatabaseHandle, run: AnalysisRun, cluster: number | undefined) {
  if (cluster !== undefined && cluster >= run.kmeans.chosenK) {
    throw new ApiError(
      400,
      'invalid-query',
      `cluster ${cluster} does not exist; run ${run.id} has clusters 0..${run.kmeans.chosenK - 1}`,
    );
  }
  const width = F32_COLUMNS.length;
  c.header('Content-Type', 'application/octet-stream');
  c.header('X-Tilelens-Columns', F32_COLUMNS.join(','));
  c.header('X-Tilelens-Layout', 'float32-le row-major; NaN = null');
  if (cluster === undefined) {
    c.header('X-Tilelens-Rows', String(run.patchCount));
    c.header('Content-Length', String(run.patchCount * width * 4));
  }
  return stream(c, async (s) => {
    for (let offset = 0; ; offset += F32_PAGE) {
      const rows = getPatches(db, run.id, { columns: [...F32_COLUMNS], cluster, limit: F32_PAGE, offset });
      const out = new Float32Array(rows.length * width);
      rows.forEach((row, i) => {
        F32_COLUMNS.forEach((n, j) => {
          const v = (row as Pick<Patch, (typeof F32_COLUMNS)[number]>)[n];
          out[i * width + j] = v === null ? Number.NaN : v;
        });
      });
      // Float32Array is host-endian; every platform Node ships for is little-endian.
      if (out.length > 0) await s.write(new Uint8Array(out.buffer));
      if (rows.length < F32_PAGE || s.aborted) break;
    }
  });
}
