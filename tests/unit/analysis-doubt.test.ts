import { describe, expect, it } from 'vitest';
import {
  covered,
  DEFAULT_DOUBT,
  doubt,
  DoubtError,
  noveltyRatioOf,
  tileTrust,
} from '../../server/lib/analysis/doubt.ts';

describe('doubt', () => {
  it('is ½ at the edge of the reference set, near 0 well inside it, near 1 far outside, and rises with novelty', () => {
    expect(doubt(DEFAULT_DOUBT.edge)).toBeCloseTo(0.5);
    expect(doubt(0.5)).toBeLessThan(0.01);
    expect(doubt(3)).toBeGreaterThan(0.99);
    expect(doubt(0)).toBe(0);
    const ratios = [0, 0.2, 0.6, 0.9, 1, 1.1, 1.5, 4];
    const u = ratios.map((r) => doubt(r));
    for (let i = 1; i < u.length; i++) expect(u[i]).toBeGreaterThanOrEqual(u[i - 1]);
    expect(covered(1)).toBe(true);
    expect(covered(1.01)).toBe(false);
  });

  it('widens P(building) to [p(1 − u), p + u(1 − p)]; priority is the upper end', () => {
    const t = tileTrust(0.2, 1);
    expect(t.doubt).toBeCloseTo(0.5);
    expect(t.buildingProbLow).toBeCloseTo(0.1);
    expect(t.buildingProbHigh).toBeCloseTo(0.6);
    expect(t.priority).toBe(t.buildingProbHigh);
    expect(t.buildingProbHigh - t.buildingProbLow).toBeCloseTo(t.doubt);
    const familiar = tileTrust(0.2, 0.1);
    expect(familiar.priority).toBeCloseTo(0.2, 6);
    expect(familiar.covered).toBe(true);
  });

  it('keeps the model ranking among alike tiles, and puts a strange empty tile before a familiar empty one', () => {
    expect(tileTrust(0.3, 0.3).priority).toBeGreaterThan(tileTrust(0.1, 0.3).priority);
    expect(tileTrust(0.01, 1.5).priority).toBeGreaterThan(tileTrust(0.05, 0.3).priority);
  });

  it('lets imagery novelty widen the interval and uncover the tile without reordering it', () => {
    const shifted = tileTrust(0.2, { content: 0.3, image: 2 });
    expect(shifted.covered).toBe(false);
    expect(shifted.doubt).toBeGreaterThan(0.99);
    expect(shifted.buildingProbLow).toBeLessThan(0.01);
    expect(shifted.buildingProbHigh).toBeGreaterThan(0.99);
    // Priority follows the content's novelty only: the same as without the imagery's.
    expect(shifted.priority).toBeCloseTo(tileTrust(0.2, 0.3).priority, 6);
    expect(tileTrust(0.2, 0.3).covered).toBe(true);
    // Content novelty lifts on imagery like the reference's …
    expect(tileTrust(0.2, { content: 2, image: 0.3 }).priority).toBeGreaterThan(0.99);
    // … and not where the imagery itself explains why the activations are strange.
    expect(tileTrust(0.2, { content: 2, image: 2 }).priority).toBeCloseTo(0.2, 3);
  });

  it("reads coverage from the imagery's ratio where the run measures it, from the content's where it does not", () => {
    expect(noveltyRatioOf({ content: 0.8, image: 0.9 })).toBe(0.9);
    expect(noveltyRatioOf({ content: 3, image: 0.4 })).toBe(0.4);
    expect(noveltyRatioOf({ content: 0.8 })).toBe(0.8);
    // Strange activations on familiar imagery stay covered (and lift priority instead) …
    const strangeContent = tileTrust(0.2, { content: 3, image: 0.4 });
    expect(strangeContent.covered).toBe(true);
    expect(strangeContent.priority).toBeGreaterThan(0.99);
    // … strange imagery uncovers the tile whatever the activations say.
    expect(tileTrust(0.2, { content: 0.2, image: 1.5 }).covered).toBe(false);
    // Runs without an imagery estimator read the content's ratio.
    expect(tileTrust(0.2, 1.5).covered).toBe(false);
  });

  it('ranks from the probability it is given and keeps P(building) and its interval apart from it', () => {
    const t = tileTrust(0.6, 0.1, DEFAULT_DOUBT, { low: 0.6, high: 0.6 }, 0.2);
    expect(t.buildingProb).toBe(0.6);
    expect(t.priority).toBeCloseTo(0.2, 6);
    expect(
      tileTrust(0.6, { content: 2, image: 0.3 }, DEFAULT_DOUBT, { low: 0.6, high: 0.6 }, 0.2).priority,
    ).toBeGreaterThan(0.99);
    expect(() => tileTrust(0.6, 0.1, DEFAULT_DOUBT, { low: 0.6, high: 0.6 }, 1.5)).toThrow(/rankProb/);
  });

  it('refuses values outside their range', () => {
    expect(() => tileTrust(0.5, { content: 0.5, image: -1 })).toThrow(/image ratio/);
    expect(() => tileTrust(1.2, 0.5)).toThrow(DoubtError);
    expect(() => doubt(Number.NaN)).toThrow(/novelty ratio/);
  });
});
