import { describe, expect, it } from 'vitest';
import { DEFAULT_TIER_THRESHOLDS, tierFor, TierError, tierOf } from '../../server/lib/scored-tiles/tiers.ts';

describe('tierOf', () => {
  it('cuts by thresholds', () => {
    expect(tierOf(0.7)).toBe('high');
    expect(tierOf(0.5)).toBe('high');
    expect(tierOf(0.45)).toBe('medium');
    expect(tierOf(0.3)).toBe('medium');
    expect(tierOf(0.06)).toBe('low');
    expect(tierOf(0.01)).toBe('skip');
    expect(tierOf(0.3, { high: 0.9, medium: 0.8, low: 0.1 })).toBe('low');
    expect(() => tierOf(0.3, { high: 0.1, medium: 0.5, low: 0 })).toThrow(/high ≥ medium ≥ low/);
    expect(() => tierOf(0.3, { high: 0.1, medium: 0.5, low: 0 })).toThrow(TierError);
  });
});

describe('tierFor', () => {
  it('keeps a stored tier, earns one from the priority otherwise, and never sends tiles without imagery', () => {
    expect(tierFor({ priority: 0.9, status: 'scored', tier: 'low' })).toBe('low');
    expect(tierFor({ priority: 0.9, status: 'scored' })).toBe('high');
    expect(tierFor({ priority: 0.9, status: 'missing', tier: 'high' })).toBe('skip');
    expect(tierFor({ priority: 0.2, status: 'failed' }, { ...DEFAULT_TIER_THRESHOLDS, medium: 0.3 })).toBe(
      'low',
    );
  });
});
