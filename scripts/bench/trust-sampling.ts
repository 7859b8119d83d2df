/**
 * Coverage of the calibration sample's intervals and of the recall guarantee on synthetic regions with a
 * known answer (scripts/lib/trust-populations.ts): for each region, many seeded 200-tile samples are drawn,
 * labelled from the truth and estimated exactly as a project's would be.
 *
 *   npx tsx scripts/bench/trust-sampling.ts [--draws 200] [--tiles 8000] [--size 200] [--kinds good,hidden]
 *
 * Prints a table per region and one closing JSON line. Figures to read: the share of draws whose 90 % /
 * 95 % interval holds the true building-tile count and the true recall (should be ≥ the level), the share
 * of draws whose guaranteed threshold (95 %, δ = 0.1) really reaches 95 % recall (should be ≥ 90 %), and
 * how much that threshold skips beside the best any threshold could skip (oracle).
 */
import { parseArgs } from 'node:util';
import { coverageStudy, type CoverageReport } from '../lib/trust-coverage.ts';
import { POPULATIONS, type PopulationKind } from '../lib/trust-populations.ts';

const { values } = parseArgs({
  options: {
    draws: { type: 'string', default: '200' },
    tiles: { type: 'string', default: '8000' },
    size: { type: 'string', default: '200' },
    kinds: { type: 'string' },
  },
});
const draws = Number(values.draws);
const tiles = Number(values.tiles);
const size = Number(values.size);
const kinds = (values.kinds ? values.kinds.split(',') : POPULATIONS) as PopulationKind[];
for (const k of kinds) {
  if (!POPULATIONS.includes(k)) {
    console.error(`unknown region '${k}'; choose from ${POPULATIONS.join(', ')}`);
    process.exit(2);
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const reports: Array<CoverageReport & { seconds: number }> = [];
for (const kind of kinds) {
  const t0 = performance.now();
  const r = await coverageStudy(kind, { draws, tiles, size });
  const seconds = (performance.now() - t0) / 1000;
  reports.push({ ...r, seconds });
  console.log(`\n${kind}: ${r.tiles} tiles, ${r.buildingTiles} with a building; ${draws} samples of ${size}`);
  console.log(
    `  building tiles: 90 % interval covers ${pct(r.countCoverage['0.9'])}, 95 % covers ${pct(r.countCoverage['0.95'])}; mean half-width ${r.meanCountHalfWidth.toFixed(0)} tiles`,
  );
  for (const t of Object.keys(r.trueRecall)) {
    console.log(
      `  recall at ${t}: true ${pct(r.trueRecall[t])}; 90 % covers ${pct(r.recallCoverage['0.9'][t])}, 95 % covers ${pct(r.recallCoverage['0.95'][t])}; mean 90 % width ${(r.recallWidth[t] * 100).toFixed(1)} points`,
    );
  }
  const g = r.guarantee;
  console.log(
    `  guarantee ≥ ${pct(g.target)} at δ = ${g.delta}: reached in ${pct(g.achieved)} of draws (mean true recall ${pct(g.meanTrueRecall)}); skips ${pct(g.meanSkippedShare)} of tiles on average (oracle at the target: ${pct(g.oracleSkippedShare)})`,
  );
  console.log(`  ${seconds.toFixed(1)} s`);
}
console.log(JSON.stringify({ bench: 'trust-sampling', draws, tiles, size, reports }));
