import { describe, expect, it } from 'vitest';
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
  type LatentData,
} from '../../map-ui/src/data/latent-data.ts';
import { decodedColumns } from '../fixtures/columns.ts';
import { tileCentre } from '../../server/lib/geo/tiles.ts';

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
  const attrs = decodedColumns(4, [
    { name: 'iou', type: 'uint8', min: 0, max: 1, values: [0.1, 0.9, null, 0.5] },
    { name: 'iouHat', type: 'uint8', min: 0, max: 1, values: [0.2, 0.8, 0.8, 0.5] },
    { name: 'cluster', type: 'uint8', categories: ['c0', 'c1'], values: [0, 1, 1, 0] },
    { name: 'tileX', type: 'uint16', values: [0, 1, 0, 1] },
    { name: 'tileY', type: 'uint16', values: [0, 0, 1, 1] },
  ]);
  const pattrs = decodedColumns(1, [
    { name: 'iouHat', type: 'uint8', min: 0, max: 1, values: [0.3] },
    { name: 'tileX', type: 'uint16', values: [0] },
    { name: 'tileY', type: 'uint16', values: [0] },
  ]);
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
