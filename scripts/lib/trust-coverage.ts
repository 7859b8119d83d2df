/**
 * Coverage of the labelled side's intervals and guarantee on a synthetic region with a known answer:
 * many seeded calibration samples, each labelled from the truth, each estimated as a project would be.
 * Used by tests/unit/trust-coverage.test.ts and scripts/bench/trust-sampling.ts.
 */
import { drawCalibrationSample } from '../../server/lib/trust/calibration-sample.ts';
import { estimateRegion, type LabelledSample } from '../../server/lib/trust/region-estimate.ts';
import {
  population,
  trueBuildingTiles,
  trueRecall,
  type PopulationKind,
  type TruthTile,
} from './trust-populations.ts';

export interface CoverageOptions {
  draws: number;
  size?: number;
  levels?: number[];
  thresholds?: number[];
  target?: number;
  delta?: number;
  tiles?: number;
  firstSeed?: number;
  /** Sample design's floor rate (see calibration-sample.ts). */
  floorRate?: number;
  /** Leave out the intervals (only the guarantee) or the guarantee (only the intervals). */
  only?: 'intervals' | 'guarantee';
}

export interface CoverageReport {
  kind: PopulationKind;
  tiles: number;
  buildingTiles: number;
  draws: number;
  size: number;
  /** level → share of draws whose building-tile interval holds the truth. */
  countCoverage: Record<string, number>;
  /** level → threshold → share of draws whose recall interval holds the true recall. */
  recallCoverage: Record<string, Record<string, number>>;
  trueRecall: Record<string, number>;
  /** Mean width of the recall interval at the first level, per threshold. */
  recallWidth: Record<string, number>;
  meanCountHalfWidth: number;
  guarantee: {
    target: number;
    delta: number;
    /** Share of draws whose chosen threshold really has recall ≥ target. */
    achieved: number;
    meanSkippedShare: number;
    meanTrueRecall: number;
    /** The best skip share any threshold reaching the target has, for comparison. */
    oracleSkippedShare: number;
  };
}

export function labelFromTruth(
  tiles: TruthTile[],
  sample: Awaited<ReturnType<typeof drawCalibrationSample>>,
): LabelledSample {
  const truth = new Map(tiles.map((t) => [t.taskId, t.holdsBuilding]));
  return {
    design: sample.design,
    tiles: sample.tiles.map((t) => ({ ...t, label: truth.get(t.taskId) ? 1 : 0 })),
  };
}

function oracleSkip(tiles: TruthTile[], target: number): number {
  const sorted = [...tiles].sort((a, b) => a.priority - b.priority);
  const total = trueBuildingTiles(tiles);
  if (total === 0) return 1;
  let missed = 0;
  let best = 0;
  for (let i = 0; i < sorted.length; i++) {
    // Skipping sorted[0..i] is a threshold only where the next priority differs.
    if (sorted[i].holdsBuilding) missed++;
    if (1 - missed / total < target) break;
    if (i + 1 === sorted.length || sorted[i + 1].priority > sorted[i].priority)
      best = (i + 1) / sorted.length;
  }
  return best;
}

export async function coverageStudy(kind: PopulationKind, o: CoverageOptions): Promise<CoverageReport> {
  const tiles = population(kind, o.tiles ?? 8000);
  const levels = o.levels ?? [0.9, 0.95];
  const thresholds = o.thresholds ?? [0.1, 0.3, 0.5, 0.7];
  const target = o.target ?? 0.95;
  const delta = o.delta ?? 0.1;
  const T = trueBuildingTiles(tiles);
  const truthRecall = Object.fromEntries(thresholds.map((t) => [String(t), trueRecall(tiles, t)]));
  const countHits = Object.fromEntries(levels.map((l) => [String(l), 0]));
  const recallHits = Object.fromEntries(
    levels.map((l) => [String(l), Object.fromEntries(thresholds.map((t) => [String(t), 0]))]),
  );
  const widths = Object.fromEntries(thresholds.map((t) => [String(t), 0]));
  let halfWidth = 0;
  let achieved = 0;
  let skipped = 0;
  let gRecall = 0;
  for (let d = 0; d < o.draws; d++) {
    const sample = await drawCalibrationSample(tiles, {
      size: o.size ?? 200,
      seed: (o.firstSeed ?? 1000) + d,
      ...(o.floorRate !== undefined ? { floorRate: o.floorRate } : {}),
    });
    const est = await estimateRegion(tiles, labelFromTruth(tiles, sample));
    for (const level of o.only === 'guarantee' ? [] : levels) {
      const c = est.buildingTiles(level);
      if (c.low <= T && T <= c.high) countHits[String(level)]++;
      if (level === levels[0]) halfWidth += (c.high - c.low) / 2;
      for (const t of thresholds) {
        const r = est.recallAt(t, level);
        const truth = truthRecall[String(t)];
        if (r.low <= truth + 1e-12 && truth <= r.high + 1e-12) recallHits[String(level)][String(t)]++;
        if (level === levels[0]) widths[String(t)] += r.high - r.low;
      }
    }
    if (o.only === 'intervals') continue;
    const g = est.guaranteedThreshold(target, delta);
    const r = trueRecall(tiles, g.threshold);
    if (r >= target) achieved++;
    skipped += g.skippedShare;
    gRecall += r;
  }
  const share = (v: number) => v / o.draws;
  return {
    kind,
    tiles: tiles.length,
    buildingTiles: T,
    draws: o.draws,
    size: o.size ?? 200,
    countCoverage: Object.fromEntries(Object.entries(countHits).map(([k, v]) => [k, share(v)])),
    recallCoverage: Object.fromEntries(
      Object.entries(recallHits).map(([k, m]) => [
        k,
        Object.fromEntries(Object.entries(m).map(([t, v]) => [t, share(v)])),
      ]),
    ),
    trueRecall: truthRecall,
    recallWidth: Object.fromEntries(Object.entries(widths).map(([t, v]) => [t, share(v)])),
    meanCountHalfWidth: share(halfWidth),
    guarantee: {
      target,
      delta,
      achieved: share(achieved),
      meanSkippedShare: share(skipped),
      meanTrueRecall: share(gRecall),
      oracleSkippedShare: oracleSkip(tiles, target),
    },
  };
}
