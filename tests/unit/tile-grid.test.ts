import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { area as turfArea, intersect, featureCollection, feature } from '@turf/turf';
import type { Feature, FeatureCollection, Polygon } from 'geojson';
import { parseProjectArea } from '../../server/lib/projects/area.ts';
import {
  countTiles,
  rowSpans,
  tileRecord,
  tilesCoveringArea,
  tilesInRange,
} from '../../server/lib/projects/tile-grid.ts';
import { tileFootprint, tilesCoveringBBox } from '../../server/lib/geo/tiles.ts';
import { golden } from '../fixtures/golden.ts';

const dir = new URL('../fixtures/areas/', import.meta.url);
const names = readdirSync(new URL('in/', dir))
  .filter((f) => f.endsWith('.geojson'))
  .map((f) => f.replace(/\.geojson$/, ''));
const ZOOM = 18;

function gridOut(name: string): FeatureCollection {
  const area = parseProjectArea(readFileSync(new URL(`in/${name}.geojson`, dir), 'utf8'));
  const tiles: Feature[] = [...tilesCoveringArea(area, ZOOM)].map(({ z, x, y }) => {
    const r = tileRecord(z, x, y);
    return {
      type: 'Feature',
      properties: { task_id: r.taskId, quadkey: r.quadkey, z, x, y },
      geometry: r.footprint,
    };
  });
  const areaFeatures: Feature[] = area.polygons.map((geometry) => ({
    type: 'Feature',
    properties: { role: 'area', stroke: '#e41a1c', 'fill-opacity': 0 },
    geometry,
  }));
  return { type: 'FeatureCollection', features: [...tiles, ...areaFeatures] };
}

describe('tilesCoveringArea golden fixtures (tests/fixtures/areas/in → out; REGEN=1 rewrites)', () => {
  it('has fixtures', () => expect(names.length).toBeGreaterThanOrEqual(5));
  for (const name of names) {
    it(name, async () => {
      const out = gridOut(name);
      await golden(new URL(`out/${name}.z${ZOOM}.geojson`, dir), out);
    });
  }
});

describe('tilesCoveringArea', () => {
  it('matches a brute-force polygon intersection over the bbox, excluding touch-only tiles', () => {
    for (const name of names) {
      const area = parseProjectArea(readFileSync(new URL(`in/${name}.geojson`, dir), 'utf8'));
      const got = new Set([...tilesCoveringArea(area, ZOOM)].map((t) => `${t.x}/${t.y}`));
      const r = tilesCoveringBBox(area.bbox, ZOOM);
      const want = new Set<string>();
      for (let y = r.minY - 1; y <= r.maxY + 1; y++) {
        for (let x = r.minX - 1; x <= r.maxX + 1; x++) {
          const tile = feature(tileFootprint(ZOOM, x, y));
          const shared = area.polygons.reduce((sum, p) => {
            const i = intersect(featureCollection([tile, feature(p)]));
            return sum + (i ? turfArea(i) : 0);
          }, 0);
          if (shared > 0.01) want.add(`${x}/${y}`); // m²; below this is a floating-point sliver of a touching edge
        }
      }
      expect([...got].sort(), name).toEqual([...want].sort());
    }
  });

  it('takes exactly the tiles of an area drawn along tile edges', () => {
    const area = parseProjectArea(readFileSync(new URL('in/tile-aligned.geojson', dir), 'utf8'));
    expect([...tilesCoveringArea(area, ZOOM)].map((t) => `${t.x}/${t.y}`)).toEqual([
      '154915/130840',
      '154916/130840',
      '154917/130840',
      '154915/130841',
      '154916/130841',
      '154917/130841',
    ]);
  });

  it('streams: a 5,000 km² area yields tiles without building them all, and countTiles agrees', () => {
    const side = 0.63; // ≈ 70 km at the equator
    const big: Polygon = {
      type: 'Polygon',
      coordinates: [
        [
          [30, 0],
          [30 + side, 0],
          [30 + side, side],
          [30, side],
          [30, 0],
        ],
      ],
    };
    const area = parseProjectArea(big);
    expect(area.areaKm2).toBeGreaterThan(4800);
    expect(area.areaKm2).toBeLessThan(5120);
    const t0 = performance.now();
    const n = countTiles(area, ZOOM);
    const ms = performance.now() - t0;
    expect(n).toBeGreaterThan(200_000);
    expect(Math.abs(n - area.tileCountEstimate) / n).toBeLessThan(0.01);
    expect(ms).toBeLessThan(2000);
    const it = tilesCoveringArea(area, ZOOM);
    const first = it.next().value!;
    expect(first.z).toBe(ZOOM);
    let rows = 0;
    for (const row of rowSpans(area, ZOOM)) rows += row.spans.length;
    expect(rows).toBeGreaterThan(400);
  });

  it('builds MapSwipe tile records', () => {
    const r = tileRecord(18, 154915, 130840);
    expect(r.taskId).toBe('18-154915-130840');
    expect(r.quadkey).toHaveLength(18);
    expect(r.footprint.type).toBe('Polygon');
    expect(r.footprint.coordinates[0]).toHaveLength(5);
  });
});

describe('tilesInRange', () => {
  it('gives exactly the slice of the grid order, for every fixture and chunk size, the ranges covering it once', () => {
    for (const name of names) {
      const area = parseProjectArea(readFileSync(new URL(`in/${name}.geojson`, dir), 'utf8'));
      const all = [...tilesCoveringArea(area, ZOOM)].map((t) => `${t.x}/${t.y}`);
      for (const size of [1, 7, 64, all.length + 3]) {
        const joined: string[] = [];
        for (let start = 0; start < all.length; start += size) {
          const end = Math.min(all.length, start + size);
          const got = [...tilesInRange(area, ZOOM, start, end)].map((t) => `${t.x}/${t.y}`);
          expect(got, `${name}, ${start}…${end}`).toEqual(all.slice(start, end));
          joined.push(...got);
        }
        expect(joined).toEqual(all);
      }
      expect([...tilesInRange(area, ZOOM, all.length, all.length + 10)]).toEqual([]);
    }
  });

  it('refuses a range that is not one', () => {
    const area = parseProjectArea(readFileSync(new URL(`in/${names[0]}.geojson`, dir), 'utf8'));
    expect(() => [...tilesInRange(area, ZOOM, 5, 2)]).toThrow(/0 ≤ start ≤ end/);
    expect(() => [...tilesInRange(area, ZOOM, -1, 2)]).toThrow(/0 ≤ start ≤ end/);
  });
});
