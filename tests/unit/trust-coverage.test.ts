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
import { coverageStudy, type CoverageReport } from '../../scripts/lib/trust-coverage.ts';
import type { PopulationKind } from '../../scripts/lib/trust-populations.ts';

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
