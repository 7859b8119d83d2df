/**
 * The latent view's data: compact binary columns, so a million training patches cost the browser a
 * few megabytes and the axes can change without refetching everything else.
 *
 *   GET /api/runs/:id/latent?x=1&y=2          positions of every patch on PCs x and y   (4 B / patch)
 *   GET /api/runs/:id/latent/attributes       IoU, smoothed IoU, cluster, district, split, novelty and
 *                                             the patch's tile, once per run             (10 B / patch)
 *   GET /api/projects/:id/latent?x=1&y=2      the project's scored tiles in the same space (4 B / tile)
 *   GET /api/projects/:id/latent/attributes   smoothed IoU, novelty, priority, building probability,
 *                                             tier and the tile, once per project        (9 B / tile)
 *   GET /api/projects/:id/tiles/:taskId/neighbours?k=6   the training patches nearest a tile in the
 *                                             run's 9-component space: the evidence behind its score
 *
 * The envelope ("tilelens-columns/1", decoded by map-ui/src/data/columns.ts):
 *   uint32 LE  header length H
 *   H bytes    UTF-8 JSON header { format, rows, columns: [{ name, type, offset, … }], meta }
 *   columns    back to back, each starting on a 4-byte boundary, little-endian
 * A quantised column (uint8 / uint16) carries { min, max, nullCode }: value = min + code / (nullCode − 1) × (max − min).
 * Categorical columns carry { categories } and nullCode. Rows are in patch idx order (runs) or in the
 * project's tile order, north to south then west to east (projects); every request of one resource
 * lists them in the same order, so columns from different requests line up.
 *
 * Every column is read from SQLite in its own pass of keyset pages, so the server holds one page, never the table.
 */
import { and, asc, eq, gt, isNotNull, lte, sql, type SQL } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { getRun } from '../lib/db/analysis-repo.ts';
import type { DatabaseHandle } from '../lib/db/client.ts';
import { patches, tileScores, TILE_TIERS, type AnalysisRun } from '../lib/db/schema.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { getTileRow } from '../lib/scoring/tiles-repo.ts';
import { ApiError, notFound } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import { requireProject } from '../lib/scoring/projects.ts';

export const COLUMNS_FORMAT = 'tilelens-columns/1';
const PC_COUNT = 9;

/** Rows per page: columns are read in keyset pages, so no statement stays open while the response streams (the scoring job writes on the same connection). */
const ROWS_PER_PAGE = 20_000;

export type ColumnType = 'uint8' | 'uint16' | 'uint32' | 'float32';
const BYTES: Record<ColumnType, number> = { uint8: 1, uint16: 2, uint32: 4, float32: 4 };
const NULL_CODE: Partial<Record<ColumnType, number>> = { uint8: 255, uint16: 65535, uint32: 4294967295 };

/** How one column's values become bytes; `values` is iterated once, when the column's turn comes. */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Quantised range: codes 0..nullCode−1 span [min, max]. */
  min?: number;
  max?: number;
  categories?: string[];
  /** Values: numbers (null → nullCode). Quantised columns take raw values, categorical ones take category indices. */
  values: () => Iterable<number | null>;
}

export interface ColumnHeader {
  name: string;
  type: ColumnType;
  offset: number;
  byteLength: number;
  min?: number;
  max?: number;
  nullCode?: number;
  categories?: string[];
}

const align4 = (n: number) => (n + 3) & ~3;

/** The header, with offsets, for `rows` rows of these columns. */
export function columnsHeader(rows: number, specs: ColumnSpec[], meta: Record<string, unknown>) {
  const columns: ColumnHeader[] = [];
  let offset = 0;
  for (const s of specs) {
    const byteLength = rows * BYTES[s.type];
    const h: ColumnHeader = { name: s.name, type: s.type, offset, byteLength };
    if (s.min !== undefined) h.min = s.min;
    if (s.max !== undefined) h.max = s.max;
    if (s.categories) h.categories = s.categories;
    if (NULL_CODE[s.type] !== undefined) h.nullCode = NULL_CODE[s.type];
    columns.push(h);
    offset = align4(offset + byteLength);
  }
  return { format: COLUMNS_FORMAT, rows, columns, meta, bodyBytes: offset };
}

/** The envelope's prefix: header length, header JSON padded with spaces so the columns start 4-byte aligned. */
export function encodeHeader(header: object): Uint8Array {
  let json = JSON.stringify(header);
  while ((4 + Buffer.byteLength(json)) % 4 !== 0) json += ' ';
  const body = Buffer.from(json, 'utf8');
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

const PAGE = 16_384;

/** Encodes one column in pages; yields byte chunks, the last one padded to 4 bytes. */
export function* encodeColumn(spec: ColumnSpec, rows: number): Generator<Uint8Array> {
  const bytes = BYTES[spec.type];
  const nullCode = NULL_CODE[spec.type];
  const quantised = spec.min !== undefined && spec.max !== undefined && nullCode !== undefined;
  const span = quantised ? spec.max! - spec.min! : 0;
  let page = new ArrayBuffer(PAGE * bytes);
  let view = new DataView(page);
  let n = 0;
  let written = 0;
  for (const v of spec.values()) {
    if (written >= rows) {
      throw new Error(`column ${spec.name} yields more than the ${rows} rows its header announced; the data changed while it was read`);
    }
    let code: number;
    if (v === null || !Number.isFinite(v)) {
      if (spec.type === 'float32') code = Number.NaN;
      else code = nullCode!;
    } else if (quantised) {
      const t = span > 0 ? (v - spec.min!) / span : 0;
      code = Math.round(Math.min(1, Math.max(0, t)) * (nullCode! - 1));
    } else {
      code = v;
    }
    const at = n * bytes;
    if (spec.type === 'uint8') view.setUint8(at, code);
    else if (spec.type === 'uint16') view.setUint16(at, code, true);
    else if (spec.type === 'uint32') view.setUint32(at, code, true);
    else view.setFloat32(at, code, true);
    n++;
    written++;
    if (n === PAGE) {
      yield new Uint8Array(page);
      page = new ArrayBuffer(PAGE * bytes);
      view = new DataView(page);
      n = 0;
    }
  }
  if (written !== rows) {
    throw new Error(`column ${spec.name} yields ${written} rows, its header announced ${rows}; the data changed while it was read`);
  }
  const tail = n * bytes;
  const padded = align4(rows * bytes) - rows * bytes;
  const last = new Uint8Array(tail + padded);
  last.set(new Uint8Array(page, 0, tail));
  if (last.length > 0) yield last;
}

/** The whole envelope as one iterable of chunks (what the routes stream and the tests decode). */
export function* encodeColumns(rows: number, specs: ColumnSpec[], meta: Record<string, unknown>): Generator<Uint8Array> {
  yield encodeHeader(columnsHeader(rows, specs, meta));
  for (const s of specs) yield* encodeColumn(s, rows);
}

function sendColumns(c: Context, rows: number, specs: ColumnSpec[], meta: Record<string, unknown>) {
  const header = encodeHeader(columnsHeader(rows, specs, meta));
  c.header('Content-Type', 'application/octet-stream');
  c.header('Content-Length', String(header.length + columnsHeader(rows, specs, meta).bodyBytes));
  c.header('X-Tilelens-Format', COLUMNS_FORMAT);
  // The data of a stored run or a finished scoring never changes under its id; a running one may.
  c.header('Cache-Control', 'no-cache');
  return stream(c, async (s) => {
    await s.write(header);
    for (const spec of specs) {
      for (const chunk of encodeColumn(spec, rows)) {
        if (s.aborted) return;
        await s.write(chunk);
      }
    }
  });
}

const idParam = z.object({ id: z.coerce.number().int().positive() });
const axesQuery = z.object({
  x: z.coerce.number().int().min(1).max(PC_COUNT).default(1),
  y: z.coerce.number().int().min(1).max(PC_COUNT).default(2),
});
const tileParam = idParam.extend({ taskId: z.string().regex(/^\d+-\d+-\d+$/, 'a task id is z-x-y, e.g. 18-155703-141324') });
const asOfQuery = z.object({ asOf: z.coerce.number().int().positive().optional() });
const neighbourQuery = z.object({ k: z.coerce.number().int().min(1).max(50).default(6) });

type PcName = `pc${1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9}`;
const pcName = (i: number) => `pc${i}` as PcName;

function requireRun(db: DatabaseHandle, id: number): AnalysisRun {
  const run = getRun(db, id);
  if (!run) throw notFound(`analysis run ${id}`, 'GET /api/runs lists the stored runs');
  return run;
}

/** One column of the run's patches, in idx order, streamed row by row. */
function patchColumn<T>(db: DatabaseHandle, runId: number, column: (typeof patches)[keyof typeof patches & string], map: (v: T) => number | null) {
  return function* () {
    for (let last = -1; ; ) {
      const page = db.db
        .select({ idx: patches.idx, v: column as never })
        .from(patches)
        .where(and(eq(patches.runId, runId), gt(patches.idx, last)))
        .orderBy(asc(patches.idx))
        .limit(ROWS_PER_PAGE)
        .all() as Array<{ idx: number; v: T }>;
      for (const row of page) yield map(row.v);
      if (page.length < ROWS_PER_PAGE) return;
      last = page[page.length - 1].idx;
    }
  };
}

function runStats(db: DatabaseHandle, runId: number) {
  return db.db
    .select({
      n: sql<number>`count(*)`,
      minIdx: sql<number>`min(${patches.idx})`,
      maxIdx: sql<number>`max(${patches.idx})`,
      minX: sql<number | null>`min(${patches.x})`,
      maxX: sql<number | null>`max(${patches.x})`,
      minY: sql<number | null>`min(${patches.y})`,
      maxY: sql<number | null>`max(${patches.y})`,
      zoom: sql<number | null>`max(${patches.z})`,
      maxCluster: sql<number | null>`max(${patches.cluster})`,
    })
    .from(patches)
    .where(eq(patches.runId, runId))
    .get()!;
}

function pcRange(db: DatabaseHandle, runId: number, pc: PcName): [number, number] {
  const r = db.db
    .select({ lo: sql<number | null>`min(${patches[pc]})`, hi: sql<number | null>`max(${patches[pc]})` })
    .from(patches)
    .where(eq(patches.runId, runId))
    .get()!;
  return [r.lo ?? 0, r.hi ?? 0];
}

function distinct(db: DatabaseHandle, runId: number, column: typeof patches.groupName | typeof patches.split): string[] {
  return db.db
    .selectDistinct({ v: column })
    .from(patches)
    .where(eq(patches.runId, runId))
    .orderBy(asc(column))
    .all()
    .map((r) => r.v)
    .filter((v): v is string => v !== null);
}

export function runLatentRoutes(db: DatabaseHandle): Hono {
  return new Hono()
    .get('/:id/latent', validate('param', idParam), validate('query', axesQuery), (c) => {
      const run = requireRun(db, c.req.valid('param').id);
      const { x, y } = c.req.valid('query');
      const rows = runStats(db, run.id).n;
      const specs: ColumnSpec[] = [x, y].map((pc, i) => {
        const [min, max] = pcRange(db, run.id, pcName(pc));
        return { name: i === 0 ? 'x' : 'y', type: 'uint16', min, max, values: patchColumn<number | null>(db, run.id, patches[pcName(pc)], (v) => v) };
      });
      return sendColumns(c, rows, specs, { runId: run.id, axes: [x, y], explainedVarianceRatio: run.pca.explainedVarianceRatio ?? null });
    })
    .get('/:id/latent/attributes', validate('param', idParam), (c) => {
      const run = requireRun(db, c.req.valid('param').id);
      const stats = runStats(db, run.id);
      const groups = distinct(db, run.id, patches.groupName);
      const splits = distinct(db, run.id, patches.split);
      const urbanised = new Set(run.urbanised.clusters);
      const clusterCount = Math.max(run.kmeans.chosenK, (stats.maxCluster ?? -1) + 1);
      const tileOrigin = stats.minX !== null && stats.minY !== null ? { z: stats.zoom, x: stats.minX, y: stats.minY } : null;
      if (tileOrigin && (stats.maxX! - stats.minX! >= 65535 || stats.maxY! - stats.minY! >= 65535)) {
        throw new ApiError(422, 'area-too-wide', `run ${run.id}'s patches span more than 65,535 tiles across`, 'the latent view cannot place them on the map');
      }
      const specs: ColumnSpec[] = [
        { name: 'iou', type: 'uint8', min: 0, max: 1, values: patchColumn<number | null>(db, run.id, patches.iou, (v) => v) },
        { name: 'iouHat', type: 'uint8', min: 0, max: 1, values: patchColumn<number | null>(db, run.id, patches.iouHat, (v) => v) },
        { name: 'novelty', type: 'uint8', min: 0, max: 100, values: patchColumn<number | null>(db, run.id, patches.novelty, (v) => v) },
        {
          name: 'cluster',
          type: 'uint8',
          categories: Array.from({ length: clusterCount }, (_, i) => (urbanised.has(i) ? `cluster ${i} (urbanised)` : `cluster ${i}`)),
          values: patchColumn<number | null>(db, run.id, patches.cluster, (v) => (v === null || v < 0 || v > 254 ? null : v)),
        },
        {
          name: 'group',
          type: 'uint8',
          categories: groups,
          values: patchColumn<string | null>(db, run.id, patches.groupName, (v) => (v === null ? null : groups.indexOf(v))),
        },
        {
          name: 'split',
          type: 'uint8',
          categories: splits,
          values: patchColumn<string>(db, run.id, patches.split, (v) => splits.indexOf(v)),
        },
        {
          name: 'tileX',
          type: 'uint16',
          values: patchColumn<number | null>(db, run.id, patches.x, (v) => (v === null || !tileOrigin ? null : v - tileOrigin.x)),
        },
        {
          name: 'tileY',
          type: 'uint16',
          values: patchColumn<number | null>(db, run.id, patches.y, (v) => (v === null || !tileOrigin ? null : v - tileOrigin.y)),
        },
      ];
      // Point i is patch idx i when the run's idx run 0..n−1 (they do for every run the analysis writes).
      const idxContiguous = stats.n === 0 || (stats.minIdx === 0 && stats.maxIdx === stats.n - 1);
      if (!idxContiguous) specs.push({ name: 'idx', type: 'uint32', values: patchColumn<number>(db, run.id, patches.idx, (v) => v) });
      return sendColumns(c, stats.n, specs, {
        runId: run.id,
        idxContiguous,
        tileOrigin,
        urbanisedClusters: [...urbanised],
        urbanisedReason: run.urbanised.reason,
      });
    });
}

export function projectLatentRoutes(ctx: ScoringContext): Hono {
  // Tiles are only ever added (first write wins), so "scored at or before asOf" is a snapshot that
  // stays the same across the separate passes and requests of one view, while a job still runs.
  const scored = (projectId: number, asOf: number) =>
    and(eq(tileScores.projectId, projectId), isNotNull(tileScores.pcs), lte(tileScores.scoredAt, new Date(asOf)));

  function tileColumn<T>(projectId: number, asOf: number, pick: (row: { pcs: number[] | null } & Record<string, unknown>) => T, map: (v: T) => number | null) {
    return function* () {
      let last: { x: number; y: number } | null = null;
      for (;;) {
        const after: SQL | undefined = last ? sql`(${tileScores.y} > ${last.y} or (${tileScores.y} = ${last.y} and ${tileScores.x} > ${last.x}))` : undefined;
        const page = ctx.db.db
          .select({ pcs: tileScores.pcs, x: tileScores.x, y: tileScores.y, iouHat: tileScores.iouHat, novelty: tileScores.novelty, priority: tileScores.priority, buildingProb: tileScores.buildingProb, tier: tileScores.tier })
          .from(tileScores)
          .where(and(scored(projectId, asOf), after))
          .orderBy(asc(tileScores.y), asc(tileScores.x))
          .limit(ROWS_PER_PAGE)
          .all();
        for (const row of page) yield map(pick(row as { pcs: number[] | null } & Record<string, unknown>));
        if (page.length < ROWS_PER_PAGE) return;
        const end: { x: number; y: number } = page[page.length - 1];
        last = end;
      }
    };
  }

  function stats(projectId: number, asOfParam: number | undefined) {
    const asOf = asOfParam ?? Date.now();
    const s = ctx.db.db
      .select({ n: sql<number>`count(*)`, minX: sql<number | null>`min(${tileScores.x})`, minY: sql<number | null>`min(${tileScores.y})` })
      .from(tileScores)
      .where(scored(projectId, asOf))
      .get()!;
    return { ...s, asOf };
  }

  function pcRangeOfTiles(projectId: number, asOf: number, pc: number): [number, number] {
    // pcs is a JSON array; SQLite's json_extract reads one component without parsing rows in JS.
    const path = `$[${pc - 1}]`;
    const r = ctx.db.db
      .select({
        lo: sql<number | null>`min(json_extract(${tileScores.pcs}, ${path}))`,
        hi: sql<number | null>`max(json_extract(${tileScores.pcs}, ${path}))`,
      })
      .from(tileScores)
      .where(scored(projectId, asOf))
      .get()!;
    return [r.lo ?? 0, r.hi ?? 0];
  }

  return new Hono()
    .get('/:id/latent', validate('param', idParam), validate('query', axesQuery.extend(asOfQuery.shape)), (c) => {
      const project = requireProject(ctx, c.req.valid('param').id);
      const { x, y, asOf: asOfParam } = c.req.valid('query');
      const { n, asOf } = stats(project.id, asOfParam);
      const specs: ColumnSpec[] = [x, y].map((pc, i) => {
        const [min, max] = pcRangeOfTiles(project.id, asOf, pc);
        return {
          name: i === 0 ? 'x' : 'y',
          type: 'uint16' as const,
          min,
          max,
          values: tileColumn(project.id, asOf, (r) => r.pcs, (pcs) => (pcs && pcs.length >= pc ? pcs[pc - 1] : null)),
        };
      });
      return sendColumns(c, n, specs, { projectId: project.id, runId: project.runId, axes: [x, y], asOf });
    })
    .get('/:id/latent/attributes', validate('param', idParam), validate('query', asOfQuery), (c) => {
      const project = requireProject(ctx, c.req.valid('param').id);
      const s = stats(project.id, c.req.valid('query').asOf);
      const asOf = s.asOf;
      const num = (k: string) => tileColumn(project.id, asOf, (r) => r[k] as number | null, (v) => v);
      const specs: ColumnSpec[] = [
        { name: 'iouHat', type: 'uint8', min: 0, max: 1, values: num('iouHat') },
        { name: 'novelty', type: 'uint8', min: 0, max: 100, values: num('novelty') },
        { name: 'priority', type: 'uint8', min: 0, max: 1, values: num('priority') },
        { name: 'buildingProb', type: 'uint8', min: 0, max: 1, values: num('buildingProb') },
        { name: 'tier', type: 'uint8', categories: [...TILE_TIERS], values: tileColumn(project.id, asOf, (r) => r.tier as string, (t) => TILE_TIERS.indexOf(t as never)) },
        { name: 'tileX', type: 'uint16', values: tileColumn(project.id, asOf, (r) => r.x as number, (v) => v - (s.minX ?? 0)) },
        { name: 'tileY', type: 'uint16', values: tileColumn(project.id, asOf, (r) => r.y as number, (v) => v - (s.minY ?? 0)) },
      ];
      return sendColumns(c, s.n, specs, { projectId: project.id, runId: project.runId, tileOrigin: { z: project.zoom, x: s.minX ?? 0, y: s.minY ?? 0 }, asOf });
    })
    .get('/:id/tiles/:taskId/neighbours', validate('param', tileParam), validate('query', neighbourQuery), (c) => {
      const { id, taskId } = c.req.valid('param');
      const { k } = c.req.valid('query');
      const project = requireProject(ctx, id);
      const row = getTileRow(ctx, project.id, taskId);
      if (!row) throw notFound(`tile ${taskId} of project ${project.id}`, 'it lies outside the area or has not been scored yet');
      if (!row.pcs) throw new ApiError(409, 'tile-not-scored', `tile ${taskId} has no latent position (status ${row.status})`, 'its imagery could not be scored');
      return c.json({ projectId: project.id, runId: project.runId, taskId, neighbours: nearestPatches(ctx.db, project.runId, row.pcs, k) });
    });
}

/**
 * The k training patches nearest a point in the run's PC space, by a streamed brute-force scan with a
 * small sorted buffer: exact, O(n·k) time, O(k) memory, fast enough (~0.1 s per million) for one click.
 */
export function nearestPatches(db: DatabaseHandle, runId: number, pcs: number[], k: number) {
  const dims = Math.min(PC_COUNT, pcs.length);
  const best: Array<{ d: number; row: Record<string, unknown> }> = [];
  function* rows() {
    for (let last = -1; ; ) {
      const page = db.db
        .select({ idx: patches.idx, patchKey: patches.patchKey, iou: patches.iou, iouHat: patches.iouHat, cluster: patches.cluster, groupName: patches.groupName, pc1: patches.pc1, pc2: patches.pc2, pc3: patches.pc3, pc4: patches.pc4, pc5: patches.pc5, pc6: patches.pc6, pc7: patches.pc7, pc8: patches.pc8, pc9: patches.pc9 })
        .from(patches)
        .where(and(eq(patches.runId, runId), gt(patches.idx, last)))
        .orderBy(asc(patches.idx))
        .limit(ROWS_PER_PAGE)
        .all();
      yield* page as Array<Record<string, number | null | string>>;
      if (page.length < ROWS_PER_PAGE) return;
      last = page[page.length - 1].idx;
    }
  }
  for (const row of rows()) {
    let d = 0;
    for (let i = 0; i < dims; i++) {
      const v = row[`pc${i + 1}`] as number | null;
      if (v === null) {
        d = Number.POSITIVE_INFINITY;
        break;
      }
      d += (v - pcs[i]) ** 2;
    }
    if (best.length === k && d >= best[k - 1].d) continue;
    let at = best.length;
    while (at > 0 && best[at - 1].d > d) at--;
    best.splice(at, 0, { d, row });
    if (best.length > k) best.pop();
  }
  return best
    .filter((b) => Number.isFinite(b.d))
    .map(({ d, row }) => ({
      idx: row.idx as number,
      patchKey: row.patchKey as string,
      group: row.groupName as string | null,
      iou: row.iou as number | null,
      iouHat: row.iouHat as number | null,
      cluster: row.cluster as number | null,
      distance: Math.sqrt(d),
    }));
}
