import { describe, expect, it } from 'vitest';
import { dominantError, familiesOf } from '../../server/lib/insights/failure-families.ts';
import { syntheticRun } from '../fixtures/synthetic-latent-rows.ts';

describe('failure families', () => {
  it('names the dominant error by the documented rule', () => {
    expect(dominantError({ tp: 90, fp: 5, fn: 5 }, 0.9, 0.88)).toBe('none');
    expect(dominantError({ tp: 60, fp: 20, fn: 20 }, 0.6, 0.3)).toBe('boundary');
    expect(dominantError({ tp: 10, fp: 80, fn: 10 }, 0.1, 0.1)).toBe('false_alarms');
    expect(dominantError({ tp: 10, fp: 10, fn: 80 }, 0.1, 0.1)).toBe('missed_buildings');
    expect(dominantError({ tp: 0, fp: 0, fn: 0 }, null, null)).toBe('none');
  });

  it('puts the look-alike false alarms in a family of their own whose dominant error is false alarms', () => {
    const { rows, kinds } = syntheticRun();
    const { families, assignment } = familiesOf(rows, { targetFamilySize: 150 });
    const parkingFamilies = new Set(
      kinds.map((kd, i) => (kd === 'parking' ? assignment[i] : null)).filter(Boolean),
    );
    expect(parkingFamilies.size).toBe(1);
    const fam = families.find((f) => parkingFamilies.has(f.id))!;
    expect(fam.dominantError).toBe('false_alarms');
    expect(fam.groupMix.parking).toBe(15);
    expect(fam.prototypes.length).toBeGreaterThan(0);
    expect(fam.representatives.every((i) => assignment[i] === fam.id)).toBe(true);
    expect(assignment[fam.medoid]).toBe(fam.id);
    expect(fam.iouHistogram.counts.reduce((a, b) => a + b, 0)).toBe(
      fam.size - Math.round(fam.emptyShare * fam.size),
    );
  });
});
