import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ActivationError,
  ActivationReader,
  ActivationWriter,
} from '../../server/lib/analysis/activation-store.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tilelens-act-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeMatrix(file: string, dtype: 'float32' | 'float16', rows: number, dims: number) {
  const data = Float32Array.from({ length: rows * dims }, (_, i) => Math.sin(i) * 10);
  const w = ActivationWriter.create(file, { dims, dtype });
  for (let r = 0; r < rows; r += 7) {
    const m = Math.min(7, rows - r);
    w.append(data.subarray(r * dims, (r + m) * dims), m);
  }
  expect(w.close()).toMatchObject({ rows, dims, dtype });
  return data;
}

describe('ActivationWriter / ActivationReader', () => {
  for (const dtype of ['float32', 'float16'] as const) {
    it(`streams ${dtype} rows back in chunks and by index`, () => {
      const file = path.join(dir, `m.${dtype}`);
      const data = writeMatrix(file, dtype, 50, 6);
      const tol = dtype === 'float32' ? 0 : 10 * 2 ** -10;
      const reader = ActivationReader.open(file);
      expect([reader.rows, reader.dims]).toEqual([50, 6]);
      const starts: number[] = [];
      for (const chunk of reader.chunks(16)) {
        starts.push(chunk.start);
        for (let i = 0; i < chunk.rows * 6; i++)
          expect(Math.abs(chunk.data[i] - data[chunk.start * 6 + i])).toBeLessThanOrEqual(tol);
      }
      expect(starts).toEqual([0, 16, 32, 48]);
      const picked = reader.readRows([49, 3]);
      for (let j = 0; j < 6; j++) {
        expect(Math.abs(picked[j] - data[49 * 6 + j])).toBeLessThanOrEqual(tol);
        expect(Math.abs(picked[6 + j] - data[3 * 6 + j])).toBeLessThanOrEqual(tol);
      }
      expect(() => reader.readRows([50])).toThrow(/row 50 is outside 0..49/);
      reader.close();
    });
  }

  it('refuses NaN activations, naming the patch', () => {
    const w = ActivationWriter.create(path.join(dir, 'nan.f32'), { dims: 3 });
    w.append(new Float32Array(6), 2);
    const bad = new Float32Array([1, 2, 3, 4, NaN, 6]);
    expect(() => w.append(bad, 2)).toThrow(ActivationError);
    expect(() => w.append(bad, 2)).toThrow(/NaN activations for patch 3 .*normalisation/);
    w.close();
  });

  it('refuses a float16 store for values beyond its range', () => {
    const w = ActivationWriter.create(path.join(dir, 'big.f16'), { dims: 2, dtype: 'float16' });
    expect(() => w.append(new Float32Array([1, 1e6]), 1)).toThrow(/float32/);
    w.close();
  });

  it('detects a truncated file', () => {
    const file = path.join(dir, 'cut.f32');
    writeMatrix(file, 'float32', 10, 4);
    fs.truncateSync(file, 100);
    expect(() => ActivationReader.open(file)).toThrow(/truncated/);
  });
});
