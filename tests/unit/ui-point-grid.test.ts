/**
 * The latent view's brush index (map-ui/src/data/point-grid.ts): every brush selects exactly the points a
 * test of every point against the polygon selects.
 */
import { describe, expect, it } from 'vitest';
import { buildPointGrid, insideRing, pointsInRing } from '../../map-ui/src/data/point-grid.ts';
import { pointInPolygon } from '../../map-ui/src/data/latent-data.ts';

function random(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

/** Clustered points (two blobs and a sparse halo), a few NaN, many on a coarse lattice so some lie on edges. */
function points(n: number, seed = 1) {
  const rnd = random(seed);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const k = rnd();
    if (k < 0.01) {
      x[i] = Number.NaN;
      y[i] = 0;
    } else if (k < 0.3) {
      x[i] = Math.round(rnd() * 40) / 20 - 1;
      y[i] = Math.round(rnd() * 40) / 20 - 1;
    } else {
      const c = k < 0.65 ? -0.4 : 0.5;
      x[i] = c + (rnd() - 0.5) * 0.6 * (1 + rnd());
      y[i] = c * 0.5 + (rnd() - 0.5) * 0.5;
    }
  }
  return { x, y };
}

const sorted = (a: Uint32Array) => Array.from(a.slice().sort());

function brute(x: Float32Array, y: Float32Array, ring: number[]): number[] {
  const pairs: Array<[number, number]> = [];
  for (let v = 0; v < ring.length; v += 2) pairs.push([ring[v], ring[v + 1]]);
  const out: number[] = [];
  for (let i = 0; i < x.length; i++)
    if (Number.isFinite(x[i]) && pointInPolygon(x[i], y[i], pairs)) out.push(i);
  return out;
}

describe('point grid', () => {
  const { x, y } = points(40_000);
  const grid = buildPointGrid(x, y);

  it('files every finite point in exactly one cell', () => {
    expect(grid.order.length).toBe(Array.from(x).filter(Number.isFinite).length);
    expect(new Set(grid.order).size).toBe(grid.order.length);
    expect(grid.start[grid.start.length - 1]).toBe(grid.order.length);
  });

  const rings: Record<string, number[]> = {
    rectangle: [-0.5, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, 0.5],
    'rectangle on lattice lines': [-0.5, -0.45, 0.55, -0.45, 0.55, 0.3, -0.5, 0.3],
    'L shape (not convex)': [-0.9, -0.9, 0.1, -0.9, 0.1, 0.0, 0.9, 0.0, 0.9, 0.8, -0.9, 0.8],
    'self-crossing bow tie': [-0.8, -0.8, 0.8, 0.8, 0.8, -0.8, -0.8, 0.8],
    'lasso circle': Array.from({ length: 80 }, (_, k) => {
      const a = (Math.floor(k / 2) / 40) * 2 * Math.PI;
      return k % 2 === 0 ? 0.1 + 0.6 * Math.cos(a) : -0.05 + 0.6 * Math.sin(a);
    }),
    'thin sliver': [-1, -0.01, 1, 0.0, -1, 0.012],
    'beyond the data': [-5, -5, 5, -5, 5, 5, -5, 5],
    'outside the data': [3, 3, 4, 3, 4, 4],
  };
  for (const [name, ring] of Object.entries(rings)) {
    it(`selects exactly the points inside: ${name}`, () => {
      const got = sorted(pointsInRing(grid, ring));
      const want = brute(x, y, ring);
      if (name !== 'outside the data') expect(want.length).toBeGreaterThan(0);
      expect(got).toEqual(want);
    });
  }

  it('a closed ring (first vertex repeated) selects what the open one does', () => {
    const ring = rings['L shape (not convex)'];
    expect(sorted(pointsInRing(grid, [...ring, ring[0], ring[1]]))).toEqual(sorted(pointsInRing(grid, ring)));
  });

  it('copes with no points, one point and identical points', () => {
    const empty = buildPointGrid(new Float32Array(0), new Float32Array(0));
    expect(pointsInRing(empty, rings.rectangle)).toHaveLength(0);
    const same = buildPointGrid(new Float32Array(5).fill(0.25), new Float32Array(5).fill(0.25));
    expect(sorted(pointsInRing(same, rings.rectangle))).toEqual([0, 1, 2, 3, 4]);
    expect(insideRing(0.25, 0.25, rings.rectangle)).toBe(true);
  });
});
