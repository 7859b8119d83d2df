/**
 * The interval and guarantee maths on synthetic regions with a known answer (scripts/lib/trust-populations.ts):
 * many seeded calibration samples per region, each labelled from the truth and estimated as a project's
 * would be. Seeded, so the figures are the same on every run.
 *
 * Tolerance: with D draws, the share of intervals that cover has a binomial standard error of
 * √(level·(1 − level)/D) even for a method whose coverage is exactly nominal; the tests accept coverage
 * down to the level minus two such errors (0.06 at 90 %, 0.044 at 95 % for 100 draws), so they reject a
 * method that really undercovers by more than that, and do not depend on which seeds were chosen.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { coverageStudy, labelFromTruth, type CoverageReport } from '../../scripts/lib/trust-coverage.ts';
import { trueRecall, type PopulationKind, type TruthTile } from '../../scripts/lib/trust-populations.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { drawCalibrationSample } from '../../server/lib/trust/calibration-sample.ts';
import { recallBounds, type Bounds } from '../../server/lib/trust/count-bounds.ts';
import { estimateRegion } from '../../server/lib/trust/region-estimate.ts';

const DRAWS = 100;
const TILES = 3000;
const tolerance = (level: number) => 2 * Math.sqrt((level * (1 - level)) / DRAWS);

describe.each<PopulationKind>(['good', 'hidden', 'miscalibrated', 'empty'])(
  'intervals on the %s region',
  (kind) => {
    let r: CoverageReport;
    beforeAll(async () => {
      r = await coverageStudy(kind, {
        draws: DRAWS,
        tiles: TILES,
        only: 'intervals',
        thresholds: [0.05, 0.3, 0.6],
      });
    });

    it('the 90 % and 95 % intervals hold the true building-tile count at their nominal rate', () => {
      for (const level of [0.9, 0.95])
        expect(r.countCoverage[String(level)]).toBeGreaterThanOrEqual(level - tolerance(level));
      // Not by being useless: the interval is narrow next to the count (or to the region when it is empty).
      expect(r.meanCountHalfWidth).toBeLessThan(0.2 * Math.max(r.buildingTiles, 0.1 * r.tiles));
    });

    it('the 90 % and 95 % intervals hold the true recall at every threshold', () => {
      for (const level of [0.9, 0.95]) {
        for (const [t, c] of Object.entries(r.recallCoverage[String(level)])) {
          expect(c, `recall at ${t}, level ${level}`).toBeGreaterThanOrEqual(level - tolerance(level));
        }
      }
      if (r.buildingTiles > 0) for (const w of Object.values(r.recallWidth)) expect(w).toBeLessThan(0.3);
    });
  },
);

/**
 * A small region that nearly all holds buildings, labelled heavily: 284 tiles, 277 with a building, 200
 * labelled. The sample often sees every building among the few skipped tiles and every empty tile among
 * the sent, so the counts' bounds sit on their sure limits and the truth sits on the corner they make.
 */
function nearlyFullRegion(): TruthTile[] {
  const rng = createRng(5);
  const tiles: TruthTile[] = [];
  for (let i = 0; i < 284; i++) {
    // Two building tiles and two empty ones below 0.5; five empty tiles among the confident ones.
    const low = i < 4;
    const holds = low ? i < 2 : i >= 9;
    const priority = low ? 0.1 + 0.3 * rng.next() : 0.6 + 0.4 * rng.next();
    tiles.push({ taskId: `18-${150000 + i}-140000`, priority, buildingProb: priority, holdsBuilding: holds });
  }
  return tiles;
}

describe('intervals on a small region sampled heavily', () => {
  it('hold the true recall in ≥ 90 % of draws where the truth sits on the sure corner', async () => {
    const tiles = nearlyFullRegion();
    const truth = trueRecall(tiles, 0.5);
    expect(truth).toBeCloseTo(275 / 277, 10);
    const draws = 100;
    let hits = 0;
    let width = 0;
    for (let d = 0; d < draws; d++) {
      const sample = await drawCalibrationSample(tiles, { size: 200, seed: 1000 + d });
      const f = (await estimateRegion(tiles, labelFromTruth(tiles, sample))).recallAt(0.5);
      if (f.low - 1e-12 <= truth && truth <= f.high + 1e-12) hits++;
      width += f.high - f.low;
    }
    expect(hits / draws).toBeGreaterThanOrEqual(0.9 - tolerance(0.9));
    // Still a narrow interval: a couple of tiles' worth of recall.
    expect(width / draws).toBeLessThan(0.02);
  });

  it('combine two sure bounds at their corner; MOVER alone falls strictly inside it', () => {
    // Missed: 2 seen, estimate 2.45, at most 3; sent: at most 275 (every empty sent tile seen).
    const missed: Bounds = { estimate: 2.45, low: 2, high: 3, lowSure: true };
    const sent: Bounds = { estimate: 273.6, low: 272, high: 275, highSure: true };
    const corner = 275 / 277;
    expect(recallBounds(missed, sent).high).toBeCloseTo(corner, 12);
    expect(recallBounds(missed, sent, { sureCorners: false }).high).toBeLessThan(corner - 1e-5);
    // Bounds that are statistical, not sure, keep MOVER's quadrature (narrower than the corner).
    const loose = recallBounds({ ...missed, lowSure: false }, { ...sent, highSure: false });
    expect(loose.high).toBeLessThan(corner - 1e-5);
    expect(loose.low).toBeGreaterThan(272 / 275);
  });
});
