/**
 * `npm run bench -- trust`: are the numbers a manager sees on a new region true?
 *
 * Every case is a region with known truth, scored through `scoreRegion` (the path `tilelens score` and the API
 * take) against a reference run that never saw it. Per case it prints the effort panel's expected recall and its
 * interval against the true recall (at the default threshold and at the thresholds the panel gives for 90 / 95 /
 * 99 %), whether the figures say "unverified", the share volunteers may skip at 95 / 99 % true recall by each
 * ranking, and novelty's AUROC against familiar tiles; with labels from a calibration sample (many seeded draws)
 * the interval's coverage and the guaranteed-recall mode.
 *
 *   npx tsx scripts/bench/trust.ts                  demo cases, and real-data cases when ../shared/realdata exists
 *   npx tsx scripts/bench/trust.ts --demo-only | --real-only [--leave-one-out]
 *   npx tsx scripts/bench/trust.ts --draws 100      calibration-sample draws per case (default 40)
 *   npx tsx scripts/bench/trust.ts --models 3       the real reference's model trained with 3 seeds; the cases
 *                                                   run against each, and the ranking and novelty figures are
 *                                                   summarised across them
 *
 * Benchmarks print figures; they never fail on them (the closing JSON line holds every figure).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { readDemoTiles } from '../../server/lib/datasets/demo-world.ts';
import { bboxPolygon } from '../../server/lib/geo/tiles.ts';
import { repoRoot } from '../../server/lib/paths.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import type { EffortCurve } from '../../server/lib/scoring/effort.ts';
import { closeImagerySources } from '../../server/lib/scoring/imagery-registry.ts';
import { disposeScoringModels } from '../../server/lib/scoring/jobs.ts';
import { scoreRegion } from '../../server/lib/scoring/score-region.ts';
import { effortForProject, iterateScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { generateDemoWorld } from '../demo-world/generate.ts';
import type { TrustCase } from './trust/cases.ts';
import {
  acrossModelsLines,
  acrossModelsOf,
  caseRows,
  labelledStudy,
  noveltyAuroc,
  panelChecks,
  predictionMisses,
  predictionMissShare,
  priorityVsModelOutput,
  skippedShares,
  type CaseTileRow,
  type LabelledStudy,
  type PanelCheck,
  type SkipDifference,
  type TileModelReport,
  tileModelLines,
  tileModelReport,
} from './trust/report.ts';
import { getRun } from '../../server/lib/db/analysis-repo.ts';
import type { TileModelState } from '../../server/lib/analysis/tile-model.ts';
import { realDataCases } from './trust/real-cases.ts';

const { values } = parseArgs({
  options: {
    'demo-only': { type: 'boolean', default: false },
    'real-only': { type: 'boolean', default: false },
    'leave-one-out': { type: 'boolean', default: false },
    draws: { type: 'string', default: '40' },
    models: { type: 'string', default: '1' },
    out: { type: 'string', default: join(repoRoot, 'data/bench/trust') },
  },
});
const outDir = values.out!;
const draws = Number(values.draws);
if (!Number.isInteger(draws) || draws < 1) {
  console.error(`--draws must be a positive integer, got "${values.draws}"`);
  process.exit(2);
}
const models = Number(values.models);
if (!Number.isInteger(models) || models < 1) {
  console.error(`--models must be a positive integer, got "${values.models}"`);
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

interface CaseResult {
  name: string;
  kind: TrustCase['kind'];
  reference: string;
  tiles: number;
  buildingTiles: number;
  uncoveredShare: number;
  verified: boolean;
  panel: PanelCheck[];
  /** Share of building tiles the model's own output misses (paints nothing on). */
  predictionMisses: number;
  /** The panel's "the model alone would miss" count against the truth. */
  modelAlone: { expected: number; low: number; high: number; truth: number; inside: boolean } | null;
  skipped: Record<string, Record<string, number>>;
  /** Priority's skipped share minus the model output's, with its bootstrap 90 % interval, per recall. */
  priorityVsModelOutput: Record<string, SkipDifference>;
  noveltyAuroc: number | null;
  labelled: LabelledStudy;
  /** How long scoring the case took end to end, and the look the job read the tiles through (from its log). */
  scoring: { seconds: number; tilesPerSecond: number; look: string };
}

const r3 = (v: number) => Number(v.toFixed(3));

/** Scores one case as a project and measures it. */
async function runCase(
  ctx: ScoringContext,
  runId: number,
  reference: string,
  c: TrustCase,
  familiar: CaseTileRow[] | null,
): Promise<{ result: CaseResult; rows: CaseTileRow[] }> {
  const started = performance.now();
  lastLook = 'original';
  const scored = await scoreRegion(ctx, {
    runId,
    imagery: { kind: 'pmtiles', path: c.archive },
    imageryName: `${c.name}-${Date.now()}`,
    area: c.area,
    zoom: 18,
    projectName: `trust bench: ${c.name}`,
  });
  const seconds = (performance.now() - started) / 1000;
  const rows = await caseRows(iterateScoredTiles(ctx, scored.projectId), c.truth);
  const curve = await effortForProject(ctx, scored.projectId);
  const result: CaseResult = {
    name: c.name,
    kind: c.kind,
    reference,
    tiles: rows.length,
    buildingTiles: rows.filter((r) => r.holdsBuilding).length,
    uncoveredShare: r3(curve.coverage.uncoveredShare),
    verified: curve.coverage.verified,
    panel: (await panelChecks(rows, curve)).map((p) => ({
      ...p,
      expected: r3(p.expected),
      low: r3(p.low),
      high: r3(p.high),
      truth: r3(p.truth),
      error: r3(p.error),
    })),
    predictionMisses: r3(predictionMissShare(rows)),
    modelAlone: modelAloneCheck(rows, curve),
    skipped: Object.fromEntries(
      await Promise.all(
        [0.95, 0.99].map(async (recall) => [
          String(recall),
          Object.fromEntries(Object.entries(await skippedShares(rows, recall)).map(([k, v]) => [k, r3(v)])),
        ]),
      ),
    ),
    priorityVsModelOutput: Object.fromEntries(
      await Promise.all(
        [0.95, 0.99].map(async (recall) => {
          const d = await priorityVsModelOutput(rows, recall);
          return [String(recall), { difference: r3(d.difference), low: r3(d.low), high: r3(d.high) }];
        }),
      ),
    ),
    scoring: { seconds: r3(seconds), tilesPerSecond: r3(rows.length / seconds), look: lastLook },
    noveltyAuroc: familiar && c.kind !== 'in-distribution' ? r3(noveltyAuroc(rows, familiar)) : null,
    labelled: await labelledStudy(rows, draws),
  };
  return { result, rows };
}

function modelAloneCheck(rows: CaseTileRow[], curve: EffortCurve): CaseResult['modelAlone'] {
  const m = curve.modelAlone;
  if (!m) return null;
  const truth = predictionMisses(rows);
  return {
    expected: Number(m.expectedMissedBuildingTiles.toFixed(1)),
    low: Number(m.missedLow.toFixed(1)),
    high: Number(m.missedHigh.toFixed(1)),
    truth,
    inside: truth >= m.missedLow - 1e-9 && truth <= m.missedHigh + 1e-9,
  };
}

function printCase(r: CaseResult): void {
  const out = process.stdout;
  out.write(
    `\n${r.name} (${r.kind}; reference ${r.reference}): ${r.tiles} tiles, ${r.buildingTiles} with buildings; ` +
      `outside the reference's coverage ${(r.uncoveredShare * 100).toFixed(1)} % → ${r.verified ? 'verified' : 'UNVERIFIED'}; ` +
      `model output misses ${(r.predictionMisses * 100).toFixed(1)} % of building tiles` +
      (r.noveltyAuroc === null ? '' : `; novelty AUROC vs familiar ${r.noveltyAuroc}`) +
      `\n  scored in ${r.scoring.seconds.toFixed(1)} s (${r.scoring.tilesPerSecond.toFixed(1)} tiles/s), read ${r.scoring.look === 'original' ? 'as served' : r.scoring.look}\n`,
  );
  if (r.modelAlone) {
    const m = r.modelAlone;
    out.write(
      `  the model alone would miss ${m.expected} building tiles (${m.low}–${m.high}); true ${m.truth} ` +
        `${m.inside ? 'inside' : 'OUTSIDE'}\n`,
    );
  }
  out.write('  panel at      threshold  sent   expected (interval)        true     error\n');
  for (const p of r.panel) {
    out.write(
      `  ${p.at.padEnd(12)} ${p.threshold.toFixed(2).padStart(9)} ${String(p.sent).padStart(5)}   ` +
        `${(p.expected * 100).toFixed(1).padStart(5)} % (${(p.low * 100).toFixed(1)}–${(p.high * 100).toFixed(1)} %)`.padEnd(
          28,
        ) +
        `${(p.truth * 100).toFixed(1).padStart(6)} % ${(p.error * 100).toFixed(1).padStart(6)} pts ${p.inside ? 'inside' : 'OUTSIDE'}\n`,
    );
  }
  const l = r.labelled;
  out.write(
    `  with ${l.sampleSize} labels (${l.draws} draws): ` +
      l.coverage
        .map(
          (c) =>
            `${c.at} true ${(c.truth * 100).toFixed(1)} % inside ${(c.covered * 100).toFixed(0)} % of draws ` +
            `(mean ${(c.meanLow * 100).toFixed(1)}–${(c.meanHigh * 100).toFixed(1)} %` +
            (c.covered < 1 ? `; missed by at most ${(c.worstMiss * 100).toFixed(2)} pts)` : ')'),
        )
        .join('; ') +
      '\n',
  );
  out.write(
    `  guarantee ${l.guarantee.target * 100} % at δ ${l.guarantee.delta}: reached in ${(l.guarantee.achieved * 100).toFixed(0)} % of draws ` +
      `(mean recall ${(l.guarantee.meanAchievedRecall * 100).toFixed(1)} %), mean skipped ${(l.guarantee.meanSkipped * 100).toFixed(1)} %\n`,
  );
  for (const [recall, by] of Object.entries(r.skipped)) {
    const d = r.priorityVsModelOutput[recall];
    out.write(
      `  skippable at ${Number(recall) * 100} % true recall: ` +
        Object.entries(by)
          .map(([k, v]) => `${k} ${(v * 100).toFixed(1)} %`)
          .join(', ') +
        `; priority − modelOutput ${(d.difference * 100).toFixed(1)} pts ` +
        `(90 % bootstrap ${(d.low * 100).toFixed(1)} to ${(d.high * 100).toFixed(1)})\n`,
    );
  }
}

// ---- the demo world ---------------------------------------------------------------------------------------

function prepareDemo(): { dbPath: string; runId: number } {
  const prep = spawnSync('npx', ['tsx', 'scripts/demo.ts', '--prepare-only'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (prep.status !== 0) throw new Error('demo preparation failed');
  const line = JSON.parse(prep.stdout.trim().split('\n').pop()!) as { runId: number; dataDir: string };
  const dbPath = join(outDir, 'demo.db');
  rmSync(dbPath, { force: true });
  copyFileSync(join(line.dataDir, 'tilelens.db'), dbPath);
  return { dbPath, runId: line.runId };
}

function regionArea(worldDir: string, region: 'train' | 'new'): TrustCase['area'] {
  const world = JSON.parse(readFileSync(join(worldDir, 'world.json'), 'utf8')) as {
    regions: Record<string, { bbox: [number, number, number, number] }>;
  };
  const [w, s, e, n] = world.regions[region].bbox;
  // Inset a hair so the tiles on the edge are the region's, not their neighbours'.
  const d = 1e-7;
  return bboxPolygon([w + d, s + d, e - d, n - d]);
}

function demoCase(
  worldDir: string,
  region: 'train' | 'new',
  name: string,
  kind: TrustCase['kind'],
): TrustCase {
  const truth = new Map<string, boolean>();
  for (const t of readDemoTiles(worldDir)) if (t.region === region) truth.set(t.taskId, t.gtFraction > 0);
  return {
    name,
    kind,
    archive: join(worldDir, 'imagery.pmtiles'),
    area: regionArea(worldDir, region),
    truth,
  };
}

/** Prints and keeps what the reference's tile model learnt (its classifier and ranker, with reliability). */
async function reportTileModel(db: DatabaseHandle, runId: number, reference: string): Promise<void> {
  const state = (await getRun(db, runId))?.tileModel as unknown as TileModelState | undefined;
  if (!state) return;
  const report = tileModelReport(reference, state);
  tileModels.push(report);
  process.stdout.write(`\nreference ${reference}: tile model\n${tileModelLines(report).join('\n')}\n`);
}

async function demoCases(): Promise<CaseResult[]> {
  const { dbPath, runId } = prepareDemo();
  // A second world from the same recipe with another seed: places the reference run never saw, in its own style.
  const twinDir = join(outDir, 'world-seed-8');
  if (!existsSync(join(twinDir, 'world.json'))) await generateDemoWorld({ seed: 8, outDir: twinDir });
  const ctx = contextFor(await openDatabase(dbPath));
  await reportTileModel(ctx.db, runId, 'demo run');
  try {
    const twin = await runCase(
      ctx,
      runId,
      'demo run',
      demoCase(twinDir, 'train', 'demo-twin-region', 'in-distribution'),
      null,
    );
    const fresh = await runCase(
      ctx,
      runId,
      'demo run',
      demoCase(join(repoRoot, 'data/demo'), 'new', 'demo-new-region', 'shifted'),
      twin.rows,
    );
    return [twin.result, fresh.result];
  } finally {
    await closeContext(ctx);
  }
}

/** The restored look the last job named in its log ('original' when it named none). */
let lastLook = 'original';

function contextFor(db: DatabaseHandle): ScoringContext {
  return {
    db,
    dataDir: join(outDir, 'data'),
    log: (line) => {
      const look = /the tile model reads it (\w+)/.exec(line);
      if (look) lastLook = look[1];
    },
  };
}

async function closeContext(ctx: ScoringContext): Promise<void> {
  await closeImagerySources(ctx);
  await ctx.db.close();
}

// ---- main -------------------------------------------------------------------------------------------------

const started = performance.now();
const results: CaseResult[] = [];
const tileModels: TileModelReport[] = [];
try {
  if (!values['real-only']) {
    results.push(...(await demoCases()));
    for (const r of results) printCase(r);
  }
  if (!values['demo-only']) {
    for await (const { db, runId, reference, cases } of realDataCases(outDir, {
      leaveOneOut: values['leave-one-out'],
      models,
    })) {
      const ctx = contextFor(db);
      await reportTileModel(db, runId, reference);
      try {
        let familiar: CaseTileRow[] | null = null;
        for (const c of cases) {
          const { result, rows } = await runCase(ctx, runId, reference, c, familiar);
          if (c.kind === 'in-distribution' && familiar === null) familiar = rows;
          printCase(result);
          results.push(result);
        }
      } finally {
        await closeContext(ctx);
      }
    }
  }
} finally {
  await disposeScoringModels();
}
const acrossModels = models > 1 ? acrossModelsOf(results) : [];
for (const line of acrossModelsLines(acrossModels)) process.stdout.write(`${line}\n`);
process.stdout.write(
  `${JSON.stringify({ bench: 'trust', seconds: Number(((performance.now() - started) / 1000).toFixed(1)), tileModels, cases: results, acrossModels })}\n`,
);
