import { describe, expect, it } from 'vitest';
import { fromHalf, toHalf } from '../../server/lib/analysis/float16.ts';

describe('float16', () => {
  it('encodes known bit patterns', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(toHalf(2 ** -24)).toBe(0x0001);
    expect(toHalf(0.1)).toBe(0x2e66);
    expect(fromHalf(0x3555)).toBeCloseTo(0.33325, 5);
  });
  it('round-trips within half precision, subnormals included', () => {
    for (const v of [0, 1.5, -3.25, 1234.5, 6.1e-5, 3e-6, -7.7e-7]) {
      expect(Math.abs(fromHalf(toHalf(v)) - v)).toBeLessThanOrEqual(
        Math.max(Math.abs(v) * 2 ** -11, 2 ** -25),
      );
    }
  });
});
