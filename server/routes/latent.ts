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
 * A run's columns come from one pass of one statement each (scanRunPositions, scanRunAttributes), ~1 s per
 * million patches, the statement finished before the response streams;
 * a project's columns are read in keyset pages per column, as a scoring job may still be adding tiles.
 */
import { and, asc, eq, gt, isNotNull, lte, sql, type SQL } from 'drizzle-orm';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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
import { decimalId, decimalInt, idParam, taskIdText } from '../middleware/params.ts';
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

/** How a value becomes the number stored for it (a quantised code, a category index, or the raw value). */
function coder(spec: Pick<ColumnSpec, 'type' | 'min' | 'max'>): (v: number | null) => number {
  const nullCode = NULL_CODE[spec.type];
  const quantised = spec.min !== undefined && spec.max !== undefined && nullCode !== undefined;
  const min = spec.min ?? 0;
  const span = quantised ? spec.max! - min : 0;
  return (v) => {
    if (v === null || !Number.isFinite(v)) return spec.type === 'float32' ? Number.NaN : nullCode!;
    if (!quantised) return v;
    const t = span > 0 ? (v - min) / span : 0;
    return Math.round(Math.min(1, Math.max(0, t)) * (nullCode! - 1));
  };
}

function writeCode(view: DataView, type: ColumnType, at: number, code: number) {
  if (type === 'uint8') view.setUint8(at, code);
  else if (type === 'uint16') view.setUint16(at, code, true);
  else if (type === 'uint32') view.setUint32(at, code, true);
  else view.setFloat32(at, code, true);
}

/** Encodes one column in pages; yields byte chunks, the last one padded to 4 bytes. */
export function* encodeColumn(spec: ColumnSpec, rows: number): Generator<Uint8Array> {
  const bytes = BYTES[spec.type];
  const code = coder(spec);
  let page = new ArrayBuffer(PAGE * bytes);
  let view = new DataView(page);
  let n = 0;
  let written = 0;
  for (const v of spec.values()) {
    if (written >= rows) {
      throw new Error(
        `column ${spec.name} yields more than the ${rows} rows its header announced; the data changed while it was read`,
      );
    }
    writeCode(view, spec.type, n * bytes, code(v));
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
    throw new Error(
      `column ${spec.name} yields ${written} rows, its header announced ${rows}; the data changed while it was read`,
    );
  }
  const tail = n * bytes;
  const padded = align4(rows * bytes) - rows * bytes;
  const last = new Uint8Array(tail + padded);
  last.set(new Uint8Array(page, 0, tail));
  if (last.length > 0) yield last;
}

/** A column filled from one field of a raw row in a single-pass scan. */
export interface ScanColumn extends Omit<ColumnSpec, 'values'> {
  /** The row's value for this column: index into the statement's selected fields, mapped to a number. */
  value: (row: unknown[]) => number | null;
}

/**
 * Every column of a response filled in ONE pass over the rows of a raw statement, straight into the
 * encoded body: the server holds exactly the bytes it sends (≈ 10 B per patch), never row objects, and
 * the statement is finished before the response starts streaming, so nothing stays open on the
 * connection the scoring job writes on.
 */
export function scanColumns(
  rowsIter: Iterable<unknown[]>,
  rows: number,
  specs: ScanColumn[],
): { header: ColumnHeader[]; body: Uint8Array; bodyBytes: number } {
  const { columns, bodyBytes } = columnsHeader(
    rows,
    specs.map((s) => ({ ...s, values: () => [] })),
    {},
  );
  const body = new Uint8Array(bodyBytes);
  const view = new DataView(body.buffer);
  const codes = specs.map(coder);
  const offsets = columns.map((c) => c.offset);
  const widths = specs.map((s) => BYTES[s.type]);
  let r = 0;
  for (const row of rowsIter) {
    if (r >= rows)
      throw new Error(
        `the scan yields more than the ${rows} rows counted before it; the data changed while it was read`,
      );
    for (let k = 0; k < specs.length; k++)
      writeCode(view, specs[k].type, offsets[k] + r * widths[k], codes[k](specs[k].value(row)));
    r++;
  }
  if (r !== rows)
    throw new Error(
      `the scan yields ${r} rows, ${rows} were counted before it; the data changed while it was read`,
    );
  return { header: columns, body, bodyBytes };
}

const SEND_CHUNK = 1 << 20;

/** The run's patches in idx order, as raw arrays of the named SQL columns, read by one statement. */
function runRows(db: DatabaseHandle, runId: number, sqlColumns: string[]): Iterable<unknown[]> {
  return db.sqlite
    .prepare(`select ${sqlColumns.join(', ')} from patches where run_id = ? order by idx`)
    .raw(true)
    .iterate(runId) as Iterable<unknown[]>;
}

/** The whole envelope as one iterable of chunks (what the routes stream and the tests decode). */
export function* encodeColumns(
  rows: number,
  specs: ColumnSpec[],
  meta: Record<string, unknown>,
): Generator<Uint8Array> {
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

const axesQuery = z.object({
  x: decimalInt(1, PC_COUNT).default(1),
  y: decimalInt(1, PC_COUNT).default(2),
});
const tileParam = idParam.extend({
  taskId: taskIdText,
});
const asOfQuery = z.object({ asOf: decimalId.optional() });
const neighbourQuery = z.object({ k: decimalInt(1, 50).default(6) });

function requireRun(db: DatabaseHandle, id: number): AnalysisRun {
  const run = getRun(db, id);
  if (!run) throw notFound(`analysis run ${id}`, 'GET /api/runs lists the stored runs');
  return run;
}

/** Rows of a run, counted on the primary-key index (no table reads). */
function runCount(db: DatabaseHandle, runId: number): number {
  return (db.sqlite.prepare('select count(*) as n from patches where run_id = ?').get(runId) as { n: number })
    .n;
}

/**
 * The run's positions on two components in ONE pass: raw values into two float arrays (8 B per patch,
 * dropped once quantised) while their ranges are tracked, then quantised into the 4 B-per-patch body.
 */
export function scanRunPositions(db: DatabaseHandle, runId: number, x: number, y: number) {
  const n = runCount(db, runId);
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  const lo = [Infinity, Infinity];
  const hi = [-Infinity, -Infinity];
  let r = 0;
  for (const row of runRows(db, runId, [`pc${x}`, `pc${y}`])) {
    if (r >= n)
      throw new Error(
        `run ${runId} yields more than the ${n} patches counted before the scan; the data changed while it was read`,
      );
    for (let k = 0; k < 2; k++) {
      const v = row[k] as number | null;
      const out = k === 0 ? xs : ys;
      if (v === null) {
        out[r] = Number.NaN;
        continue;
      }
      out[r] = v;
      if (v < lo[k]) lo[k] = v;
      if (v > hi[k]) hi[k] = v;
    }
    r++;
  }
  if (r !== n)
    throw new Error(
      `run ${runId} yields ${r} patches, ${n} were counted before the scan; the data changed while it was read`,
    );
  const specs: ScanColumn[] = [0, 1].map((k) => ({
    name: k === 0 ? 'x' : 'y',
    type: 'uint16' as const,
    min: Number.isFinite(lo[k]) ? lo[k] : 0,
    max: Number.isFinite(hi[k]) ? hi[k] : 0,
    value: () => null,
  }));
  const { body } = scanColumns(
    (function* () {
      for (let i = 0; i < n; i++)
        yield [Number.isNaN(xs[i]) ? null : xs[i], Number.isNaN(ys[i]) ? null : ys[i]];
    })(),
    n,
    specs.map((s, k) => ({ ...s, value: (row: unknown[]) => row[k] as number | null })),
  );
  return { n, specs, body };
}

/**
 * A run's attribute columns in ONE pass over its patches, written straight as codes: fixed-range
 * scores quantised on the fly, group and split numbered as first seen and renumbered in sorted order
 * afterwards, tile x / y kept raw (8 B per patch) until the pass has found their origin. Stats that
 * used to take their own scans (tile origin, zoom, largest cluster, idx contiguity) fall out of it.
 */
export function scanRunAttributes(db: DatabaseHandle, run: AnalysisRun) {
  const n = runCount(db, run.id);
  const FIXED = 8;
  const fixed: ScanColumn[] = [
    { name: 'iou', type: 'uint8', min: 0, max: 1, value: () => null },
    { name: 'iouHat', type: 'uint8', min: 0, max: 1, value: () => null },
    { name: 'novelty', type: 'uint8', min: 0, max: 100, value: () => null },
    { name: 'cluster', type: 'uint8', value: () => null },
    { name: 'group', type: 'uint8', value: () => null },
    { name: 'split', type: 'uint8', value: () => null },
    { name: 'tileX', type: 'uint16', value: () => null },
    { name: 'tileY', type: 'uint16', value: () => null },
  ];
  const layout = columnsHeader(
    n,
    fixed.map((s) => ({ ...s, values: () => [] })),
    {},
  );
  const col = (k: number) => layout.columns[k];
  let body = new Uint8Array(layout.bodyBytes);
  const score = (k: number) => body.subarray(col(k).offset, col(k).offset + n);
  const [iou, iouHat, novelty, cluster, group, split] = [0, 1, 2, 3, 4, 5].map(score);
  const quantise = (v: unknown, max: number) =>
    v === null || v === undefined || !Number.isFinite(v as number)
      ? 255
      : Math.round(Math.min(1, Math.max(0, (v as number) / max)) * 254);
  const groupsSeen = new Map<string, number>();
  const splitsSeen = new Map<string, number>();
  const numberOf = (seen: Map<string, number>, v: unknown) => {
    if (v === null || v === undefined) return 255;
    let i = seen.get(v as string);
    if (i === undefined) seen.set(v as string, (i = seen.size));
    return i;
  };
  const xs = new Int32Array(n);
  const ys = new Int32Array(n);
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity,
    zoom: number | null = null,
    maxCluster = -1;
  let idx: Uint32Array | null = null;
  let r = 0;
  for (const row of runRows(db, run.id, [
    'iou',
    'iou_hat',
    'novelty',
    'cluster',
    'group_name',
    'split',
    'x',
    'y',
    'idx',
    'z',
  ])) {
    if (r >= n)
      throw new Error(
        `run ${run.id} yields more than the ${n} patches counted before the scan; the data changed while it was read`,
      );
    iou[r] = quantise(row[0], 1);
    iouHat[r] = quantise(row[1], 1);
    novelty[r] = quantise(row[2], 100);
    const c = row[3] as number | null;
    cluster[r] = c === null || c < 0 || c > 254 ? 255 : c;
    if (c !== null && c > maxCluster) maxCluster = c;
    group[r] = numberOf(groupsSeen, row[4]);
    split[r] = numberOf(splitsSeen, row[5]);
    const x = row[6] as number | null;
    const y = row[7] as number | null;
    xs[r] = x ?? -1;
    ys[r] = y ?? -1;
    if (x !== null && y !== null) {
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    const z = row[9] as number | null;
    if (z !== null && (zoom === null || z > zoom)) zoom = z;
    const i = row[8] as number;
    // Point i is patch idx i when the run's idx run 0..n−1 (they do for every run the analysis writes).
    if (idx === null && i !== r) {
      idx = new Uint32Array(n);
      for (let k = 0; k < r; k++) idx[k] = k;
    }
    if (idx) idx[r] = i;
    r++;
  }
  if (r !== n)
    throw new Error(
      `run ${run.id} yields ${r} patches, ${n} were counted before the scan; the data changed while it was read`,
    );
  if (groupsSeen.size > 255 || splitsSeen.size > 255) {
    throw new ApiError(
      422,
      'too-many-categories',
      `run ${run.id} has ${groupsSeen.size} districts and ${splitsSeen.size} splits`,
      'the latent view colours at most 255 of each',
    );
  }
  const sortedCategories = (seen: Map<string, number>, codes: Uint8Array) => {
    const names = [...seen.keys()].sort();
    const lut = new Uint8Array(256).fill(255);
    names.forEach((name, k) => (lut[seen.get(name)!] = k));
    for (let k = 0; k < n; k++) codes[k] = lut[codes[k]];
    return names;
  };
  const groups = sortedCategories(groupsSeen, group);
  const splits = sortedCategories(splitsSeen, split);

  const tileOrigin = Number.isFinite(minX) && Number.isFinite(minY) ? { z: zoom, x: minX, y: minY } : null;
  if (tileOrigin && (maxX - minX >= 65535 || maxY - minY >= 65535)) {
    throw new ApiError(
      422,
      'area-too-wide',
      `run ${run.id}'s patches span more than 65,535 tiles across`,
      'the latent view cannot place them on the map',
    );
  }
  const view = new DataView(body.buffer);
  for (const [k, raw, origin] of [
    [6, xs, tileOrigin?.x ?? 0],
    [7, ys, tileOrigin?.y ?? 0],
  ] as const) {
    const at = col(k).offset;
    for (let i = 0; i < n; i++)
      view.setUint16(at + 2 * i, raw[i] < 0 || !tileOrigin ? 65535 : raw[i] - origin, true);
  }

  const urbanised = new Set(run.urbanised.clusters);
  const clusterCount = Math.max(run.kmeans.chosenK, maxCluster + 1);
  const specs: ScanColumn[] = fixed.map((s) => ({ ...s }));
  specs[3].categories = Array.from({ length: clusterCount }, (_, i) =>
    urbanised.has(i) ? `cluster ${i} (urbanised)` : `cluster ${i}`,
  );
  specs[4].categories = groups;
  specs[5].categories = splits;
  if (idx) {
    specs.push({ name: 'idx', type: 'uint32', value: () => null });
    const full = columnsHeader(
      n,
      specs.map((s) => ({ ...s, values: () => [] })),
      {},
    );
    const grown = new Uint8Array(full.bodyBytes);
    grown.set(body);
    const at = full.columns[FIXED].offset;
    const dv = new DataView(grown.buffer);
    for (let i = 0; i < n; i++) dv.setUint32(at + 4 * i, idx[i], true);
    body = grown;
  }
  return {
    n,
    specs,
    body,
    meta: {
      runId: run.id,
      idxContiguous: idx === null,
      tileOrigin,
      urbanisedClusters: [...urbanised],
      urbanisedReason: run.urbanised.reason,
    },
  };
}

/**
 * Encoded run columns kept on disk beside the database (`<data dir>/cache/latent/`): a run never changes
 * under its id, so the second open of a million-patch run skips SQLite altogether. The key carries the
 * row count as well, so a run whose patches were edited by hand is not answered from a stale file.
 */
function runColumnsCache(db: DatabaseHandle) {
  const file = db.sqlite.name;
  const dir =
    file && file !== ':memory:' && !db.sqlite.memory ? join(dirname(file), 'cache', 'latent') : null;
  return {
    read(key: string): Uint8Array | null {
      if (!dir) return null;
      try {
        return readFileSync(join(dir, `${key}.bin`));
      } catch {
        return null;
      }
    },
    write(key: string, parts: Uint8Array[]) {
      if (!dir) return;
      try {
        mkdirSync(dir, { recursive: true });
        const tmp = join(dir, `${key}.${process.pid}.tmp`);
        writeFileSync(tmp, Buffer.concat(parts));
        renameSync(tmp, join(dir, `${key}.bin`));
      } catch {
        // A read-only data dir only costs the next request a rescan.
      }
    },
  };
}

function sendEnvelope(c: Context, envelope: Uint8Array) {
  c.header('Content-Type', 'application/octet-stream');
  c.header('Content-Length', String(envelope.length));
  c.header('X-Tilelens-Format', COLUMNS_FORMAT);
  c.header('Cache-Control', 'no-cache');
  return stream(c, async (s) => {
    for (let at = 0; at < envelope.length; at += SEND_CHUNK) {
      if (s.aborted) return;
      await s.write(envelope.subarray(at, Math.min(envelope.length, at + SEND_CHUNK)));
    }
  });
}

export function runLatentRoutes(db: DatabaseHandle): Hono {
  const cache = runColumnsCache(db);
  // Database file, run id, creation time and row count: a reused id or a second database never hits another's file.
  const keyOf = (run: AnalysisRun, what: string) =>
    `${COLUMNS_FORMAT.replace('/', '-')}-${basename(db.sqlite.name)}-run${run.id}-${run.createdAt?.getTime() ?? 0}-n${runCount(db, run.id)}-${what}`;
  const cached = (
    c: Context,
    key: string,
    build: () => { rows: number; specs: ScanColumn[]; body: Uint8Array; meta: Record<string, unknown> },
  ) => {
    const hit = cache.read(key);
    if (hit) return sendEnvelope(c, hit);
    const { rows, specs, body, meta } = build();
    const header = encodeHeader(
      columnsHeader(
        rows,
        specs.map((s) => ({ ...s, values: () => [] })),
        meta,
      ),
    );
    cache.write(key, [header, body]);
    return sendEnvelope(c, Buffer.concat([header, body]));
  };
  return new Hono()
    .get('/:id/latent', validate('param', idParam), validate('query', axesQuery), (c) => {
      const run = requireRun(db, c.req.valid('param').id);
      const { x, y } = c.req.valid('query');
      return cached(c, keyOf(run, `pc${x}-pc${y}`), () => {
        const { n, specs, body } = scanRunPositions(db, run.id, x, y);
        return {
          rows: n,
          specs,
          body,
          meta: {
            runId: run.id,
            axes: [x, y],
            explainedVarianceRatio: run.pca.explainedVarianceRatio ?? null,
          },
        };
      });
    })
    .get('/:id/latent/attributes', validate('param', idParam), (c) => {
      const run = requireRun(db, c.req.valid('param').id);
      return cached(c, keyOf(run, 'attributes'), () => {
        const { n, specs, body, meta } = scanRunAttributes(db, run);
        return { rows: n, specs, body, meta };
      });
    });
}

export function projectLatentRoutes(ctx: ScoringContext): Hono {
  // Tiles are only ever added (first write wins), so "scored at or before asOf" is a snapshot that
  // stays the same across the separate passes and requests of one view, while a job still runs.
  const scored = (projectId: number, asOf: number) =>
    and(
      eq(tileScores.projectId, projectId),
      isNotNull(tileScores.pcs),
      lte(tileScores.scoredAt, new Date(asOf)),
    );

  function tileColumn<T>(
    projectId: number,
    asOf: number,
    pick: (row: { pcs: number[] | null } & Record<string, unknown>) => T,
    map: (v: T) => number | null,
  ) {
    return function* () {
      let last: { x: number; y: number } | null = null;
      for (;;) {
        const after: SQL | undefined = last
          ? sql`(${tileScores.y} > ${last.y} or (${tileScores.y} = ${last.y} and ${tileScores.x} > ${last.x}))`
          : undefined;
        const page = ctx.db.db
          .select({
            pcs: tileScores.pcs,
            x: tileScores.x,
            y: tileScores.y,
            iouHat: tileScores.iouHat,
            novelty: tileScores.novelty,
            priority: tileScores.priority,
            buildingProb: tileScores.buildingProb,
            tier: tileScores.tier,
          })
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
      .select({
        n: sql<number>`count(*)`,
        minX: sql<number | null>`min(${tileScores.x})`,
        minY: sql<number | null>`min(${tileScores.y})`,
      })
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
    .get(
      '/:id/latent',
      validate('param', idParam),
      validate('query', axesQuery.extend(asOfQuery.shape)),
      (c) => {
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
            values: tileColumn(
              project.id,
              asOf,
              (r) => r.pcs,
              (pcs) => (pcs && pcs.length >= pc ? pcs[pc - 1] : null),
            ),
          };
        });
        return sendColumns(c, n, specs, { projectId: project.id, runId: project.runId, axes: [x, y], asOf });
      },
    )
    .get('/:id/latent/attributes', validate('param', idParam), validate('query', asOfQuery), (c) => {
      const project = requireProject(ctx, c.req.valid('param').id);
      const s = stats(project.id, c.req.valid('query').asOf);
      const asOf = s.asOf;
      const num = (k: string) =>
        tileColumn(
          project.id,
          asOf,
          (r) => r[k] as number | null,
          (v) => v,
        );
      const specs: ColumnSpec[] = [
        { name: 'iouHat', type: 'uint8', min: 0, max: 1, values: num('iouHat') },
        { name: 'novelty', type: 'uint8', min: 0, max: 100, values: num('novelty') },
        { name: 'priority', type: 'uint8', min: 0, max: 1, values: num('priority') },
        { name: 'buildingProb', type: 'uint8', min: 0, max: 1, values: num('buildingProb') },
        {
          name: 'tier',
          type: 'uint8',
          categories: [...TILE_TIERS],
          values: tileColumn(
            project.id,
            asOf,
            (r) => r.tier as string,
            (t) => TILE_TIERS.indexOf(t as never),
          ),
        },
        {
          name: 'tileX',
          type: 'uint16',
          values: tileColumn(
            project.id,
            asOf,
            (r) => r.x as number,
            (v) => v - (s.minX ?? 0),
          ),
        },
        {
          name: 'tileY',
          type: 'uint16',
          values: tileColumn(
            project.id,
            asOf,
            (r) => r.y as number,
            (v) => v - (s.minY ?? 0),
          ),
        },
      ];
      return sendColumns(c, s.n, specs, {
        projectId: project.id,
        runId: project.runId,
        tileOrigin: { z: project.zoom, x: s.minX ?? 0, y: s.minY ?? 0 },
        asOf,
      });
    })
    .get(
      '/:id/tiles/:taskId/neighbours',
      validate('param', tileParam),
      validate('query', neighbourQuery),
      (c) => {
        const { id, taskId } = c.req.valid('param');
        const { k } = c.req.valid('query');
        const project = requireProject(ctx, id);
        const row = getTileRow(ctx, project.id, taskId);
        if (!row)
          throw notFound(
            `tile ${taskId} of project ${project.id}`,
            'it lies outside the area or has not been scored yet',
          );
        if (!row.pcs)
          throw new ApiError(
            409,
            'tile-not-scored',
            `tile ${taskId} has no latent position (status ${row.status})`,
            'its imagery could not be scored',
          );
        return c.json({
          projectId: project.id,
          runId: project.runId,
          taskId,
          neighbours: nearestPatches(ctx.db, project.runId, row.pcs, k),
        });
      },
    );
}

/**
 * The k training patches nearest a point in the run's PC space, by a streamed brute-force scan with a
 * small sorted buffer: exact, O(n·k) time, O(k) memory, fast enough (~0.1 s per million) for one click.
 */
export function nearestPatches(db: DatabaseHandle, runId: number, pcs: number[], k: number) {
  const dims = Math.min(PC_COUNT, pcs.length);
  const best: Array<{ d: number; row: Record<string, unknown> }> = [];
  function* rows() {
    for (let last = -1; ;) {
      const page = db.db
        .select({
          idx: patches.idx,
          patchKey: patches.patchKey,
          iou: patches.iou,
          iouHat: patches.iouHat,
          cluster: patches.cluster,
          groupName: patches.groupName,
          pc1: patches.pc1,
          pc2: patches.pc2,
          pc3: patches.pc3,
          pc4: patches.pc4,
          pc5: patches.pc5,
          pc6: patches.pc6,
          pc7: patches.pc7,
          pc8: patches.pc8,
          pc9: patches.pc9,
        })
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
