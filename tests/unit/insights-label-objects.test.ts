/**
 * Label errors per object on synthetic patches with a known answer: the model sees the true buildings (high
 * probability inside them, low outside), the label is the truth with one kind of error planted.
 */
import { describe, expect, it } from 'vitest';
import { findAreaOffset } from '../../server/lib/insights/area-offset.ts';
import {
  DEFAULT_LABEL_OBJECT_OPTIONS,
  findLabelObjects,
  labelObjectOptionsAtScale,
} from '../../server/lib/insights/label-objects.ts';
import { patchLabelObjects } from '../../server/lib/insights/patch-objects.ts';
import { metresPerPixel, tileBounds } from '../../server/lib/geo/tiles.ts';

const W = 96;
const H = 96;
type Rect = [x0: number, y0: number, w: number, h: number];
const BUILDINGS: Rect[] = [
  [8, 8, 14, 10],
  [40, 10, 12, 16],
  [70, 12, 16, 12],
  [10, 50, 18, 14],
  [48, 56, 12, 12],
  [72, 60, 14, 18],
];

function draw(rects: Rect[], shift: [number, number] = [0, 0]): Uint8Array {
  const m = new Uint8Array(W * H);
  for (const [x0, y0, w, h] of rects)
    for (let y = y0 + shift[1]; y < y0 + h + shift[1]; y++)
      for (let x = x0 + shift[0]; x < x0 + w + shift[0]; x++)
        if (x >= 0 && y >= 0 && x < W && y < H) m[y * W + x] = 1;
  return m;
}

/** What a good model says about the true buildings: sure inside, sure outside, a soft pixel at the edges. */
function probsOf(truth: Uint8Array): Float32Array {
  const p = new Float32Array(W * H);
  for (let i = 0; i < p.length; i++) p[i] = truth[i] ? 0.92 : 0.04;
  return p;
}

const tagged = (objects: ReturnType<typeof findLabelObjects>) => objects.filter((o) => o.kind !== 'ok');

describe('label objects', () => {
  const probs = probsOf(draw(BUILDINGS));

  it('finds no error where the label is the truth', () => {
    expect(tagged(findLabelObjects(probs, draw(BUILDINGS), W, H))).toEqual([]);
    const area = findAreaOffset(findLabelObjects(probs, draw(BUILDINGS), W, H), probs, draw(BUILDINGS), W, H);
    expect(area?.kind).toBe('ok');
  });

  it('tags a footprint drawn where the model sees nothing as phantom', () => {
    const label = draw([...BUILDINGS, [30, 34, 10, 8]]);
    const found = tagged(findLabelObjects(probs, label, W, H));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'phantom', from: 'label', area: 80 });
    expect(found[0].centre[0]).toBeCloseTo(35, 0);
    expect(found[0].centre[1]).toBeCloseTo(38, 0);
  });

  it('tags a building the label lacks as missing', () => {
    const label = draw(BUILDINGS.filter((_, i) => i !== 4));
    const found = tagged(findLabelObjects(probs, label, W, H));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'missing', from: 'prediction' });
    expect(found[0].centre[0]).toBeCloseTo(54, 0);
    expect(found[0].centre[1]).toBeCloseTo(62, 0);
  });

  it('tags a footprint drawn beside its building as offset, with the shift back onto it', () => {
    const moved: Rect[] = BUILDINGS.map((b, i) => (i === 3 ? [b[0] + 4, b[1] - 3, b[2], b[3]] : b));
    const found = tagged(findLabelObjects(probs, draw(moved), W, H));
    expect(found).toHaveLength(1);
    expect(found[0].kind).toBe('offset');
    expect(found[0].shift!.dx).toBeCloseTo(-4, 0);
    expect(found[0].shift!.dy).toBeCloseTo(3, 0);
  });

  it('reports a whole label moved one way once, as an area offset', () => {
    const label = draw(BUILDINGS, [3, 2]);
    const objects = findLabelObjects(probs, label, W, H);
    const area = findAreaOffset(objects, probs, label, W, H);
    expect(area).toMatchObject({ kind: 'area_offset', members: BUILDINGS.length });
    expect(area!.dx).toBeCloseTo(-3, 0);
    expect(area!.dy).toBeCloseTo(-2, 0);
    const { rows } = patchLabelObjects(0, { width: W, height: H }, probs, label, W, H);
    expect(rows.map((r) => r.kind)).toEqual(['area_offset']);
    expect(rows[0].members).toBe(BUILDINGS.length);
  });

  it('carries objects to the patch pixels, lon/lat and metres of a map tile', () => {
    const moved: Rect[] = BUILDINGS.map((b, i) => (i === 3 ? [b[0] + 4, b[1] - 3, b[2], b[3]] : b));
    // The model ran at a third of the tile's 288 px: every pixel it saw is 3 of the tile's.
    const tile = { z: 18, x: 146_000, y: 123_000 };
    const { rows } = patchLabelObjects(7, { width: 288, height: 288, tile }, probs, draw(moved), W, H);
    expect(rows).toHaveLength(1);
    const r = rows[0];
    expect(r).toMatchObject({ idx: 7, n: 0, kind: 'offset' });
    expect(r.dxPx).toBeCloseTo(-12, 0);
    expect(r.dyPx).toBeCloseTo(9, 0);
    const [w, s, e, n] = tileBounds(tile.z, tile.x, tile.y);
    const mpp = metresPerPixel((s + n) / 2, tile.z, 288);
    expect(r.eastM).toBeCloseTo(-12 * mpp, 1);
    // y runs down the image, north up the map.
    expect(r.northM).toBeCloseTo(-9 * mpp, 1);
    expect(r.outline![0]).toEqual(r.outline![r.outline!.length - 1]);
    for (const [lon, lat] of r.outline!) {
      expect(lon).toBeGreaterThanOrEqual(w);
      expect(lon).toBeLessThanOrEqual(e);
      expect(lat).toBeGreaterThanOrEqual(s);
      expect(lat).toBeLessThanOrEqual(n);
    }
  });

  it('leaves metres unknown off a map unless the pixel size is given', () => {
    const moved: Rect[] = BUILDINGS.map((b, i) => (i === 3 ? [b[0] + 4, b[1] - 3, b[2], b[3]] : b));
    const off = patchLabelObjects(0, { width: W, height: H }, probs, draw(moved), W, H).rows[0];
    expect(off).toMatchObject({ kind: 'offset', eastM: null, northM: null, outline: null, lon: null });
    const known = patchLabelObjects(0, { width: W, height: H }, probs, draw(moved), W, H, {
      metresPerPixel: 0.5,
    }).rows[0];
    expect(known.eastM).toBeCloseTo(-2, 0);
    expect(known.northM).toBeCloseTo(-1.5, 0);
  });

  it('places objects of geo-referenced imagery by its georeference, metres included', () => {
    // A UTM-like raster, 0.5 m pixels, rotated 90° (columns run north): a shift of +4 columns is 2 m north.
    const lat0 = 5.6;
    const lon0 = -0.2;
    const degPerMetre = 360 / 40075016.686;
    const place = (x: number, y: number): [number, number] => [
      lon0 + (y * 0.5 * degPerMetre) / Math.cos((lat0 * Math.PI) / 180),
      lat0 + x * 0.5 * degPerMetre,
    ];
    const moved: Rect[] = BUILDINGS.map((b, i) => (i === 3 ? [b[0] + 4, b[1] - 3, b[2], b[3]] : b));
    const rows = patchLabelObjects(0, { width: W, height: H, place }, probs, draw(moved), W, H).rows;
    expect(rows).toHaveLength(1);
    const r = rows[0];
    // The search moves the footprint back by (−4, +3) pixels: 2 m south (columns) and 1.5 m east (rows).
    expect(r.northM).toBeCloseTo(-2, 1);
    expect(r.eastM).toBeCloseTo(1.5, 1);
    expect(r.outline).not.toBeNull();
    expect(r.outline![0]).toEqual(r.outline![r.outline!.length - 1]);
    const [lon, lat] = place(r.outlinePx[0][0], r.outlinePx[0][1]);
    expect(r.outline![0][0]).toBeCloseTo(lon, 9);
    expect(r.outline![0][1]).toBeCloseTo(lat, 9);
    // The moved footprint's centre: pixel (14 + 9, 47 + 7).
    expect(r.lon).toBeCloseTo(place(23, 54)[0], 7);
    expect(r.lat).toBeCloseTo(place(23, 54)[1], 7);
  });

  it('finds the same errors, in the same ground terms, on a patch with twice the pixels', () => {
    /** Each pixel as 2 × 2: the same ground at half the metres per pixel. */
    const twice = <T extends Uint8Array | Float32Array>(a: T): T => {
      const out = new (a.constructor as new (n: number) => T)(a.length * 4);
      for (let y = 0; y < 2 * H; y++)
        for (let x = 0; x < 2 * W; x++) out[y * 2 * W + x] = a[(y >> 1) * W + (x >> 1)];
      return out;
    };
    expect(labelObjectOptionsAtScale(1)).toEqual(DEFAULT_LABEL_OBJECT_OPTIONS);
    const options = labelObjectOptionsAtScale(2);
    expect(options).toMatchObject({ maxShift: 24, minShift: 2, minPixels: 24, areaScale: 200, ringWidth: 4 });
    const moved: Rect[] = BUILDINGS.map((b, i) => (i === 3 ? [b[0] + 4, b[1] - 3, b[2], b[3]] : b));
    const label = draw([...moved, [30, 34, 10, 8] as Rect].filter((_, i) => i !== 4));
    const once = tagged(findLabelObjects(probs, label, W, H));
    const fine = tagged(findLabelObjects(twice(probs), twice(label), 2 * W, 2 * H, options));
    expect(once.map((o) => o.kind).sort()).toEqual(['missing', 'offset', 'phantom']);
    expect(fine.map((o) => o.kind).sort()).toEqual(['missing', 'offset', 'phantom']);
    for (const o of once) {
      const f = fine.find((x) => x.kind === o.kind)!;
      expect(f.area).toBe(4 * o.area);
      expect(f.score).toBeCloseTo(o.score, 1);
    }
    const shift = fine.find((o) => o.kind === 'offset')!.shift!;
    expect(shift.dx).toBeCloseTo(-8, 0);
    expect(shift.dy).toBeCloseTo(6, 0);
    // A whole label moved: the area offset, its members agreeing within 1.5 × the scaled noise floor.
    const whole = twice(draw(BUILDINGS, [3, 2]));
    const objects = findLabelObjects(twice(probs), whole, 2 * W, 2 * H, options);
    const area = findAreaOffset(objects, twice(probs), whole, 2 * W, 2 * H, options);
    expect(area).toMatchObject({ kind: 'area_offset', members: BUILDINGS.length });
    expect(area!.dx).toBeCloseTo(-6, 0);
    expect(area!.dy).toBeCloseTo(-4, 0);
    expect(() => labelObjectOptionsAtScale(0)).toThrow(/positive/);
  });

  it('refuses probabilities and a label of the wrong size', () => {
    expect(() => findLabelObjects(probs, new Uint8Array(10), W, H)).toThrow(/needs 9216/);
  });
});
