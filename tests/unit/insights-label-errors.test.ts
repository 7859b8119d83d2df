import { describe, expect, it } from 'vitest';
import { averagePrecision, labelErrorScores, precisionAtK } from '../../server/lib/insights/label-errors.ts';
import { syntheticRun } from '../fixtures/synthetic-latent-rows.ts';

describe('label-error scores', () => {
  it('rank planted label errors above model errors and correct patches', () => {
    const { rows, kinds } = syntheticRun();
    const r = labelErrorScores(rows, { k: 20 });
    const order = Array.from({ length: rows.n }, (_, i) => i).sort((a, b) => r.score[b] - r.score[a]);
    const planted = (i: number) => kinds[i] === 'town-erased' || kinds[i] === 'bare-planted';
    expect(precisionAtK(order, planted, 10)).toBe(1);
    expect(averagePrecision(order, planted)).toBeGreaterThan(0.95);
    expect(r.direction[0]).toBe('missing_in_label');
    expect(r.direction[200]).toBe('missing_in_image');
    // Parking lots fail like their neighbours: a small neighbour gap, so they rank below every planted error.
    const idxOf = (pred: (kd: string) => boolean) =>
      kinds
        .map((kd, i) => [kd, i] as const)
        .filter(([kd]) => pred(kd))
        .map(([, i]) => i);
    const parking = idxOf((kd) => kd === 'parking');
    const plantedIdx = idxOf((kd) => kd.includes('-'));
    expect(Math.max(...parking.map((i) => r.score[i]))).toBeLessThan(
      Math.min(...plantedIdx.map((i) => r.score[i])),
    );
    expect(Math.max(...parking.map((i) => r.neighbourGap[i]))).toBeLessThan(
      Math.min(...plantedIdx.map((i) => r.neighbourGap[i])),
    );
  });

  it('falls back to recall and precision without the evidence pass', () => {
    const { rows, kinds } = syntheticRun();
    const bare = {
      ...rows,
      probInside: rows.probInside.map(() => Number.NaN),
      probOutside: rows.probOutside.map(() => Number.NaN),
      hasEvidence: false,
    };
    const r = labelErrorScores(bare, { k: 20 });
    const order = Array.from({ length: rows.n }, (_, i) => i).sort((a, b) => r.score[b] - r.score[a]);
    expect(
      precisionAtK(order, (i) => kinds[i] !== 'town' && kinds[i] !== 'bare' && kinds[i] !== 'parking', 20),
    ).toBe(1);
  });

  it('computes precision@k and average precision as defined', () => {
    const pos = (i: number) => i % 2 === 0;
    expect(precisionAtK([0, 1, 2, 3], pos, 2)).toBe(0.5);
    // Positives at ranks 1 and 3: (1/1 + 2/3) / 2.
    expect(averagePrecision([0, 1, 2, 3], pos)).toBeCloseTo((1 + 2 / 3) / 2);
  });
});
