import { describe, expect, it } from 'vitest';
import { assignTiers, tierOf } from '../../server/lib/scoring/priority.ts';

describe('tiers', () => {
  it('cuts by thresholds', () => {
    expect(tierOf(0.7)).toBe('high');
    expect(tierOf(0.5)).toBe('high');
    expect(tierOf(0.45)).toBe('medium');
    expect(tierOf(0.3)).toBe('medium');
    expect(tierOf(0.06)).toBe('low');
    expect(tierOf(0.01)).toBe('skip');
    expect(tierOf(0.3, { high: 0.9, medium: 0.8, low: 0.1 })).toBe('low');
    expect(() => tierOf(0.3, { high: 0.1, medium: 0.5, low: 0 })).toThrow(/high ≥ medium ≥ low/);
  });

  it('assigns tiers while streaming and never sends tiles without imagery', () => {
    const out = [
      ...assignTiers([
        { priority: 0.9, status: 'scored' },
        { priority: 0.9, status: 'missing' },
        { priority: 0.1 },
      ]),
    ];
    expect(out.map((t) => t.tier)).toEqual(['high', 'skip', 'low']);
  });
});
