import { describe, expect, it } from 'vitest';
import { toProbability } from '../../server/lib/model/probability.ts';

describe('toProbability', () => {
  it('applies sigmoid, softmax over classes, or nothing', () => {
    expect(
      [...toProbability(Float32Array.from([0, 100]), 1, 1, 2, 'sigmoid')].map((v) => +v.toFixed(4)),
    ).toEqual([0.5, 1]);
    // 1 tile, 2 classes, 2 pixels (NCHW): pixel 0 logits (0, ln 3), pixel 1 (0, 0).
    const soft = toProbability(Float32Array.from([0, 0, Math.log(3), 0]), 1, 2, 2, 'softmax', 1);
    expect([...soft].map((v) => +v.toFixed(4))).toEqual([0.75, 0.5]);
    expect([...toProbability(Float32Array.from([0.2, 0.7, 0.9, 0.1]), 1, 2, 2, 'none', 0)]).toEqual([
      Math.fround(0.2),
      Math.fround(0.7),
    ]);
  });
});
