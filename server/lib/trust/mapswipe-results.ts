/**
 * MapSwipe's aggregated results per task, as MapSwipe publishes them for a Find (Build Area) project:
 * `agg_results_<project>.csv(.gz)` and its twin `agg_results_<project>_geom.geojson(.gz)`.
 *
 * Layout (python-mapswipe-workers, generate_stats/project_stats.py): pandas writes one row per task with
 *   idx, project_id, group_id, task_id, 0_count, 1_count, 2_count, 3_count, total_count,
 *   0_share, 1_share, 2_share, 3_share, agreement, quadkey, geom (WKT of the task's square)
 * where for Find 0 = no, 1 = yes, 2 = maybe, 3 = bad imagery, total_count is their sum, each share a count
 * over total_count and agreement Scott's π. Columns are read by name, so their order and extra columns
 * do not matter. The CSV may end with a '#' line on data usage; the GeoJSON (made from the CSV by ogr2ogr)
 * holds the same columns as feature properties, numbers cast to floats (quadkey too), the task square as
 * geometry, and may carry a top-level "metadata" member.
 *
 * Parsing checks everything that can be checked without the project; the project's own checks (task
 * ids it holds, the MapSwipe project id named) are in project-trust.ts. Any failure refuses the whole
 * file with the reasons, so nothing of a bad file is ever stored.
 */
import { gunzipSync } from 'node:zlib';
import { parseCsv } from '../datasets/manifest.ts';
import { parseTaskId, tileBounds, tileToQuadkey } from '../geo/tiles.ts';
import { TrustError } from './errors.ts';

export type AnswerLabel = 'building' | 'no_building' | 'bad_imagery';

export interface ResultRow {
  taskId: string;
  z: number;
  x: number;
  y: number;
  projectId: string;
  groupId: string | null;
  no: number;
  yes: number;
  maybe: number;
  bad: number;
  total: number;
  agreement: number | null;
  label: AnswerLabel;
}

export interface ParsedResults {
  format: 'csv' | 'geojson';
  /** The MapSwipe project id every row names. */
  projectId: string;
  rows: ResultRow[];
}

export const REQUIRED_COLUMNS = [
  'project_id',
  'task_id',
  '0_count',
  '1_count',
  '2_count',
  '3_count',
  'total_count',
  '0_share',
  '1_share',
  '2_share',
  '3_share',
] as const;

/**
 * The rule that turns a task's answers into a label. Bad-imagery answers are never counted as "no":
 * a tile most volunteers could not see (bad > the other answers together) is kept apart as bad imagery;
 * otherwise it holds a building when yes + maybe make at least half of the remaining answers — a tie
 * counts as a building, because a building missed costs more than a tile looked at twice.
 */
export function labelFromCounts(c: { no: number; yes: number; maybe: number; bad: number }): AnswerLabel {
  const seen = c.no + c.yes + c.maybe;
  if (seen === 0 || c.bad > seen) return 'bad_imagery';
  return c.yes + c.maybe >= seen / 2 ? 'building' : 'no_building';
}

export const LABEL_RULE =
  'bad imagery when bad-imagery answers outnumber all others together; otherwise a building when yes + maybe ≥ ½ of the yes, maybe and no answers';

/** Share tolerances: MapSwipe writes full precision; other tools may round shares to 2 decimals. */
const SHARE_TOLERANCE = 0.006;
const SUM_TOLERANCE = 0.011;
const MAX_REASONS = 5;

export interface ParseOptions {
  /** Refuse an upload larger than this many bytes (compressed as sent). */
  maxBytes: number;
  /** 'auto' looks at the first character. */
  format?: 'csv' | 'geojson' | 'auto';
}

/** Bytes as sent → text: gunzips (bounded) when the upload is gzip. */
export function uploadText(body: Uint8Array, maxBytes: number): string {
  if (body.byteLength > maxBytes) throw tooLarge(body.byteLength, maxBytes);
  if (body[0] === 0x1f && body[1] === 0x8b) {
    try {
      // A small gzip can expand enormously: the text is bounded too.
      return gunzipSync(body, { maxOutputLength: 4 * maxBytes }).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw tooLarge(4 * maxBytes + 1, 4 * maxBytes);
      throw refused([`the file looks gzip-compressed but does not decompress (${(err as Error).message})`]);
    }
  }
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

function tooLarge(size: number, max: number): TrustError {
  return new TrustError(
    'upload-too-large',
    `the upload is ${size.toLocaleString('en')} bytes (or expands past that), over the ${max.toLocaleString('en')} this server accepts`,
    'send the gzip-compressed file (.csv.gz / .geojson.gz), or raise --max-upload-bytes',
  );
}

export function refused(reasons: string[], more = 0): TrustError {
  const extra = more > 0 ? ` (and ${more} more)` : '';
  return new TrustError(
    'results-refused',
    `the MapSwipe results were refused, nothing was stored: ${reasons.join('; ')}${extra}`,
    'export the aggregated results of the right MapSwipe project again (agg_results_<project>.csv or _geom.geojson) and upload that file unchanged',
  );
}

export function parseMapswipeResults(body: Uint8Array | string, options: ParseOptions): ParsedResults {
  if (typeof body === 'string' && Buffer.byteLength(body) > options.maxBytes) {
    throw tooLarge(Buffer.byteLength(body), options.maxBytes);
  }
  const content = typeof body === 'string' ? body : uploadText(body, options.maxBytes);
  const trimmed = content.replace(/^\uFEFF/, '').trimStart();
  const format =
    options.format && options.format !== 'auto'
      ? options.format
      : trimmed.startsWith('{')
        ? 'geojson'
        : 'csv';
  const records = format === 'geojson' ? geojsonRecords(trimmed) : csvRecords(trimmed);
  return checkRecords(records, format);
}

interface RawRecord {
  /** 1-based line (CSV) or feature index. */
  where: string;
  get(column: string): unknown;
  has(column: string): boolean;
  /** Lon/lat ring of the task's square, when the file has one. */
  ring(): number[][] | null;
}

function checkRecords(
  records: { columns: string[]; rows: RawRecord[] },
  format: 'csv' | 'geojson',
): ParsedResults {
  const missing = REQUIRED_COLUMNS.filter((c) => !records.columns.includes(c));
  if (missing.length > 0) {
    throw refused([
      `missing column(s) ${missing.join(', ')}; MapSwipe's aggregated results have ${REQUIRED_COLUMNS.join(', ')} (plus idx, group_id, agreement, quadkey and the geometry)`,
    ]);
  }
  if (records.rows.length === 0) throw refused(['the file holds no task']);
  const reasons: string[] = [];
  let more = 0;
  const fail = (r: RawRecord, msg: string) => {
    if (reasons.length < MAX_REASONS) reasons.push(`${r.where}: ${msg}`);
    else more++;
  };
  const seen = new Map<string, string>();
  const projectIds = new Map<string, number>();
  const rows: ResultRow[] = [];
  for (const r of records.rows) {
    const taskId = text(r.get('task_id'));
    let tile;
    try {
      tile = parseTaskId(taskId);
    } catch {
      fail(r, `task_id "${taskId}" is not a z-x-y tile id (a Find project's tasks are tiles)`);
      continue;
    }
    const canonical = `${tile.z}-${tile.x}-${tile.y}`;
    const first = seen.get(canonical);
    if (first) {
      fail(r, `task ${canonical} appears twice (first at ${first}); each task has one row`);
      continue;
    }
    seen.set(canonical, r.where);
    const projectId = text(r.get('project_id'));
    if (!projectId) fail(r, 'project_id is empty');
    projectIds.set(projectId, (projectIds.get(projectId) ?? 0) + 1);
    const counts = ['0_count', '1_count', '2_count', '3_count', 'total_count'].map((c) => count(r.get(c)));
    const badCount = counts.findIndex((v) => v === null || v < 0);
    if (badCount >= 0) {
      const col = ['0_count', '1_count', '2_count', '3_count', 'total_count'][badCount];
      fail(r, `${col} = ${JSON.stringify(r.get(col))}; counts are whole numbers ≥ 0`);
      continue;
    }
    const [no, yes, maybe, bad, total] = counts as number[];
    if (no + yes + maybe + bad !== total) {
      fail(r, `counts ${no} + ${yes} + ${maybe} + ${bad} do not add up to total_count ${total}`);
      continue;
    }
    if (total === 0) {
      fail(r, 'total_count is 0: MapSwipe lists only tasks someone answered');
      continue;
    }
    const shares = ['0_share', '1_share', '2_share', '3_share'].map((c) => num(r.get(c)));
    const sum = shares.reduce<number>((s, v) => s + (v ?? NaN), 0);
    if (shares.some((v) => v === null || v < 0 || v > 1) || Math.abs(sum - 1) > SUM_TOLERANCE) {
      fail(r, `shares ${shares.map((v) => (v === null ? '?' : v)).join(' + ')} do not add up to 1`);
      continue;
    }
    const mismatch = [no, yes, maybe, bad].findIndex(
      (c, i) => Math.abs((shares[i] as number) - c / total) > SHARE_TOLERANCE,
    );
    if (mismatch >= 0) {
      fail(
        r,
        `${mismatch}_share = ${shares[mismatch]} but ${mismatch}_count / total_count = ${([no, yes, maybe, bad][mismatch] / total).toFixed(4)}`,
      );
      continue;
    }
    const agreement = r.has('agreement') ? num(r.get('agreement')) : null;
    if (
      r.has('agreement') &&
      text(r.get('agreement')) !== '' &&
      (agreement === null || agreement < 0 || agreement > 1)
    ) {
      fail(r, `agreement = ${JSON.stringify(r.get('agreement'))}; it is Scott's π of the answers, 0..1`);
      continue;
    }
    // ogr2ogr casts the quadkey to a float in the GeoJSON; only a string quadkey can be compared.
    const qk = r.get('quadkey');
    if (typeof qk === 'string' && /^[0-3]+$/.test(qk) && qk !== tileToQuadkey(tile.z, tile.x, tile.y)) {
      fail(r, `quadkey ${qk} is not the quadkey of task ${canonical}`);
      continue;
    }
    const ring = r.ring();
    if (ring && !ringInTile(ring, tile.z, tile.x, tile.y)) {
      fail(r, `the geometry does not lie on tile ${canonical}`);
      continue;
    }
    const groupId = text(r.get('group_id')) || null;
    const c = { no, yes, maybe, bad };
    rows.push({
      taskId: canonical,
      ...tile,
      projectId,
      groupId,
      ...c,
      total,
      agreement,
      label: labelFromCounts(c),
    });
  }
  if (projectIds.size > 1) {
    const list = [...projectIds].map(([id, n]) => `${id || '(empty)'} (${n} rows)`).join(', ');
    reasons.unshift(`the file mixes MapSwipe projects ${list}; upload one project's results at a time`);
  }
  if (reasons.length > 0) throw refused(reasons, more);
  return { format, projectId: [...projectIds.keys()][0], rows };
}

function text(v: unknown): string {
  return v === null || v === undefined ? '' : String(v).trim();
}

function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  const s = text(v);
  if (s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** Whole numbers, written as "2" or (pandas / ogr2ogr floats) "2.0" / 2.0. */
function count(v: unknown): number | null {
  const n = num(v);
  return n !== null && Number.isInteger(n) ? n : null;
}

/** The ring's mean point lies inside the tile (the geometry is the task's square, as MapSwipe writes it). */
function ringInTile(ring: number[][], z: number, x: number, y: number): boolean {
  if (ring.length === 0) return true;
  let lon = 0;
  let lat = 0;
  for (const p of ring) {
    lon += p[0];
    lat += p[1];
  }
  lon /= ring.length;
  lat /= ring.length;
  const [w, s, e, n] = tileBounds(z, x, y);
  return lon >= w && lon <= e && lat >= s && lat <= n;
}

function csvRecords(text: string): { columns: string[]; rows: RawRecord[] } {
  // Some exports end with a '#' line on data usage; no field of the results starts a line with '#'.
  const table = parseCsv(text.replace(/^#.*$/gm, ''));
  if (table.length === 0) throw refused(['the file is empty']);
  const columns = table[0].map((c) => c.trim());
  const index = new Map(columns.map((c, i) => [c, i]));
  // pandas writes the unnamed index as "" or "idx"; the geometry is "geom" (WKT).
  const geomAt = index.get('geom') ?? index.get('geometry');
  const rows: RawRecord[] = table.slice(1).map((cells, k) => {
    const where = `line ${k + 2}`;
    return {
      where,
      get: (c) => {
        const i = index.get(c);
        return i === undefined ? undefined : cells[i];
      },
      has: (c) => index.has(c),
      ring: () => (geomAt === undefined || !cells[geomAt] ? null : wktRing(cells[geomAt], where)),
    };
  });
  const ragged = table.findIndex((r, i) => i > 0 && r.length !== columns.length);
  if (ragged > 0)
    throw refused([`line ${ragged + 1} has ${table[ragged].length} fields, the header ${columns.length}`]);
  return { columns, rows };
}

function wktRing(wkt: string, where: string): number[][] {
  const m = /^\s*(?:MULTI)?POLYGON\s*(?:Z\s*)?\(+([^()]*)\)/i.exec(wkt);
  if (!m) throw refused([`${where}: geom "${wkt.slice(0, 40)}…" is not a WKT polygon`]);
  return m[1].split(',').map((p) => p.trim().split(/\s+/).map(Number));
}

function geojsonRecords(text: string): { columns: string[]; rows: RawRecord[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw refused([`the GeoJSON does not parse (${(err as Error).message})`]);
  }
  const fc = doc as { type?: unknown; features?: unknown };
  if (fc?.type !== 'FeatureCollection' || !Array.isArray(fc.features)) {
    throw refused(['the GeoJSON is not a FeatureCollection of tasks']);
  }
  const features = fc.features as Array<{
    properties?: Record<string, unknown>;
    geometry?: { type?: string; coordinates?: unknown };
  }>;
  // ogr2ogr drops empty values per feature, so the columns are those any feature has.
  const columns = new Set<string>();
  for (const f of features) for (const k of Object.keys(f?.properties ?? {})) columns.add(k);
  const rows: RawRecord[] = features.map((f, i) => {
    const props = f?.properties ?? {};
    return {
      where: `feature ${i + 1}`,
      get: (c) => props[c],
      has: (c) => c in props,
      ring: () => {
        const g = f?.geometry;
        if (!g) return null;
        if (g.type === 'Polygon') return ((g.coordinates as number[][][]) ?? [])[0] ?? [];
        if (g.type === 'MultiPolygon') return ((g.coordinates as number[][][][]) ?? [])[0]?.[0] ?? [];
        throw refused([`feature ${i + 1}: geometry is a ${String(g.type)}, not the task's square`]);
      },
    };
  });
  return { columns: [...columns], rows };
}
