import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  AreaError,
  checkProjectArea,
  MAX_AREA_POLYGONS,
  MAX_AREA_VERTICES,
  maxAreaKm2,
  parseProjectArea,
} from '../../server/lib/projects/area.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/areas/in/${name}.geojson`, import.meta.url), 'utf8'));
const square = (lon: number, lat: number, d: number) => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + d, lat],
      [lon + d, lat + d],
      [lon, lat + d],
      [lon, lat],
    ],
  ],
});

function refusal(input: unknown, options = {}): AreaError {
  try {
    parseProjectArea(input, options);
  } catch (e) {
    expect(e).toBeInstanceOf(AreaError);
    return e as AreaError;
  }
  throw new Error('expected the area to be refused');
}

describe('parseProjectArea', () => {
  it('accepts Polygon, MultiPolygon, Feature and FeatureCollection, as objects or JSON text', () => {
    expect(parseProjectArea(fixture('hole')).polygons).toHaveLength(1);
    expect(parseProjectArea(fixture('triangle')).polygons).toHaveLength(1);
    expect(parseProjectArea(fixture('multipolygon')).polygons).toHaveLength(2);
    const text = readFileSync(new URL('../fixtures/areas/in/rectangle.geojson', import.meta.url), 'utf8');
    const a = parseProjectArea(text);
    expect(a.polygons).toHaveLength(1);
    expect(a.bbox[0]).toBeCloseTo(32.58, 6);
    expect(a.bbox[2]).toBeGreaterThan(a.bbox[0]);
    expect(a.zoom).toBe(18);
  });

  it('measures area and estimates the tile count from the ground size of a tile', () => {
    // 3x2 z18 tiles near the equator: each ~153 m square.
    const a = parseProjectArea(fixture('tile-aligned'));
    expect(a.areaKm2).toBeCloseTo(6 * 0.1529 ** 2, 2);
    expect(a.tileCountEstimate).toBe(6);
  });

  it('follows MapSwipe: 5,120 km² at z18, four times less per zoom level in', () => {
    expect(maxAreaKm2(18)).toBe(5120);
    expect(maxAreaKm2(19)).toBe(1280);
    expect(maxAreaKm2(22)).toBe(20);
    // 0.7° square at the equator ≈ 6,000 km²: too large at z18, fine at z17.
    const big = square(30, 0, 0.7);
    const err = refusal(big);
    expect(err.reason).toBe('too-large');
    expect(err.message).toMatch(/5,120 km² at zoom 18/);
    expect(err.message).toMatch(/Split/);
    expect(parseProjectArea(big, { zoom: 17 }).areaKm2).toBeGreaterThan(5120);
    // 0.3° ≈ 1,110 km²: fine at z18, too large at z19.
    expect(refusal(square(30, 0, 0.35), { zoom: 19 }).reason).toBe('too-large');
  });

  it('refuses what is not GeoJSON or not a polygon', () => {
    expect(refusal('{not json').reason).toBe('not-geojson');
    expect(refusal(42).reason).toBe('not-geojson');
    expect(refusal({ features: [] }).reason).toBe('not-geojson');
    const line = refusal({
      type: 'Feature',
      properties: {},
      geometry: {
        type: 'LineString',
        coordinates: [
          [0, 0],
          [1, 1],
        ],
      },
    });
    expect(line.reason).toBe('wrong-geometry-type');
    expect(line.message).toMatch(/LineString/);
    expect(refusal({ type: 'Point', coordinates: [0, 0] }).reason).toBe('wrong-geometry-type');
  });

  it('refuses empty areas', () => {
    expect(refusal({ type: 'FeatureCollection', features: [] }).reason).toBe('empty');
    expect(refusal({ type: 'Feature', properties: {}, geometry: null }).reason).toBe('empty');
    expect(refusal({ type: 'Polygon', coordinates: [] }).reason).toBe('empty');
    // A ring that folds onto itself has no surface.
    expect(
      refusal({
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [2, 0],
            [0, 0],
          ],
        ],
      }).reason,
    ).toBe('empty');
  });

  it("takes any number of polygons up to the project's limit (MapSwipe's 20 belong to its export)", () => {
    const parts = Array.from({ length: 60 }, (_, i) => square(30 + i * 0.01, 0, 0.005).coordinates);
    expect(parseProjectArea({ type: 'MultiPolygon', coordinates: parts }).polygons).toHaveLength(60);
    const many = Array.from(
      { length: MAX_AREA_POLYGONS + 1 },
      (_, i) => square(30 + (i % 100) * 0.001, (i / 100) * 0.001, 0.0005).coordinates,
    );
    const err = refusal({ type: 'MultiPolygon', coordinates: many });
    expect(err.reason).toBe('too-many-polygons');
    expect(err.message).toMatch(/10,001 polygons; a project takes at most 10,000/);
  });

  it('refuses an area with more vertices than the limit, before checking its edges', () => {
    const n = MAX_AREA_VERTICES + 1;
    const ring = Array.from({ length: n - 1 }, (_, i) => [
      30 + 0.01 * Math.cos((2 * Math.PI * i) / (n - 1)),
      0.01 * Math.sin((2 * Math.PI * i) / (n - 1)),
    ]);
    const err = refusal({ type: 'Polygon', coordinates: [[...ring, ring[0]]] });
    expect(err.reason).toBe('too-many-vertices');
    expect(err.message).toMatch(/100,001 vertices; a project takes at most 100,000\. Simplify/);
  });

  it('refuses collinear and one-spot polygons anywhere on the globe, alone or beside a good one', () => {
    // Three points on one straight line, away from the equator: the sphere's formula finds km² here.
    const diagonal = JSON.parse(
      readFileSync(new URL('../fixtures/areas/refused/collinear.geojson', import.meta.url), 'utf8'),
    );
    const err = refusal(diagonal);
    expect(err.reason).toBe('empty');
    expect(err.message).toMatch(/polygon 0 has no surface/);
    const spot = {
      type: 'Polygon',
      coordinates: [
        [
          [10, 50],
          [10, 50],
          [10, 50],
          [10, 50],
        ],
      ],
    };
    expect(refusal(spot).reason).toBe('empty');
    const mixed = {
      type: 'MultiPolygon',
      coordinates: [square(33, -13, 0.01).coordinates, diagonal.coordinates],
    };
    expect(refusal(mixed).message).toMatch(/polygon 1 has no surface/);
  });

  it('checks a 100,000-vertex boundary, and hands the thread back while it does', async () => {
    const n = MAX_AREA_VERTICES - 1;
    const ring = Array.from({ length: n - 1 }, (_, i) => [
      33.7 + 0.05 * Math.cos((2 * Math.PI * i) / (n - 1)),
      -13.9 + 0.05 * Math.sin((2 * Math.PI * i) / (n - 1)),
    ]);
    const circle = { type: 'Polygon', coordinates: [[...ring, ring[0]]] };
    let turns = 0;
    let counting = true;
    const tick = () => {
      if (!counting) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const area = await checkProjectArea(circle);
    counting = false;
    expect(area.polygons[0].coordinates[0]).toHaveLength(n);
    expect(turns).toBeGreaterThan(1);
    // One vertex pushed across the far side of the circle makes it cross itself.
    const crossed = [...ring];
    crossed[10] = [33.7 - 0.06, -13.9];
    const err = refusal({ type: 'Polygon', coordinates: [[...crossed, crossed[0]]] });
    expect(err.reason).toBe('self-intersection');
  });

  it('names the ring and the point where a ring crosses itself', () => {
    const bowtie = {
      type: 'Polygon',
      coordinates: [
        [
          [0, 0],
          [1, 1],
          [1, 0],
          [0, 1],
          [0, 0],
        ],
      ],
    };
    const err = refusal({
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: {}, geometry: square(5, 5, 0.01) },
        { type: 'Feature', properties: {}, geometry: bowtie },
      ],
    });
    expect(err.reason).toBe('self-intersection');
    expect(err.message).toMatch(/polygon 1, ring 0 \(outer\)/);
    expect(err.message).toMatch(/\[0\.500000, 0\.500000\]/);
    const holeOut = {
      type: 'Polygon',
      coordinates: [
        square(0, 0, 1).coordinates[0],
        [
          [0.5, 0.5],
          [1.5, 0.5],
          [1.5, 0.6],
          [0.5, 0.6],
          [0.5, 0.5],
        ],
      ],
    };
    expect(refusal(holeOut).message).toMatch(/ring 0 and ring 1 cross/);
  });

  it('refuses invalid coordinates with what to do', () => {
    const utm = refusal(square(450000, 30000, 1000));
    expect(utm.reason).toBe('invalid-coordinates');
    expect(utm.message).toMatch(/reproject/);
    expect(
      refusal({
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 1],
          ],
        ],
      }).message,
    ).toMatch(/not closed/);
    expect(
      refusal({
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [0, 0],
          ],
        ],
      }).message,
    ).toMatch(/fewer than 4/);
    expect(
      refusal({
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 'a'],
            [1, 1],
            [0, 0],
          ],
        ],
      }).reason,
    ).toBe('invalid-coordinates');
    expect(refusal(square(0, 86, 1)).message).toMatch(/latitude/);
    expect(refusal(square(0, 0, 0.01), { zoom: 23 }).reason).toBe('invalid-zoom');
  });
});
