/**
 * Decoding the server's "tilelens-columns/1" envelope (server/lib/latent/columns-format.ts, whose types
 * this shares): a length-prefixed JSON header, then typed little-endian columns on 4-byte boundaries.
 * Columns become typed-array views over the one response buffer — nothing is copied until a caller
 * dequantises.
 */
import {
  BYTES_PER_VALUE,
  COLUMNS_FORMAT,
  type ColumnHeader,
  type ColumnsHeader,
} from '../../../server/lib/latent/columns-format.ts';

export type { ColumnHeader, ColumnsHeader };

export type TypedColumn = Uint8Array | Uint16Array | Uint32Array | Float32Array;

export interface Column {
  header: ColumnHeader;
  codes: TypedColumn;
}

export interface DecodedColumns {
  header: ColumnsHeader;
  rows: number;
  meta: Record<string, unknown>;
  columns: Record<string, Column>;
  /** Bytes received, header included: what the benchmark divides by the row count. */
  byteLength: number;
}

export class ColumnsFormatError extends Error {
  override name = 'ColumnsFormatError';
}

const CTOR = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, float32: Float32Array } as const;

export function decodeColumns(buffer: ArrayBuffer): DecodedColumns {
  if (buffer.byteLength < 4) throw new ColumnsFormatError(`a columns response needs at least 4 bytes, got ${buffer.byteLength}; is the server a tilelens server?`);
  const headerLength = new DataView(buffer).getUint32(0, true);
  if (4 + headerLength > buffer.byteLength) {
    throw new ColumnsFormatError(`the header claims ${headerLength} bytes but the response holds ${buffer.byteLength}; the download was cut short — reload`);
  }
  let header: ColumnsHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, headerLength)));
  } catch (err) {
    throw new ColumnsFormatError(`the columns header is not JSON (${(err as Error).message}); the server and the app are of different versions — reload`);
  }
  if (header.format !== COLUMNS_FORMAT) {
    throw new ColumnsFormatError(`expected format ${COLUMNS_FORMAT}, got ${String(header.format)}; the server and the app are of different versions — reload`);
  }
  const body = 4 + headerLength;
  const columns: Record<string, Column> = {};
  for (const h of header.columns) {
    const Ctor = CTOR[h.type];
    if (!Ctor) throw new ColumnsFormatError(`column ${h.name} has unknown type ${h.type}`);
    if (h.byteLength !== header.rows * BYTES_PER_VALUE[h.type] || body + h.offset + h.byteLength > buffer.byteLength) {
      throw new ColumnsFormatError(`column ${h.name} does not fit the response (${buffer.byteLength} bytes); the download was cut short — reload`);
    }
    columns[h.name] = { header: h, codes: new Ctor(buffer, body + h.offset, header.rows) };
  }
  return { header, rows: header.rows, meta: header.meta ?? {}, columns, byteLength: buffer.byteLength };
}

/** The real values of a quantised column; NaN where the code is the null code. */
export function dequantise(column: Column): Float32Array {
  const { codes, header } = column;
  const out = new Float32Array(codes.length);
  if (header.type === 'float32') {
    out.set(codes);
    return out;
  }
  const nullCode = header.nullCode ?? Number.NaN;
  if (header.min === undefined || header.max === undefined) {
    for (let i = 0; i < codes.length; i++) out[i] = codes[i] === nullCode ? Number.NaN : codes[i];
    return out;
  }
  const min = header.min;
  const step = (header.max - min) / (nullCode - 1);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] === nullCode ? Number.NaN : min + codes[i] * step;
  return out;
}

/** The value of one row (NaN for null), without dequantising the whole column. */
export function valueAt(column: Column, i: number): number {
  const { codes, header } = column;
  const c = codes[i];
  if (header.type === 'float32') return c;
  if (c === header.nullCode) return Number.NaN;
  if (header.min === undefined || header.max === undefined) return c;
  return header.min + (c * (header.max - header.min)) / (header.nullCode! - 1);
}

/** The category name of one row, or null. */
export function categoryAt(column: Column, i: number): string | null {
  const c = column.codes[i];
  if (c === column.header.nullCode) return null;
  return column.header.categories?.[c] ?? null;
}

export async function fetchColumns(url: string, init?: RequestInit): Promise<DecodedColumns> {
  const res = await fetch(url, init);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      /* the status line is all there is */
    }
    throw new ColumnsFormatError(`${url}: ${message}`);
  }
  return decodeColumns(await res.arrayBuffer());
}
