/**
 * The recall guarantee (target 95 %, δ = 0.1) on synthetic regions with a known answer: the chosen
 * threshold's true recall reaches the target in at least 90 % of seeded sample draws — minus two binomial
 * standard errors of a 100-draw share (see trust-coverage.test.ts) — and where the model is good the
 * threshold still skips tiles.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { coverageStudy, type CoverageReport } from '../../scripts/lib/trust-coverage.ts';
import type { PopulationKind } from '../../scripts/lib/trust-populations.ts';

const DRAWS = 100;
const TILES = 2000;
const tolerance = 2 * Math.sqrt((0.9 * 0.1) / DRAWS);

describe.each<[PopulationKind, number]>([
  ['good', 0.1],
  ['dense', 0.2],
  ['hidden', 0],
  ['miscalibrated', 0.05],
  ['empty', 0],
])('the guarantee on the %s region', (kind, minSkipped) => {
  let r: CoverageReport;
  beforeAll(async () => {
    r = await coverageStudy(kind, { draws: DRAWS, tiles: TILES, only: 'guarantee' });
  });

  it('reaches 95 % recall in at least 90 % of draws', () => {
    expect(r.guarantee.achieved).toBeGreaterThanOrEqual(0.9 - tolerance);
  });

  it(`skips at least ${minSkipped * 100} % of the tiles on average, never more than the oracle`, () => {
    expect(r.guarantee.meanSkippedShare).toBeGreaterThanOrEqual(minSkipped);
    expect(r.guarantee.meanSkippedShare).toBeLessThanOrEqual(r.guarantee.oracleSkippedShare + 1e-9);
  });
});
