import { describe, expect, it } from 'vitest';
import {
  calibratedBuildingProb,
  effortCurve,
  EffortError,
  fitCalibration,
  skippedAtRecall,
} from '../../server/lib/scoring/effort.ts';

const tiles = [
  { priority: 0.0, buildingProb: 0.0, iouHat: 1, predFraction: 0 },
  { priority: 0.1, buildingProb: 0.1, iouHat: 1, predFraction: 0 },
  { priority: 0.29, buildingProb: 0.2, iouHat: 1, predFraction: 0 },
  { priority: 0.5, buildingProb: 0.5, iouHat: 1, predFraction: 0.1 },
  { priority: 1.0, buildingProb: 0.9, iouHat: 1, predFraction: 0.3 },
];

describe('effortCurve', () => {
  it('counts sent / skipped and sums buildingProb of skipped tiles at each threshold', () => {
    const curve = effortCurve(tiles);
    expect(curve).toHaveLength(101);
    expect(curve[0]).toMatchObject({
      threshold: 0,
      sent: 5,
      skipped: 0,
      expectedMissedBuildingTiles: 0,
      expectedRecall: 1,
    });
    // 0.29 is not skipped at threshold 0.29 (priority ≥ threshold goes out), whatever 29/100 rounds to.
    expect(curve[29]).toMatchObject({ sent: 3, skipped: 2 });
    expect(curve[29].expectedMissedBuildingTiles).toBeCloseTo(0.1);
    expect(curve[30]).toMatchObject({ sent: 2, skipped: 3 });
    expect(curve[30].expectedMissedBuildingTiles).toBeCloseTo(0.3);
    expect(curve[100]).toMatchObject({ threshold: 1, sent: 1, skipped: 4 });
    expect(curve[100].expectedMissedBuildingTiles).toBeCloseTo(0.8);
    expect(curve[100].expectedRecall).toBeCloseTo(1 - 0.8 / 1.7);
    for (let i = 1; i < curve.length; i++) {
      expect(curve[i].skipped).toBeGreaterThanOrEqual(curve[i - 1].skipped);
      expect(curve[i].expectedMissedBuildingTiles).toBeGreaterThanOrEqual(
        curve[i - 1].expectedMissedBuildingTiles,
      );
    }
  });

  it('streams a generator once, in O(steps) memory', () => {
    function* many() {
      for (let i = 0; i < 200_000; i++)
        yield { priority: (i % 1000) / 999, buildingProb: 0.5, iouHat: 0.5, predFraction: 0 };
    }
    const curve = effortCurve(many(), { steps: 11 });
    expect(curve).toHaveLength(11);
    expect(curve[10].sent).toBe(200);
    expect(curve[5].expectedMissedBuildingTiles).toBeCloseTo(0.5 * curve[5].skipped);
  });

  it('uses the reference calibration when given', () => {
    const cal = fitCalibration(
      [
        { buildingProb: 0.05, holdsBuilding: false },
        { buildingProb: 0.08, holdsBuilding: true },
        { buildingProb: 0.95, holdsBuilding: true },
      ],
      2,
    );
    expect(cal.share).toEqual([0.5, 1]);
    expect(calibratedBuildingProb(0.49, cal)).toBe(0.5);
    expect(calibratedBuildingProb(0.5, cal)).toBe(1);
    const curve = effortCurve(tiles, { calibration: cal, steps: 2 });
    expect(effortCurve(tiles, cal)[100].expectedMissedBuildingTiles).toBeCloseTo(
      curve[1].expectedMissedBuildingTiles,
    );
    // At threshold 1 the four skipped tiles all sit in the lower bin (share 0.5) except 0.5 → 1.
    expect(curve[1].expectedMissedBuildingTiles).toBeCloseTo(0.5 * 3 + 1);
    expect(() => effortCurve(tiles, { calibration: { edges: [0, 1], share: [2] } })).toThrow(EffortError);
  });

  it('refuses broken scores with the tile index', () => {
    expect(() => effortCurve([{ priority: Number.NaN, buildingProb: 0 }])).toThrow(/tile #0 has priority/);
    expect(() => effortCurve(tiles, { steps: 1 })).toThrow(/steps/);
  });
});

describe('skippedAtRecall', () => {
  const truth = [
    { priority: 0.9, buildingProb: 0.2, holdsBuilding: true },
    { priority: 0.8, buildingProb: 0.9, holdsBuilding: true },
    { priority: 0.7, buildingProb: 0.1, holdsBuilding: false },
    { priority: 0.6, buildingProb: 0.02, holdsBuilding: true },
    { priority: 0.2, buildingProb: 0.05, holdsBuilding: false },
    { priority: 0.1, buildingProb: 0.8, holdsBuilding: false },
    { priority: 0.05, buildingProb: 0.01, holdsBuilding: false },
    { priority: 0.01, buildingProb: 0.0, holdsBuilding: false },
  ];

  it('finds the share volunteers can skip while seeing the asked share of building tiles', () => {
    const r = skippedAtRecall(truth, 0.95);
    expect(r).toMatchObject({
      sent: 4,
      skipped: 4,
      skippedShare: 0.5,
      buildingTiles: 3,
      achievedRecall: 1,
      threshold: 0.6,
    });
    const partial = skippedAtRecall(truth, 0.6);
    expect(partial.sent).toBe(2);
    expect(partial.achievedRecall).toBeCloseTo(2 / 3);
  });

  it('compares orders: buildingProb alone does worse here, a custom key works', () => {
    const byProb = skippedAtRecall(truth, 0.99, 'buildingProb');
    expect(byProb.skippedShare).toBeLessThan(skippedAtRecall(truth, 0.99).skippedShare);
    const worst = skippedAtRecall(truth, 0.99, (t) => 1 - t.priority);
    expect(worst.skipped).toBe(0);
  });

  it('refuses a bad recall and empty input', () => {
    expect(() => skippedAtRecall(truth, 0)).toThrow(/recall/);
    expect(() => skippedAtRecall([], 0.95)).toThrow(/no tiles/);
  });
});
