import { describe, expect, it } from 'vitest';
import { buildingProbability, fitBuildingProb } from '../../server/lib/scoring/building-prob.ts';

describe('building_prob calibration', () => {
  it('is monotone in the predicted share even where the raw shares are not, and never certain', () => {
    const samples = [
      ...Array.from({ length: 50 }, (_, i) => ({ predFraction: 0, holdsBuilding: i < 5 })),
      // a single lucky patch at a small share, then a larger group at a higher share that is right less often
      { predFraction: 0.001, holdsBuilding: true },
      ...Array.from({ length: 10 }, (_, i) => ({ predFraction: 0.01, holdsBuilding: i < 7 })),
      ...Array.from({ length: 20 }, () => ({ predFraction: 0.2, holdsBuilding: true })),
    ];
    const cal = fitBuildingProb(samples);
    expect(cal.patches).toBe(81);
    expect(cal.positives).toBe(33);
    for (let i = 1; i < cal.probs.length; i++) expect(cal.probs[i]).toBeGreaterThanOrEqual(cal.probs[i - 1]);
    const at = (f: number) => buildingProbability(cal, f);
    expect(at(0)).toBeGreaterThan(0.05);
    expect(at(0)).toBeLessThan(0.15);
    expect(at(0.3)).toBeGreaterThan(0.9);
    expect(at(0.3)).toBeLessThan(1);
    expect(at(0.005)).toBeLessThanOrEqual(at(0.05));
  });

  it('refuses to calibrate on nothing', () => {
    expect(() => fitBuildingProb([])).toThrow(/at least one reference patch/);
  });
});
