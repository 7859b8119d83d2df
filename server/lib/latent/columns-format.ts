/**
 * "tilelens-columns/1": the compact binary columns the latent view reads, so a million training patches
 * cost the browser a few megabytes and the axes can change without refetching everything else.
 *
 *   uint32 LE  header length H
 *   H bytes    UTF-8 JSON header { format, rows, columns: [{ name, type, offset, byteLength, … }], meta, bodyBytes }
 *   columns    back to back, each starting on a 4-byte boundary, little-endian
 *
 * A quantised column (uint8 / uint16 with min and max) stores code = round((v − min) / (max − min) × (nullCode − 1)),
 * so value = min + code / (nullCode − 1) × (max − min); nullCode stands for a missing value. A categorical
 * column carries { categories } and stores the index; a raw column stores the integer itself. float32 holds
 * the value, NaN for missing.
 *
 * Pure (no Node imports): the map UI's decoder (map-ui/src/data/columns.ts) shares these types.
 */

import type { ColumnHeader, ColumnsBody, ColumnsHeader, ColumnSpec, ColumnType } from '../db/json.ts';

// The header is stored with a run (server/lib/db/json.ts declares the stored shapes); the format is its API.
export type { ColumnHeader, ColumnsBody, ColumnsHeader, ColumnSpec, ColumnType };

export const COLUMNS_FORMAT = 'tilelens-columns/1';

export const BYTES_PER_VALUE: Record<ColumnType, number> = { uint8: 1, uint16: 2, uint32: 4, float32: 4 };
export const NULL_CODE: Partial<Record<ColumnType, number>> = {
  uint8: 255,
  uint16: 65535,
  uint32: 4294967295,
};

export type ColumnArray = Uint8Array | Uint16Array | Uint32Array | Float32Array;

const ARRAY = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, float32: Float32Array } as const;

// Columns are written through typed arrays, which use the machine's byte order; the format is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error(
    'tilelens-columns/1 is little-endian and this machine is not; the latent view cannot be served',
  );
}

const align4 = (n: number) => (n + 3) & ~3;

/** The header, with offsets, for `rows` rows of these columns. */
export function layoutColumns(
  rows: number,
  specs: ColumnSpec[],
  meta: Record<string, unknown> = {},
): ColumnsHeader {
  const columns: ColumnHeader[] = [];
  let offset = 0;
  for (const s of specs) {
    const byteLength = rows * BYTES_PER_VALUE[s.type];
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

/** How a value becomes the number stored for it: a quantised code, or the value itself (index, integer, float). */
export function quantiser(spec: ColumnSpec): (v: number | null | undefined) => number {
  const nullCode = NULL_CODE[spec.type];
  if (nullCode === undefined) return (v) => (v === null || v === undefined ? Number.NaN : v);
  if (spec.min === undefined || spec.max === undefined)
    return (v) => (v === null || v === undefined || !Number.isFinite(v) ? nullCode : v);
  const min = spec.min;
  const span = spec.max - min;
  const top = nullCode - 1;
  return (v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return nullCode;
    const t = span > 0 ? (v - min) / span : 0;
    return Math.round((t < 0 ? 0 : t > 1 ? 1 : t) * top);
  };
}

/** The envelope's prefix: header length, header JSON padded with spaces so the columns start 4-byte aligned. */
export function encodeHeader(header: ColumnsHeader): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = align4(4 + json.length) - 4;
  const out = new Uint8Array(4 + padded).fill(0x20);
  new DataView(out.buffer).setUint32(0, padded, true);
  out.set(json, 4);
  return out;
}

/** Header and body as one buffer: what a route sends. */
export function envelope({ header, body }: ColumnsBody): Uint8Array {
  if (body.length !== header.bodyBytes)
    throw new Error(`a columns body of ${body.length} bytes does not match its header's ${header.bodyBytes}`);
  const prefix = encodeHeader(header);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}

/**
 * Columns written in place: one body allocated for every row, each column a typed array over it, so a
 * builder fills them in a single pass over its rows and the server holds exactly the bytes it sends.
 */
export class ColumnsWriter {
  readonly header: ColumnsHeader;
  readonly body: Uint8Array;
  private readonly arrays: ColumnArray[];
  private readonly codes: Array<(v: number | null | undefined) => number>;

  constructor(rows: number, specs: ColumnSpec[], meta: Record<string, unknown> = {}) {
    this.header = layoutColumns(rows, specs, meta);
    const buffer = new ArrayBuffer(this.header.bodyBytes);
    this.body = new Uint8Array(buffer);
    this.arrays = this.header.columns.map((c) => new ARRAY[c.type](buffer, c.offset, rows));
    this.codes = specs.map(quantiser);
  }

  get rows(): number {
    return this.header.rows;
  }

  /** Column k's codes, to write (or rewrite) them directly. */
  array(k: number): ColumnArray {
    return this.arrays[k];
  }

  /** Stores row's value of column k through the column's quantiser. */
  set(k: number, row: number, value: number | null | undefined): void {
    this.arrays[k][row] = this.codes[k](value);
  }

  result(): ColumnsBody {
    return { header: this.header, body: this.body };
  }
}

/**
 * One answer cut from stored columns: the named columns of each source, renamed, in order, with new
 * meta. Every source must hold the same rows.
 */
export function pickColumns(
  picks: Array<{ from: ColumnsBody; column: string; as?: string }>,
  meta: Record<string, unknown>,
): ColumnsBody {
  const rows = picks[0]?.from.header.rows ?? 0;
  const found = picks.map(({ from, column, as }) => {
    const h = from.header.columns.find((c) => c.name === column);
    if (!h) throw new Error(`stored columns hold no column '${column}'`);
    if (from.header.rows !== rows)
      throw new Error(`column '${column}' holds ${from.header.rows} rows, the others ${rows}`);
    return { h, as: as ?? column, bytes: from.body.subarray(h.offset, h.offset + h.byteLength) };
  });
  const header = layoutColumns(
    rows,
    found.map(({ h, as }) => ({ ...h, name: as })),
    meta,
  );
  const body = new Uint8Array(header.bodyBytes);
  found.forEach(({ bytes }, k) => body.set(bytes, header.columns[k].offset));
  return { header, body };
}
