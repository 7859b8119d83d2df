import { describe, expect, it } from 'vitest';
import { poolActivations, poolActivationsBatch, PoolingError } from '../../server/lib/analysis/pooling.ts';

// 2 channels of 2×2: channel 0 = 1,2,3,4; channel 1 = -1,0,5,-2
const one = new Float32Array([1, 2, 3, 4, -1, 0, 5, -2]);

describe('poolActivations', () => {
  it('mean, max and mean+max per channel', () => {
    expect(Array.from(poolActivations(one, [2, 2, 2], 'mean'))).toEqual([2.5, 0.5]);
    expect(Array.from(poolActivations(one, [2, 2, 2], 'max'))).toEqual([4, 5]);
    expect(Array.from(poolActivations(one, [2, 2, 2], 'mean+max'))).toEqual([2.5, 0.5, 4, 5]);
  });
  it('batched variant equals pooling each patch', () => {
    const two = new Float32Array([...one, ...one.map((v) => v * 2)]);
    const batch = poolActivationsBatch(two, [2, 2, 2, 2], 'mean+max');
    expect(Array.from(batch)).toEqual([2.5, 0.5, 4, 5, 5, 1, 8, 10]);
  });
  it('names the shape when the buffer does not match it', () => {
    expect(() => poolActivations(one, [2, 3, 2])).toThrow(PoolingError);
    expect(() => poolActivations(one, [2, 3, 2])).toThrow(/2×3×2/);
  });
});
