import { describe, expect, it } from 'vitest';
import {
  effortCurve,
  EffortError,
  skippedAtRecall,
  thresholdForRecall,
  UNVERIFIED_SHARE,
} from '../../server/lib/scoring/effort.ts';
import { normalQuantile } from '../../server/lib/analysis/special-functions.ts';

const tiles = [
  { priority: 0.0, buildingProb: 0.0 },
  { priority: 0.1, buildingProb: 0.1 },
  { priority: 0.29, buildingProb: 0.2 },
  { priority: 0.5, buildingProb: 0.5 },
  { priority: 1.0, buildingProb: 0.9 },
];

describe('effortCurve', () => {
  it('counts sent / skipped and sums buildingProb of skipped tiles at each threshold', async () => {
    const { points } = await effortCurve(tiles);
    expect(points).toHaveLength(101);
    expect(points[0]).toMatchObject({
      threshold: 0,
      sent: 5,
      skipped: 0,
      expectedMissedBuildingTiles: 0,
      expectedRecall: 1,
    });
    // 0.29 is not skipped at threshold 0.29 (priority ≥ threshold goes out), whatever 29/100 rounds to.
    expect(points[29]).toMatchObject({ sent: 3, skipped: 2 });
    expect(points[29].expectedMissedBuildingTiles).toBeCloseTo(0.1);
    expect(points[30]).toMatchObject({ sent: 2, skipped: 3 });
    expect(points[30].expectedMissedBuildingTiles).toBeCloseTo(0.3);
    expect(points[100]).toMatchObject({ threshold: 1, sent: 1, skipped: 4 });
    expect(points[100].expectedMissedBuildingTiles).toBeCloseTo(0.8);
    expect(points[100].expectedRecall).toBeCloseTo(1 - 0.8 / 1.7);
    expect(points.length).toBeGreaterThan(1);
    for (let i = 1; i < points.length; i++) {
      expect(points[i].skipped).toBeGreaterThanOrEqual(points[i - 1].skipped);
      expect(points[i].expectedMissedBuildingTiles).toBeGreaterThanOrEqual(
        points[i - 1].expectedMissedBuildingTiles,
      );
    }
  });

  it('streams a generator once, in O(steps) memory', async () => {
    function* many() {
      for (let i = 0; i < 200_000; i++) yield { priority: (i % 1000) / 999, buildingProb: 0.5 };
    }
    const { points } = await effortCurve(many(), { steps: 11 });
    expect(points).toHaveLength(11);
    expect(points[10].sent).toBe(200);
    expect(points[5].expectedMissedBuildingTiles).toBeCloseTo(0.5 * points[5].skipped);
  });

  it('without widening the interval is the binomial spread of the counts, around the point estimate', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({
      priority: i < 1000 ? 0.9 : 0.1,
      buildingProb: i < 1000 ? 0.8 : 0.02,
    }));
    const p = (await effortCurve(many)).points[50];
    const held = 800;
    const missed = 20;
    expect(p.expectedRecall).toBeCloseTo(held / (held + missed));
    const z = normalQuantile(0.95);
    const low =
      (held - z * Math.sqrt(1000 * 0.16)) /
      (held - z * Math.sqrt(1000 * 0.16) + missed + z * Math.sqrt(1000 * 0.0196));
    expect(p.recallLow).toBeCloseTo(low, 10);
    expect(p.recallLow).toBeLessThan(p.expectedRecall);
    expect(p.recallHigh).toBeGreaterThan(p.expectedRecall);
    expect(p.missedLow).toBeLessThan(missed);
    expect(p.missedHigh).toBeGreaterThan(missed);
  });

  it('widens where tiles carry a wider probability interval, and says unverified past the uncovered share', async () => {
    const base = Array.from({ length: 100 }, (_, i) => ({
      priority: i < 50 ? 0.9 : 0.1,
      buildingProb: i < 50 ? 0.9 : 0.01,
    }));
    const narrow = (await effortCurve(base)).points[50];
    const doubtful = base.map((t, i) =>
      i >= 80 ? { ...t, buildingProbLow: 0, buildingProbHigh: 0.6, covered: false } : { ...t, covered: true },
    );
    const wide = await effortCurve(doubtful);
    expect(wide.points[50].expectedRecall).toBeCloseTo(narrow.expectedRecall);
    expect(wide.points[50].recallLow).toBeLessThan(narrow.recallLow - 0.1);
    expect(wide.coverage).toEqual({ tiles: 100, uncovered: 20, uncoveredShare: 0.2, verified: false });
    expect((await effortCurve(base.map((t) => ({ ...t, covered: true })))).coverage.verified).toBe(true);
    const justCovered = base.map((t, i) => ({ ...t, covered: i >= 100 * UNVERIFIED_SHARE }));
    expect((await effortCurve(justCovered)).coverage.verified).toBe(true);
  });

  it('sums what the model alone would miss over the tiles its output leaves empty, with the spread', async () => {
    // 40 tiles the model paints on (all buildings), 60 it leaves empty: 10 of them at 0.3, 50 at 0.02.
    const region = Array.from({ length: 100 }, (_, i) => ({
      priority: i < 40 ? 0.95 : i < 50 ? 0.3 : 0.02,
      buildingProb: i < 40 ? 0.95 : i < 50 ? 0.3 : 0.02,
      modelEmpty: i >= 40,
    }));
    const m = (await effortCurve(region)).modelAlone!;
    expect(m.emptyTiles).toBe(60);
    expect(m.expectedMissedBuildingTiles).toBeCloseTo(10 * 0.3 + 50 * 0.02, 10);
    const spread = normalQuantile(0.95) * Math.sqrt(10 * 0.3 * 0.7 + 50 * 0.02 * 0.98);
    expect(m.missedHigh).toBeCloseTo(4 + spread, 10);
    expect(m.missedLow).toBeCloseTo(4 - spread, 10);
    expect(m.expectedMissShare).toBeCloseTo(4 / (40 * 0.95 + 4), 10);
    // Wider where the probabilities carry an interval.
    const doubtful = region.map((t) =>
      t.modelEmpty ? { ...t, buildingProbLow: 0, buildingProbHigh: 0.5 } : t,
    );
    expect((await effortCurve(doubtful)).modelAlone!.missedHigh).toBeGreaterThan(25);
    // Tiles that do not say whether the output was empty leave the figure out rather than undercount it.
    expect(
      (await effortCurve(region.map((t, i) => (i === 0 ? { ...t, modelEmpty: undefined } : t)))).modelAlone,
    ).toBeUndefined();
  });

  it('gives the fewest tiles that reach a recall', async () => {
    const curve = await effortCurve(tiles);
    const p = thresholdForRecall(curve, 0.9)!;
    expect(p.expectedRecall).toBeGreaterThanOrEqual(0.9);
    const next = curve.points[curve.points.indexOf(p) + 1];
    expect(next === undefined || next.expectedRecall < 0.9).toBe(true);
    expect(() => thresholdForRecall(curve, 1.5)).toThrow(EffortError);
  });

  it('refuses broken scores and inconsistent intervals with the tile index', async () => {
    await expect(
      (async () => await effortCurve([{ priority: Number.NaN, buildingProb: 0 }]))(),
    ).rejects.toThrow(/tile #0 has priority/);
    await expect((async () => await effortCurve(tiles, { steps: 1 }))()).rejects.toThrow(/steps/);
    await expect(
      (async () =>
        await effortCurve([
          { priority: 0.5, buildingProb: 0.5, buildingProbLow: 0.6, buildingProbHigh: 0.9 },
        ]))(),
    ).rejects.toThrow(/outside its interval/);
  });
});

describe('skippedAtRecall', () => {
  const truth = [
    { priority: 0.9, buildingProb: 0.9, holdsBuilding: true },
    { priority: 0.8, buildingProb: 0.8, holdsBuilding: true },
    { priority: 0.5, buildingProb: 0.5, holdsBuilding: false },
    { priority: 0.2, buildingProb: 0.2, holdsBuilding: true },
    { priority: 0.1, buildingProb: 0.1, holdsBuilding: false },
  ];

  it('sends in order until the recall is reached', async () => {
    const r = await skippedAtRecall(truth, 0.6);
    expect(r).toMatchObject({ sent: 2, skipped: 3, buildingTiles: 3, threshold: 0.8 });
    expect(r.achievedRecall).toBeCloseTo(2 / 3);
    expect(await skippedAtRecall(truth, 1)).toMatchObject({ sent: 4, skipped: 1, threshold: 0.2 });
  });

  it('uses exact thresholds: near-ties are told apart, exact ties go out together', async () => {
    const close = [
      { priority: 0.50001, buildingProb: 0, holdsBuilding: true },
      { priority: 0.5, buildingProb: 0, holdsBuilding: false },
    ];
    expect((await skippedAtRecall(close, 1)).sent).toBe(1);
    const tied = [
      { priority: 0.5, buildingProb: 0, holdsBuilding: true },
      { priority: 0.5, buildingProb: 0, holdsBuilding: false },
      { priority: 0.1, buildingProb: 0, holdsBuilding: false },
    ];
    expect((await skippedAtRecall(tied, 1)).sent).toBe(2);
  });

  it('ranks by any score; a region without buildings needs nobody', async () => {
    expect((await skippedAtRecall(truth, 1, (t) => 1 - t.priority)).sent).toBe(5);
    expect(
      (await skippedAtRecall([{ priority: 0.3, buildingProb: 0, holdsBuilding: false }], 0.95)).skippedShare,
    ).toBe(1);
    await expect((async () => await skippedAtRecall([], 0.95))()).rejects.toThrow(/no tiles/);
    await expect((async () => await skippedAtRecall(truth, 0))()).rejects.toThrow(EffortError);
  });
});
