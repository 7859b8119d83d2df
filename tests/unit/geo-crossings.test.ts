import { describe, expect, it } from 'vitest';
import { runToEnd } from '../../server/lib/cooperative.ts';
import { edgesMeet, findCrossing, polygonEdges } from '../../server/lib/geo/crossings.ts';

type Ring = number[][];

/** Every pair of edges: the definition the sweep must agree with. */
function bruteForce(rings: Ring[]): boolean {
  const segs = polygonEdges(rings);
  for (let i = 0; i < segs.length; i++)
    for (let j = i + 1; j < segs.length; j++) if (edgesMeet(segs[i], segs[j])) return true;
  return false;
}

const sweep = (rings: Ring[]) => runToEnd(findCrossing(rings));

function lcg(seed: number) {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

describe('findCrossing (sweep line)', () => {
  it('finds nothing in simple rings, a square with a hole, or consecutive edges on one line', () => {
    const square = [
      [0, 0],
      [4, 0],
      [4, 4],
      [0, 4],
      [0, 0],
    ];
    const hole = [
      [1, 1],
      [2, 1],
      [2, 2],
      [1, 2],
      [1, 1],
    ];
    expect(sweep([square])).toBeNull();
    expect(sweep([square, hole])).toBeNull();
    expect(
      sweep([
        [
          [0, 0],
          [1, 0],
          [2, 0],
          [2, 2],
          [0, 2],
          [0, 0],
        ],
      ]),
    ).toBeNull();
    // A repeated point is not an edge.
    expect(
      sweep([
        [
          [0, 0],
          [1, 0],
          [1, 0],
          [1, 1],
          [0, 0],
        ],
      ]),
    ).toBeNull();
  });

  it('finds proper crossings, touches, shared vertices and edges folding back', () => {
    expect(
      sweep([
        [
          [0, 0],
          [1, 1],
          [1, 0],
          [0, 1],
          [0, 0],
        ],
      ])?.at,
    ).toEqual([0.5, 0.5]);
    // A vertex on another edge of the same ring.
    expect(
      sweep([
        [
          [0, 0],
          [4, 0],
          [4, 4],
          [2, 0],
          [0, 4],
          [0, 0],
        ],
      ]),
    ).not.toBeNull();
    // Two rings sharing a vertex (a hole touching its shell).
    const shell = [
      [0, 0],
      [4, 0],
      [4, 4],
      [0, 4],
      [0, 0],
    ];
    expect(
      sweep([
        shell,
        [
          [0, 0],
          [1, 1],
          [1, 2],
          [0, 0],
        ],
      ])?.rings,
    ).toEqual([0, 1]);
    // A spike: an edge going back along the one before.
    expect(
      sweep([
        [
          [0, 0],
          [4, 0],
          [2, 0],
          [2, 2],
          [0, 0],
        ],
      ]),
    ).not.toBeNull();
    // A vertical edge through another ring's vertex.
    expect(
      sweep([
        shell,
        [
          [2, -1],
          [2, 5],
          [3, 5],
          [2, -1],
        ],
      ]),
    ).not.toBeNull();
  });

  it('agrees with comparing every pair of edges on 20,000 random rings full of degenerate cases', () => {
    const rnd = lcg(7);
    let disagreements = 0;
    let crossing = 0;
    for (let trial = 0; trial < 20_000; trial++) {
      // Small integer grids make collinear edges, shared vertices and touches common.
      const grid = 3 + Math.floor(rnd() * 10);
      const rings: Ring[] = [];
      const nRings = 1 + Math.floor(rnd() * 3);
      for (let r = 0; r < nRings; r++) {
        const n = 3 + Math.floor(rnd() * 20);
        const cx = grid / 2 + rnd() - 0.5;
        const cy = grid / 2 + rnd() - 0.5;
        const pts = Array.from({ length: n }, () => [
          Math.floor(rnd() * (grid + 1)),
          Math.floor(rnd() * (grid + 1)),
        ]);
        // Sorted by angle the ring is usually simple; one moved vertex often breaks it.
        if (rnd() < 0.7)
          pts.sort((a, b) => Math.atan2(a[1] - cy, a[0] - cx) - Math.atan2(b[1] - cy, b[0] - cx));
        if (rnd() < 0.2) pts[Math.floor(rnd() * n)] = [Math.floor(rnd() * grid), Math.floor(rnd() * grid)];
        rings.push([...pts, pts[0]]);
      }
      const expected = bruteForce(rings);
      if (expected) crossing++;
      if ((sweep(rings) !== null) !== expected) disagreements++;
    }
    expect(disagreements).toBe(0);
    // Both outcomes were exercised many times.
    expect(crossing).toBeGreaterThan(2_000);
    expect(crossing).toBeLessThan(18_000);
  });

  it('yields while it works, so a caller can share the thread', () => {
    const n = 20_000;
    const ring = Array.from({ length: n }, (_, i) => [
      Math.cos((2 * Math.PI * i) / n),
      Math.sin((2 * Math.PI * i) / n),
    ]);
    const steps = findCrossing([[...ring, ring[0]]]);
    let yields = 0;
    for (let r = steps.next(); !r.done; r = steps.next()) yields++;
    expect(yields).toBeGreaterThan(5);
  });
});
