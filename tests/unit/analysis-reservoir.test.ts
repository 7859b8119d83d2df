import { describe, expect, it } from 'vitest';
import { createRng, reservoir as drawn } from '../../server/lib/analysis/random.ts';

const reservoir = <T>(items: Iterable<T>, k: number, seed = 0x100c) => drawn(items, k, createRng(seed));

describe('reservoir', () => {
  it('keeps every item of a short stream and k of a long one, the same k for the same seed', () => {
    expect(reservoir([1, 2, 3], 5)).toEqual([1, 2, 3]);
    const a = reservoir(
      Array.from({ length: 10_000 }, (_, i) => i),
      64,
      7,
    );
    expect(a).toHaveLength(64);
    expect(new Set(a).size).toBe(64);
    expect(
      reservoir(
        Array.from({ length: 10_000 }, (_, i) => i),
        64,
        7,
      ),
    ).toEqual(a);
    expect(
      reservoir(
        Array.from({ length: 10_000 }, (_, i) => i),
        64,
        8,
      ),
    ).not.toEqual(a);
  });

  it('draws every part of the stream alike', () => {
    // 2,000 draws of 10 from 100 items: each item is kept ~200 times (binomial sd ≈ 13).
    const kept = new Array<number>(100).fill(0);
    for (let seed = 0; seed < 2000; seed++)
      for (const i of reservoir(
        Array.from({ length: 100 }, (_, j) => j),
        10,
        seed,
      ))
        kept[i]++;
    expect(Math.min(...kept)).toBeGreaterThan(140);
    expect(Math.max(...kept)).toBeLessThan(260);
  });
});
