import { describe, expect, it } from 'vitest';
import {
  buildScale,
  colourAt,
  CONFIDENCE_SCALE,
  NOVELTY_SCALE,
  PRIORITY_SCALE,
} from '../../server/lib/overlays/colour-scales.ts';

const luminance = ([r, g, b]: number[]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

describe('colour scales', () => {
  it('end points are the first and last stops, values outside the domain are clamped', () => {
    for (const s of [PRIORITY_SCALE, CONFIDENCE_SCALE, NOVELTY_SCALE]) {
      expect(colourAt(s, s.domain[0])).toEqual(s.stops[0].rgba);
      expect(colourAt(s, s.domain[1])).toEqual(s.stops[s.stops.length - 1].rgba);
      expect(colourAt(s, s.domain[0] - 5)).toEqual(s.stops[0].rgba);
      expect(colourAt(s, s.domain[1] + 5)).toEqual(s.stops[s.stops.length - 1].rgba);
      expect(colourAt(s, Number.NaN)).toEqual(s.stops[0].rgba);
    }
  });

  it('priority: brighter and more opaque as priority rises (sequential)', () => {
    let prev = colourAt(PRIORITY_SCALE, 0);
    for (let v = 0.1; v <= 1.0001; v += 0.1) {
      const c = colourAt(PRIORITY_SCALE, v);
      expect(luminance(c)).toBeGreaterThan(luminance(prev));
      expect(c[3]).toBeGreaterThanOrEqual(prev[3]);
      prev = c;
    }
  });

  it('confidence: low confidence stands out — redder and more opaque than high', () => {
    let prev = colourAt(CONFIDENCE_SCALE, 0);
    expect(prev[0]).toBeGreaterThan(200);
    for (let v = 0.1; v <= 1.0001; v += 0.1) {
      const c = colourAt(CONFIDENCE_SCALE, v);
      expect(c[3]).toBeLessThan(prev[3]);
      prev = c;
    }
    expect(colourAt(CONFIDENCE_SCALE, 1)[2]).toBeGreaterThan(colourAt(CONFIDENCE_SCALE, 1)[0]);
  });

  it('interpolates linearly between stops', () => {
    const s = buildScale('t', [
      { value: 0, rgba: [0, 0, 0, 0] },
      { value: 10, rgba: [255, 255, 255, 255] },
    ]);
    expect(colourAt(s, 5)).toEqual([128, 128, 128, 128]);
  });

  it('refuses stops that do not increase', () => {
    expect(() =>
      buildScale('bad', [
        { value: 1, rgba: [0, 0, 0, 0] },
        { value: 1, rgba: [0, 0, 0, 0] },
      ]),
    ).toThrow(/must increase/);
  });
});
