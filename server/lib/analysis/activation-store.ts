/**
 * An on-disk matrix of pooled activations, one row per patch. The raw file holds little-endian float32 or float16
 * values row after row; a JSON sidecar (`<path>.json`) says how to read it. Readers stream it in chunks so that
 * no stage ever holds a whole region's activations in memory.
 */
import fs from 'node:fs';
import { decodeHalf, encodeHalf } from './float16.ts';
import { TilelensError } from '../errors.ts';

export type ActivationDtype = 'float32' | 'float16';

export interface ActivationHeader {
  format: 'tilelens-activations';
  version: 1;
  dims: number;
  dtype: ActivationDtype;
  rows: number;
}

export class ActivationError extends TilelensError {
  override name = 'ActivationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('activations', message, { status: 500, cause: options?.cause });
  }
}

const bytesPer = (dtype: ActivationDtype): number => (dtype === 'float16' ? 2 : 4);
export const headerPath = (path: string): string => `${path}.json`;

export class ActivationWriter {
  private fd: number | null;
  private rowsWritten = 0;
  private scratch: Uint16Array = new Uint16Array(0);
  private pending = new Uint8Array(1 << 20);
  private pendingBytes = 0;

  private constructor(
    readonly path: string,
    readonly dims: number,
    readonly dtype: ActivationDtype,
  ) {
    this.fd = fs.openSync(path, 'w');
  }

  static create(path: string, options: { dims: number; dtype?: ActivationDtype }): ActivationWriter {
    const dtype = options.dtype ?? 'float32';
    if (!Number.isInteger(options.dims) || options.dims <= 0) {
      throw new ActivationError(
        `ActivationWriter.create(${path}): dims must be a positive integer, got ${options.dims}`,
      );
    }
    if (dtype !== 'float32' && dtype !== 'float16') {
      throw new ActivationError(
        `ActivationWriter.create(${path}): dtype "${dtype}" is not supported; use float32 or float16`,
      );
    }
    return new ActivationWriter(path, options.dims, dtype);
  }

  get rows(): number {
    return this.rowsWritten;
  }

  append(rows: Float32Array, nRows: number = rows.length / this.dims): void {
    if (this.fd === null)
      throw new ActivationError(`ActivationWriter(${this.path}): already closed; create a new writer`);
    const d = this.dims;
    if (!Number.isInteger(nRows) || rows.length < nRows * d) {
      throw new ActivationError(
        `ActivationWriter(${this.path}): append got ${rows.length} values for ${nRows} rows of ${d} dims; ` +
          `pass pooled activations of exactly ${d} values per patch`,
      );
    }
    const count = nRows * d;
    for (let i = 0; i < count; i++) {
      if (!Number.isFinite(rows[i])) {
        const row = this.rowsWritten + Math.floor(i / d);
        throw new ActivationError(
          `the model produced ${rows[i]} activations for patch ${row} (dimension ${i % d}); ` +
            'check input normalisation and the model file, then rerun the analysis from that patch',
        );
      }
    }
    let bytes: Uint8Array;
    if (this.dtype === 'float16') {
      if (this.scratch.length < count) this.scratch = new Uint16Array(count);
      encodeHalf(rows, this.scratch, count);
      bytes = new Uint8Array(this.scratch.buffer, 0, count * 2);
      for (let i = 0; i < count; i++) {
        // Values past ±65504 become Infinity in float16; refuse rather than store a row PCA cannot use.
        if ((this.scratch[i] & 0x7c00) === 0x7c00) {
          throw new ActivationError(
            `patch ${this.rowsWritten + Math.floor(i / d)} has activation ${rows[i]} beyond float16's range (±65504); ` +
              "store this model's activations as float32",
          );
        }
      }
    } else {
      bytes = new Uint8Array(rows.buffer, rows.byteOffset, count * 4);
    }
    // Callers often append one patch at a time; batching into ~1 MiB writes keeps that from being a syscall per row.
    if (this.pendingBytes + bytes.length > this.pending.length) this.flush();
    if (bytes.length >= this.pending.length) this.writeAll(bytes);
    else {
      this.pending.set(bytes, this.pendingBytes);
      this.pendingBytes += bytes.length;
    }
    this.rowsWritten += nRows;
  }

  private writeAll(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(this.fd!, bytes, off, bytes.length - off);
  }

  private flush(): void {
    if (this.pendingBytes > 0) this.writeAll(this.pending.subarray(0, this.pendingBytes));
    this.pendingBytes = 0;
  }

  close(): ActivationHeader {
    if (this.fd === null) throw new ActivationError(`ActivationWriter(${this.path}): already closed`);
    this.flush();
    fs.closeSync(this.fd);
    this.fd = null;
    const header: ActivationHeader = {
      format: 'tilelens-activations',
      version: 1,
      dims: this.dims,
      dtype: this.dtype,
      rows: this.rowsWritten,
    };
    fs.writeFileSync(headerPath(this.path), JSON.stringify(header));
    return header;
  }
}

export class ActivationReader {
  private constructor(
    readonly path: string,
    readonly header: ActivationHeader,
    private fd: number | null,
  ) {}

  static open(path: string): ActivationReader {
    let header: ActivationHeader;
    try {
      header = JSON.parse(fs.readFileSync(headerPath(path), 'utf8'));
    } catch (err) {
      throw new ActivationError(
        `ActivationReader.open(${path}): cannot read header ${headerPath(path)} (${(err as Error).message}); ` +
          'the writer writes it on close(), so the capture may not have finished',
      );
    }
    if (header.format !== 'tilelens-activations' || header.version !== 1) {
      throw new ActivationError(
        `ActivationReader.open(${path}): ${headerPath(path)} is not a tilelens activation header`,
      );
    }
    const expected = header.rows * header.dims * bytesPer(header.dtype);
    const size = fs.statSync(path).size;
    if (size !== expected) {
      throw new ActivationError(
        `ActivationReader.open(${path}): header says ${header.rows}×${header.dims} ${header.dtype} ` +
          `(${expected} bytes) but the file has ${size} bytes; the file is truncated or from another capture — recapture it`,
      );
    }
    return new ActivationReader(path, header, fs.openSync(path, 'r'));
  }

  get rows(): number {
    return this.header.rows;
  }

  get dims(): number {
    return this.header.dims;
  }

  get dtype(): ActivationDtype {
    return this.header.dtype;
  }

  private handle(): number {
    if (this.fd === null) throw new ActivationError(`ActivationReader(${this.path}): closed; open it again`);
    return this.fd;
  }

  private readInto(raw: Uint8Array, byteOffset: number): void {
    let got = 0;
    while (got < raw.length) {
      const n = fs.readSync(this.handle(), raw, got, raw.length - got, byteOffset + got);
      if (n === 0)
        throw new ActivationError(
          `ActivationReader(${this.path}): unexpected end of file at byte ${byteOffset + got}`,
        );
      got += n;
    }
  }

  private decode(raw: Uint8Array, values: number): Float32Array {
    if (this.dtype === 'float32')
      return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + values * 4));
    const out = new Float32Array(values);
    decodeHalf(new Uint16Array(raw.buffer, raw.byteOffset, values), out, values);
    return out;
  }

  /** Consecutive row blocks; each yielded chunk is a fresh array (safe to keep), the read buffer is reused. */
  *chunks(rowsPerChunk = 4096): Generator<{ start: number; rows: number; data: Float32Array }> {
    if (!Number.isInteger(rowsPerChunk) || rowsPerChunk <= 0) {
      throw new ActivationError(
        `ActivationReader.chunks: rowsPerChunk must be a positive integer, got ${rowsPerChunk}`,
      );
    }
    const rowBytes = this.dims * bytesPer(this.dtype);
    const raw = new Uint8Array(Math.min(rowsPerChunk, Math.max(this.rows, 1)) * rowBytes);
    for (let start = 0; start < this.rows; start += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, this.rows - start);
      const view = raw.subarray(0, rows * rowBytes);
      this.readInto(view, start * rowBytes);
      yield { start, rows, data: this.decode(view, rows * this.dims) };
    }
  }

  /** Random access, e.g. for a sample; indices are read in the order given. */
  readRows(indices: ArrayLike<number>): Float32Array {
    const d = this.dims;
    const rowBytes = d * bytesPer(this.dtype);
    const out = new Float32Array(indices.length * d);
    const raw = new Uint8Array(rowBytes);
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i];
      if (!Number.isInteger(r) || r < 0 || r >= this.rows) {
        throw new ActivationError(`ActivationReader.readRows: row ${r} is outside 0..${this.rows - 1}`);
      }
      this.readInto(raw, r * rowBytes);
      out.set(this.decode(raw, d), i * d);
    }
    return out;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
