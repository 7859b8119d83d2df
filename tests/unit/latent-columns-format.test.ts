/**
 * The "tilelens-columns/1" envelope: what the server writes (server/lib/latent/columns-format.ts) the
 * map UI decodes (map-ui/src/data/columns.ts) back to the values, within one quantisation step.
 */
import { describe, expect, it } from 'vitest';
import { envelope, layoutColumns, pickColumns, quantiser } from '../../server/lib/latent/columns-format.ts';
import {
  categoryAt,
  ColumnsFormatError,
  decodeColumns,
  dequantise,
  valueAt,
} from '../../map-ui/src/data/columns.ts';
import { envelopeBuffer, writtenColumns } from '../fixtures/columns.ts';

const specs = [
  { name: 'x', type: 'uint16' as const, min: -2, max: 6, values: [-2, 0, 6, null, 1.5] },
  { name: 'iou', type: 'uint8' as const, min: 0, max: 1, values: [0, 0.5, 1, null, 0.25] },
  { name: 'split', type: 'uint8' as const, categories: ['train', 'val'], values: [0, 1, 1, null, 0] },
  { name: 'f', type: 'float32' as const, values: [1.5, Number.NaN, -3, 0, 2] },
];

describe('binary columns', () => {
  it('decodes what the server writes: quantised values within one step, nulls as NaN, categories by name', () => {
    const d = decodeColumns(envelopeBuffer(writtenColumns(5, specs, { runId: 3 })));
    expect(d.rows).toBe(5);
    expect(d.meta.runId).toBe(3);
    const x = dequantise(d.columns.x);
    expect(x[0]).toBeCloseTo(-2, 3);
    expect(x[2]).toBeCloseTo(6, 3);
    expect(x[4]).toBeCloseTo(1.5, 3);
    expect(Number.isNaN(x[3])).toBe(true);
    expect(Math.abs(valueAt(d.columns.iou, 1) - 0.5)).toBeLessThanOrEqual(1 / 254);
    expect(Number.isNaN(valueAt(d.columns.iou, 3))).toBe(true);
    expect(categoryAt(d.columns.split, 1)).toBe('val');
    expect(categoryAt(d.columns.split, 3)).toBeNull();
    expect(Array.from(dequantise(d.columns.f)).map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual([
      1.5,
      'NaN',
      -3,
      0,
      2,
    ]);
    // Every column starts on a 4-byte boundary so typed arrays can view it in place.
    for (const c of Object.values(d.columns)) expect(c.codes.byteOffset % 4).toBe(0);
  });

  it('quantises once, the same way for every column: clamped to the range, a flat range to 0, null to the null code', () => {
    const q = quantiser({ name: 'v', type: 'uint8', min: 0, max: 100 });
    expect([q(0), q(50), q(100), q(-5), q(250), q(null), q(Number.NaN)]).toEqual([
      0, 127, 254, 0, 254, 255, 255,
    ]);
    expect(quantiser({ name: 'v', type: 'uint16', min: 3, max: 3 })(3)).toBe(0);
    expect(quantiser({ name: 'c', type: 'uint8', categories: ['a'] })(0)).toBe(0);
    expect(quantiser({ name: 'c', type: 'uint8' })(null)).toBe(255);
  });

  it('costs 4 bytes per point for a pair of axes', () => {
    const n = 10_000;
    const ramp = Array.from({ length: n }, (_, i) => i / n);
    const pos = ['x', 'y'].map((name) => ({ name, type: 'uint16' as const, min: 0, max: 1, values: ramp }));
    expect(envelope(writtenColumns(n, pos)).byteLength / n).toBeLessThan(4.1);
  });

  it('cuts an answer from stored columns byte for byte, renamed, with its own meta', () => {
    const a = writtenColumns(5, specs);
    const b = writtenColumns(5, [
      { name: 'pc3', type: 'uint16', min: 0, max: 1, values: [0, 0.25, 0.5, 0.75, 1] },
    ]);
    const picked = pickColumns(
      [
        { from: b, column: 'pc3', as: 'x' },
        { from: a, column: 'split', as: 'y' },
      ],
      { axes: [3, 9] },
    );
    const d = decodeColumns(envelopeBuffer(picked));
    expect(Object.keys(d.columns)).toEqual(['x', 'y']);
    expect(Array.from(d.columns.x.codes)).toEqual([0, 16384, 32767, 49151, 65534]);
    expect(categoryAt(d.columns.y, 2)).toBe('val');
    expect(d.meta).toEqual({ axes: [3, 9] });
    expect(() => pickColumns([{ from: a, column: 'nope' }], {})).toThrow(/no column 'nope'/);
  });

  it('refuses a cut-short or foreign response, and a body that does not match its header', () => {
    const buf = envelopeBuffer(writtenColumns(5, specs));
    expect(() => decodeColumns(buf.slice(0, buf.byteLength - 8))).toThrow(/cut short/);
    expect(() => decodeColumns(new Uint8Array([1, 0, 0, 0, 123]).buffer)).toThrow(ColumnsFormatError);
    expect(() => envelope({ header: layoutColumns(3, specs), body: new Uint8Array(4) })).toThrow(
      /does not match/,
    );
  });
});
