import { describe, expect, it } from 'vitest';
import { createRng } from '../../server/lib/analysis/random.ts';
import { medoid, mmdCritic } from '../../server/lib/insights/mmd-critic.ts';

function gaussian(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** 2-D sample: mode A (n = 150) around (0, 0), mode B (n = 100) around (8, 8), one outlier at (4, −10). */
function twoModes() {
  const rng = createRng(3);
  const r = () => rng.next();
  const X: number[] = [];
  for (let i = 0; i < 150; i++) X.push(gaussian(r) * 0.7, gaussian(r) * 0.7);
  for (let i = 0; i < 100; i++) X.push(8 + gaussian(r) * 0.7, 8 + gaussian(r) * 0.7);
  X.push(4, -10);
  return { X: Float32Array.from(X), n: 251 };
}

describe('MMD-critic', () => {
  it('picks prototypes from each mode of a 2-mode sample', () => {
    const { X, n } = twoModes();
    const { prototypes } = mmdCritic(X, n, 2, { prototypes: 2, criticisms: 0 });
    const modes = prototypes.map((i) => (i < 150 ? 'A' : i < 250 ? 'B' : 'outlier'));
    expect(new Set(modes)).toEqual(new Set(['A', 'B']));
  });

  it('gives more prototypes to the larger mode and none to the outlier', () => {
    const { X, n } = twoModes();
    const { prototypes } = mmdCritic(X, n, 2, { prototypes: 5, criticisms: 0 });
    const a = prototypes.filter((i) => i < 150).length;
    const b = prototypes.filter((i) => i >= 150 && i < 250).length;
    expect(a).toBeGreaterThanOrEqual(b);
    expect(b).toBeGreaterThanOrEqual(1);
    expect(prototypes).not.toContain(250);
  });

  it('criticises the mode the prototypes leave out', () => {
    // Three equal modes, two prototypes: the criticisms must come from the mode without one.
    for (const seed of [1, 2, 3, 4, 5]) {
      const rng = createRng(seed);
      const r = () => rng.next();
      const X: number[] = [];
      for (const [cx, cy] of [
        [0, 0],
        [8, 8],
        [-8, 8],
      ])
        for (let i = 0; i < 100; i++) X.push(cx + gaussian(r) * 0.7, cy + gaussian(r) * 0.7);
      const { prototypes, criticisms, witness } = mmdCritic(Float32Array.from(X), 300, 2, {
        prototypes: 2,
        criticisms: 2,
      });
      const mode = (i: number) => Math.floor(i / 100);
      const covered = new Set(prototypes.map(mode));
      expect(covered.size).toBe(2);
      expect(criticisms).toHaveLength(2);
      for (const c of criticisms) expect(covered.has(mode(c))).toBe(false);
      expect(witness.every((w) => w > 0)).toBe(true);
    }
  });

  it('refuses a kernel too large to hold', () => {
    expect(() => mmdCritic(new Float32Array(6000 * 2), 6000, 2)).toThrow(/sample at most/);
  });

  it('finds the medoid at the centre of a symmetric cloud', () => {
    const X = Float32Array.from([0, 0, 1, 0, -1, 0, 0, 1, 0, -1]);
    expect(medoid(X, 5, 2)).toBe(0);
  });
});
