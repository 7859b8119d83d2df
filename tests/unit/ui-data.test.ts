import { describe, expect, it } from 'vitest';
import {
  ColumnsFormatError,
  decodeColumns,
  dequantise,
  valueAt,
  categoryAt,
} from '../../map-ui/src/data/columns.ts';
import { encodeColumns, type ColumnSpec } from '../../server/routes/latent.ts';
import {
  binColours,
  binOf,
  colourOf,
  hexToRgb,
  IOU_SCALE,
  rgbToHex,
  sampleScale,
} from '../../map-ui/src/data/colour.ts';
import {
  convexHull,
  domainOf,
  encodePoints,
  pointInPolygon,
  pointsInMapRing,
  surfaceGrid,
  tileCentre,
  type LatentData,
} from '../../map-ui/src/data/latent-data.ts';

function envelope(rows: number, specs: ColumnSpec[], meta: Record<string, unknown> = {}): ArrayBuffer {
  const chunks = [...encodeColumns(rows, specs, meta)];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out.buffer;
}

describe('binary columns', () => {
  const specs: ColumnSpec[] = [
    { name: 'x', type: 'uint16', min: -2, max: 6, values: () => [-2, 0, 6, null, 1.5] },
    { name: 'iou', type: 'uint8', min: 0, max: 1, values: () => [0, 0.5, 1, null, 0.25] },
    { name: 'split', type: 'uint8', categories: ['train', 'val'], values: () => [0, 1, 1, null, 0] },
    { name: 'f', type: 'float32', values: () => [1.5, Number.NaN, -3, 0, 2] },
  ];

  it('decodes what the server encodes: quantised values within one step, nulls as NaN, categories by name', () => {
    const d = decodeColumns(envelope(5, specs, { runId: 3 }));
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

  it('costs 4 bytes per point for a pair of axes', () => {
    const n = 10_000;
    const pos: ColumnSpec[] = ['x', 'y'].map((name) => ({
      name,
      type: 'uint16',
      min: 0,
      max: 1,
      values: function* () {
        for (let i = 0; i < n; i++) yield i / n;
      },
    }));
    const bytes = envelope(n, pos).byteLength;
    expect(bytes / n).toBeLessThan(4.1);
  });

  it('refuses a cut-short or foreign response with a message that says what to do', () => {
    const buf = envelope(5, specs);
    expect(() => decodeColumns(buf.slice(0, buf.byteLength - 8))).toThrow(/cut short/);
    expect(() => decodeColumns(new Uint8Array([1, 0, 0, 0, 123]).buffer)).toThrow(ColumnsFormatError);
    expect(() => [...encodeColumns(3, [{ name: 'x', type: 'uint8', values: () => [1, 2] }], {})]).toThrow(
      /announced 3/,
    );
  });
});

describe('colour scales', () => {
  it('interpolates between stops and clamps outside the domain', () => {
    expect(rgbToHex(sampleScale(IOU_SCALE, 0))).toBe(IOU_SCALE.stops[0]);
    expect(rgbToHex(sampleScale(IOU_SCALE, 1))).toBe(IOU_SCALE.stops[IOU_SCALE.stops.length - 1]);
    expect(colourOf(IOU_SCALE, 7)).toEqual(sampleScale(IOU_SCALE, 1));
    expect(hexToRgb('#0f0')).toEqual([0, 255, 0]);
    expect(() => hexToRgb('#12')).toThrow(/not #rgb/);
  });
  it('bins values onto n colours, NaN to −1', () => {
    expect(binColours(IOU_SCALE, 32)).toHaveLength(32);
    expect(binOf(IOU_SCALE, 0, 32)).toBe(0);
    expect(binOf(IOU_SCALE, 1, 32)).toBe(31);
    expect(binOf(IOU_SCALE, 0.5, 32)).toBe(16);
    expect(binOf(IOU_SCALE, Number.NaN, 32)).toBe(-1);
  });
});

function fakeLatent(): LatentData {
  // Four training patches on tiles (18, 100..101, 200..201), one new tile.
  const attrs = decodeColumns(
    envelope(4, [
      { name: 'iou', type: 'uint8', min: 0, max: 1, values: () => [0.1, 0.9, null, 0.5] },
      { name: 'iouHat', type: 'uint8', min: 0, max: 1, values: () => [0.2, 0.8, 0.8, 0.5] },
      { name: 'cluster', type: 'uint8', categories: ['c0', 'c1'], values: () => [0, 1, 1, 0] },
      { name: 'tileX', type: 'uint16', values: () => [0, 1, 0, 1] },
      { name: 'tileY', type: 'uint16', values: () => [0, 0, 1, 1] },
    ]),
  );
  const pattrs = decodeColumns(
    envelope(1, [
      { name: 'iouHat', type: 'uint8', min: 0, max: 1, values: () => [0.3] },
      { name: 'tileX', type: 'uint16', values: () => [0] },
      { name: 'tileY', type: 'uint16', values: () => [0] },
    ]),
  );
  return {
    runId: 1,
    axes: [1, 2],
    training: {
      n: 4,
      x: Float32Array.from([0, 1, 0, 1]),
      y: Float32Array.from([0, 0, 1, 1]),
      attributes: attrs,
      tileOrigin: { z: 18, x: 100, y: 200 },
    },
    project: {
      n: 1,
      x: Float32Array.from([0.5]),
      y: Float32Array.from([0.5]),
      attributes: pattrs,
      tileOrigin: { z: 18, x: 500, y: 200 },
    },
    xDomain: domainOf([Float32Array.from([0, 1])]),
    yDomain: domainOf([Float32Array.from([0, 1])]),
    bytes: { positions: 0, attributes: 0 },
  };
}

describe('latent view data', () => {
  it('codes points into a palette: null IoU grey, new tiles without IoU in their own colour, larger', () => {
    const d = fakeLatent();
    const e = encodePoints(d, 'iou');
    expect(e.x).toHaveLength(5);
    expect(e.palette[e.valueA[2]]).toBe('#9a9a9a');
    expect(e.valueA[4]).toBe(e.palette.length - 1);
    expect(Array.from(e.valueB)).toEqual([0, 0, 0, 0, 1]);
    expect(Math.max(...e.x)).toBeLessThanOrEqual(1);
    const byCluster = encodePoints(d, 'cluster');
    expect(byCluster.legend.kind).toBe('categorical');
    expect(Array.from(byCluster.valueA.slice(0, 4))).toEqual([0, 1, 1, 0]);
    // Smoothed IoU is known for new tiles too, so they share the scale.
    const byHat = encodePoints(d, 'iouHat');
    expect(byHat.valueA[4]).toBeLessThan(32);
  });

  it('fades the surface where no training data lies', () => {
    const g = surfaceGrid(fakeLatent(), 16, 16);
    const supported = Array.from(g.support).filter((s) => s > 0).length;
    expect(supported).toBeGreaterThan(0);
    expect(supported).toBeLessThan(16 * 16);
    expect(Math.max(...g.support)).toBeCloseTo(1);
  });

  it('hulls, polygons and map rings select the right points', () => {
    const hull = convexHull([
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
      [0.5, 0.5],
    ]);
    expect(hull).toHaveLength(4);
    expect(pointInPolygon(0.5, 0.5, hull)).toBe(true);
    expect(pointInPolygon(1.5, 0.5, hull)).toBe(false);
    const d = fakeLatent();
    const [lon, lat] = tileCentre(18, 100, 200);
    const ring: Array<[number, number]> = [
      [lon - 1e-4, lat - 1e-4],
      [lon + 1e-4, lat - 1e-4],
      [lon + 1e-4, lat + 1e-4],
      [lon - 1e-4, lat + 1e-4],
    ];
    expect(pointsInMapRing(d, ring)).toEqual({ patches: [0], tiles: [] });
    const [plon, plat] = tileCentre(18, 500, 200);
    expect(
      pointsInMapRing(d, [
        [plon - 1e-4, plat - 1e-4],
        [plon + 1e-4, plat - 1e-4],
        [plon, plat + 1e-4],
      ]),
    ).toEqual({ patches: [], tiles: ['18-500-200'] });
  });
});
