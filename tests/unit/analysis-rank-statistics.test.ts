import { describe, expect, it } from 'vitest';
import { auroc, averageRanks, spearman } from '../../server/lib/analysis/rank-statistics.ts';

describe('rank statistics', () => {
  it('gives tied values the mean of the ranks they span', () => {
    expect(averageRanks([3, 1, 1, 2])).toEqual(Float64Array.from([3, 0.5, 0.5, 2]));
    expect(averageRanks([])).toEqual(new Float64Array(0));
  });

  it('AUROC and Spearman on known cases', () => {
    expect(auroc([3, 4], [1, 2])).toBe(1);
    expect(auroc([1, 2], [3, 4])).toBe(0);
    expect(auroc([1, 2], [1, 2])).toBe(0.5);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1);
    // Ties share their mean rank (as scipy.stats.spearmanr): ranks 1, 2.5, 2.5, 4 against 1, 3, 2, 4.
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9487, 4);
  });

  it('has no correlation for fewer than three pairs or a constant side', () => {
    expect(spearman([1, 2], [1, 2])).toBeNaN();
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(auroc([], [1])).toBeNaN();
  });
});
