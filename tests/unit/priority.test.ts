import { describe, expect, it } from 'vitest';
import { computePriority, modelTrust, PriorityError } from '../../server/lib/scoring/priority.ts';

const base = { buildingProb: 0, iouHat: 1, novelty: 0, urbanDistance: 0 };

describe('computePriority', () => {
  it('is monotone in buildingProb wherever the model is trusted at all', () => {
    for (const iouHat of [0.1, 0.5, 0.9, 1]) {
      for (const novelty of [0, 50, 99]) {
        let prev = -1;
        for (let p = 0; p <= 1.0001; p += 0.05) {
          const v = computePriority({ ...base, buildingProb: Math.min(1, p), iouHat, novelty });
          expect(v).toBeGreaterThan(prev);
          prev = v;
        }
      }
    }
  });

  it('ranks an untrusted empty tile above a trusted empty one', () => {
    const trusted = computePriority({ ...base, buildingProb: 0.02, iouHat: 0.75, novelty: 60 });
    const lowIou = computePriority({ ...base, buildingProb: 0.02, iouHat: 0.2, novelty: 60 });
    const novel = computePriority({ ...base, buildingProb: 0.02, iouHat: 0.75, novelty: 99 });
    expect(lowIou).toBeGreaterThan(trusted);
    expect(novel).toBeGreaterThan(trusted);
  });

  it('ranks a confidently empty tile last, at 0', () => {
    const confidentEmpty = computePriority(base);
    expect(confidentEmpty).toBe(0);
    const others = [
      { ...base, buildingProb: 0.01 },
      { ...base, iouHat: 0.79 },
      { ...base, novelty: 51 },
      { ...base, buildingProb: 0.9, iouHat: 0.3, novelty: 80 },
    ].map((t) => computePriority(t));
    for (const v of others) expect(v).toBeGreaterThan(confidentEmpty);
  });

  it('puts a likely building tile first and stays in 0..1', () => {
    const building = computePriority({ ...base, buildingProb: 0.97, iouHat: 0.9, novelty: 20 });
    const untrusted = computePriority({ ...base, buildingProb: 0.1, iouHat: 0.1, novelty: 90 });
    expect(building).toBeGreaterThan(untrusted);
    expect(building).toBeLessThanOrEqual(1);
    expect(computePriority({ ...base, buildingProb: 1, iouHat: 1 })).toBe(1);
  });

  it('uses urbanDistance only with a scale, lowering the prior far from settlements', () => {
    const t = { buildingProb: 0.05, iouHat: 0.3, novelty: 60, urbanDistance: 4 };
    expect(computePriority(t)).toBe(computePriority({ ...t, urbanDistance: 0 }));
    const near = computePriority({ ...t, urbanDistance: 0.5 }, { urbanScale: 2 });
    const far = computePriority({ ...t, urbanDistance: 8 }, { urbanScale: 2 });
    expect(near).toBeGreaterThan(far);
  });

  it('discounts trust by novelty', () => {
    expect(modelTrust(0.4, 0)).toBeCloseTo(0.5);
    expect(modelTrust(0.9, 50)).toBeCloseTo(1);
    expect(modelTrust(0.8, 75)).toBeCloseTo(0.6);
    expect(modelTrust(0.8, 100)).toBeCloseTo(0.2);
  });

  it('refuses values outside their range, naming them', () => {
    expect(() => computePriority({ ...base, buildingProb: 1.2 })).toThrow(/buildingProb = 1.2/);
    expect(() => computePriority({ ...base, novelty: 120 })).toThrow(PriorityError);
    expect(() => computePriority({ ...base, iouHat: Number.NaN })).toThrow(/iouHat/);
    expect(() => computePriority(base, { urbanScale: 0 })).toThrow(/urbanScale/);
    expect(() => computePriority(base, { trustedIou: 0 })).toThrow(/trustedIou/);
  });
});
