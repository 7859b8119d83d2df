import { describe, expect, it } from 'vitest';
import { pickUrbanisedClusters } from '../../server/lib/analysis/urbanised.ts';

describe('pickUrbanisedClusters', () => {
  it('splits clearly built-up clusters from the rest and says why, with numbers', () => {
    const r = pickUrbanisedClusters([
      { cluster: 0, size: 500, meanGtFraction: 0.01, medianGtFraction: 0, meanIou: null },
      { cluster: 1, size: 300, meanGtFraction: 0.02, medianGtFraction: 0.01, meanIou: 0.3 },
      { cluster: 2, size: 100, meanGtFraction: 0.25, medianGtFraction: 0.22, meanIou: 0.7 },
      { cluster: 3, size: 100, meanGtFraction: 0.35, medianGtFraction: 0.3, meanIou: 0.8 },
    ]);
    expect(r.urbanised).toEqual([2, 3]);
    expect(r.threshold).toBeCloseTo(0.135);
    expect(r.reason).toMatch(/2, 3.*13\.5%.*overall 7\.1%/);
  });
  it('no cluster qualifies when every share is tiny', () => {
    const r = pickUrbanisedClusters([
      { cluster: 0, size: 10, meanGtFraction: 0.001, medianGtFraction: 0, meanIou: null },
      { cluster: 1, size: 10, meanGtFraction: 0.02, medianGtFraction: 0.02, meanIou: 0.2 },
    ]);
    expect(r.urbanised).toEqual([]);
    expect(r.threshold).toBeCloseTo(0.05);
    expect(r.reason).toMatch(/no cluster/);
  });
});
