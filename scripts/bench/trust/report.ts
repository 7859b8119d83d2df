/**
 * What the trust benchmark measures on one scored case: the effort panel's figures against the truth, how much
 * each ranking lets volunteers skip, and how well novelty tells this case from familiar tiles.
 */
import { createRng } from '../../../server/lib/analysis/random.ts';
import { auroc } from '../../../server/lib/analysis/rank-statistics.ts';
import {
  effortCurve,
  skippedAtRecall,
  thresholdForRecall,
  type EffortCurve,
  type EffortPoint,
  type TruthTile,
} from '../../../server/lib/scoring/effort.ts';
import type { TileClassifierJSON } from '../../../server/lib/analysis/tile-classifier.ts';
import type { TileModelState } from '../../../server/lib/analysis/tile-model.ts';
import type { ScoredTile } from '../../../server/lib/scored-tiles/scored-tile.ts';
import { randomScore } from '../../../server/lib/scoring/random-order.ts';
import { drawCalibrationSample, DEFAULT_SAMPLE_SIZE } from '../../../server/lib/trust/calibration-sample.ts';
import { estimateRegion } from '../../../server/lib/trust/region-estimate.ts';

export interface CaseTileRow {
  taskId: string;
  priority: number;
  buildingProb: number;
  buildingProbLow: number;
  buildingProbHigh: number;
  predFraction: number;
  maxProb: number;
  novelty: number;
  noveltyRatio: number;
  holdsBuilding: boolean;
}

export async function caseRows(
  tiles: AsyncIterable<ScoredTile> | Iterable<ScoredTile>,
  truth: Map<string, boolean>,
): Promise<CaseTileRow[]> {
  const rows: CaseTileRow[] = [];
  for await (const t of tiles) {
    const holds = truth.get(t.taskId);
    if (t.status !== 'scored' || holds === undefined) continue;
    rows.push({
      taskId: t.taskId,
      priority: t.priority,
      buildingProb: t.buildingProb,
      buildingProbLow: t.buildingProbLow ?? t.buildingProb,
      buildingProbHigh: t.buildingProbHigh ?? t.buildingProb,
      predFraction: t.predFraction,
      maxProb: t.maxProb ?? 0,
      novelty: t.novelty,
      noveltyRatio: t.noveltyRatio ?? 0,
      holdsBuilding: holds,
    });
  }
  return rows;
}

/** True recall of sending every tile with priority ≥ threshold. */
export function trueRecall(rows: CaseTileRow[], threshold: number): number {
  let held = 0;
  let all = 0;
  for (const r of rows) {
    if (!r.holdsBuilding) continue;
    all++;
    if (r.priority >= threshold) held++;
  }
  return all === 0 ? 1 : held / all;
}

export interface PanelCheck {
  /** 'default' or the recall the panel was asked for. */
  at: string;
  threshold: number;
  sent: number;
  expected: number;
  low: number;
  high: number;
  truth: number;
  inside: boolean;
  error: number;
}

function check(label: string, p: EffortPoint, rows: CaseTileRow[]): PanelCheck {
  const truth = trueRecall(rows, p.threshold);
  return {
    at: label,
    threshold: p.threshold,
    sent: p.sent,
    expected: p.expectedRecall,
    low: p.recallLow,
    high: p.recallHigh,
    truth,
    inside: truth >= p.recallLow - 1e-9 && truth <= p.recallHigh + 1e-9,
    error: p.expectedRecall - truth,
  };
}

export const DEFAULT_THRESHOLD = 0.5;
export const PANEL_TARGETS = [0.9, 0.95, 0.99];

/** The panel (the same effort curve the API serves) at the default threshold and at its thresholds for 90/95/99 %. */
export async function panelChecks(rows: CaseTileRow[], curve?: EffortCurve): Promise<PanelCheck[]> {
  curve ??= await effortCurveOf(rows);
  const at = curve.points.find((p) => Math.abs(p.threshold - DEFAULT_THRESHOLD) < 1e-9)!;
  const out = [check('default', at, rows)];
  for (const target of PANEL_TARGETS) {
    const p = thresholdForRecall(curve, target);
    if (p) out.push(check(`${Math.round(target * 100)} %`, p, rows));
  }
  return out;
}

export async function effortCurveOf(rows: CaseTileRow[]): Promise<EffortCurve> {
  return await effortCurve(
    rows.map((r) => ({
      priority: r.priority,
      buildingProb: r.buildingProb,
      buildingProbLow: r.buildingProbLow,
      buildingProbHigh: r.buildingProbHigh,
      covered: r.noveltyRatio <= 1,
    })),
  );
}

export const RANKINGS = ['priority', 'buildingProb', 'modelOutput', 'random', 'oracle'] as const;
export type Ranking = (typeof RANKINGS)[number];

/** The model's own output alone: the share it paints, its surest pixel breaking ties. */
const modelOutput = (r: CaseTileRow) => Math.min(1, 0.999 * r.predFraction + 0.001 * r.maxProb);

/** Share of `rows` volunteers may skip at a true recall when tiles go out by `score`, ties together. */
async function skippedShareBy(
  rows: CaseTileRow[],
  score: (r: CaseTileRow) => number,
  recall: number,
): Promise<number> {
  const tiles: TruthTile[] = rows.map((r) => ({
    priority: score(r),
    buildingProb: r.buildingProb,
    holdsBuilding: r.holdsBuilding,
  }));
  return (await skippedAtRecall(tiles, recall, 'priority')).skippedShare;
}

/**
 * Share of tiles each ranking lets volunteers skip at a true recall, tiles of equal score sent together. The oracle
 * knows the truth and gives the building tiles distinct scores, so that it too may leave the last (1 − recall) of
 * them unsent: the most any ranking can skip, not merely the share of empty tiles.
 */
export async function skippedShares(rows: CaseTileRow[], recall: number): Promise<Record<Ranking, number>> {
  const share = (score: (r: CaseTileRow) => number) => skippedShareBy(rows, score, recall);
  const order = new Map(rows.map((r, i) => [r, i]));
  return {
    priority: await share((r) => r.priority),
    buildingProb: await share((r) => r.buildingProb),
    modelOutput: await share(modelOutput),
    random: await share((r) => randomScore(r.taskId)),
    oracle: await share((r) => (r.holdsBuilding ? 0.5 + (0.5 * (order.get(r)! + 1)) / (rows.length + 1) : 0)),
  };
}

/** A difference of skipped shares with its bootstrap interval (tiles resampled, both rankings on each resample). */
export interface SkipDifference {
  difference: number;
  low: number;
  high: number;
}

/**
 * How far priority's skipped share lies from the model output's at a recall, and whether that is more than the
 * luck of which tiles the case holds: a 90 % interval over `reps` resamples of the tiles (seeded), so that "below"
 * or "above" is read against the noise of a few hundred tiles, not against zero.
 */
export async function priorityVsModelOutput(
  rows: CaseTileRow[],
  recall: number,
  reps = 400,
  seed = 1,
): Promise<SkipDifference> {
  const rng = createRng(seed);
  const skipped = (sample: CaseTileRow[], score: (r: CaseTileRow) => number) =>
    skippedShareBy(sample, score, recall);
  const difference = (await skipped(rows, (r) => r.priority)) - (await skipped(rows, modelOutput));
  const draws: number[] = [];
  const sample: CaseTileRow[] = new Array(rows.length);
  for (let k = 0; k < reps; k++) {
    for (let i = 0; i < rows.length; i++) sample[i] = rows[rng.int(rows.length)];
    draws.push((await skipped(sample, (r) => r.priority)) - (await skipped(sample, modelOutput)));
  }
  draws.sort((a, b) => a - b);
  const at = (q: number) => draws[Math.min(reps - 1, Math.max(0, Math.round(q * (reps - 1))))];
  return { difference, low: at(0.05), high: at(0.95) };
}

/** Building tiles the model's own output paints nothing on: what the model alone would miss. */
export function predictionMisses(rows: CaseTileRow[]): number {
  return rows.filter((r) => r.holdsBuilding && r.predFraction === 0).length;
}

export function predictionMissShare(rows: CaseTileRow[]): number {
  const buildings = rows.filter((r) => r.holdsBuilding).length;
  return buildings === 0 ? 0 : predictionMisses(rows) / buildings;
}

/** How well novelty tells this case's tiles from the familiar ones. */
export function noveltyAuroc(rows: CaseTileRow[], familiar: CaseTileRow[]): number {
  return auroc(
    rows.map((r) => r.noveltyRatio),
    familiar.map((r) => r.noveltyRatio),
  );
}

export interface LabelledStudy {
  draws: number;
  sampleSize: number;
  /** Per threshold checked: share of draws whose interval held the true recall, and the mean interval. */
  coverage: Array<{
    at: string;
    threshold: number;
    truth: number;
    covered: number;
    meanLow: number;
    meanHigh: number;
    /** How far the truth lay outside the interval in the draw that missed it by most (0 when none missed). */
    worstMiss: number;
  }>;
  guarantee: {
    target: number;
    delta: number;
    achieved: number;
    meanSkipped: number;
    meanAchievedRecall: number;
  };
}

/**
 * Many seeded calibration samples of one scored case, labelled from the truth as volunteers would answer them:
 * how often the labelled interval holds the true recall (at the default threshold and at the thresholds the
 * panel gives for 90 / 95 / 99 %), and what the recall guarantee delivers.
 */
export async function labelledStudy(
  rows: CaseTileRow[],
  draws: number,
  options: { size?: number; target?: number; delta?: number; level?: number } = {},
): Promise<LabelledStudy> {
  const target = options.target ?? 0.95;
  const delta = options.delta ?? 0.1;
  const level = options.level ?? 0.9;
  const size = Math.min(options.size ?? DEFAULT_SAMPLE_SIZE, rows.length);
  const tiles = rows.map((r) => ({ taskId: r.taskId, priority: r.priority, buildingProb: r.buildingProb }));
  const truth = new Map(rows.map((r) => [r.taskId, r.holdsBuilding]));
  const checks = new Map<
    string,
    { threshold: number; truth: number; covered: number; low: number; high: number; worstMiss: number }
  >();
  let achieved = 0;
  let skipped = 0;
  let achievedRecall = 0;
  for (let d = 0; d < draws; d++) {
    const sample = await drawCalibrationSample(tiles, { size, seed: 1000 + d });
    const labelled = {
      design: sample.design,
      tiles: sample.tiles.map((t) => ({ ...t, label: (truth.get(t.taskId) ? 1 : 0) as 0 | 1 })),
    };
    const est = await estimateRegion(tiles, labelled, { level });
    const curve = est.curve(101);
    const at: Array<[string, number]> = [['default', DEFAULT_THRESHOLD]];
    for (const want of PANEL_TARGETS) {
      let best: number | null = null;
      for (const p of curve) if (p.estimate >= want) best = p.threshold;
      if (best !== null) at.push([`${Math.round(want * 100)} %`, best]);
    }
    for (const [label, threshold] of at) {
      const f = est.recallAt(threshold);
      const t = trueRecall(rows, f.threshold);
      const c = checks.get(label) ?? { threshold: 0, truth: 0, covered: 0, low: 0, high: 0, worstMiss: 0 };
      c.threshold += f.threshold;
      c.truth += t;
      c.covered += t >= f.low - 1e-9 && t <= f.high + 1e-9 ? 1 : 0;
      c.worstMiss = Math.max(c.worstMiss, f.low - t, t - f.high);
      c.low += f.low;
      c.high += f.high;
      checks.set(label, c);
    }
    const g = est.guaranteedThreshold(target, delta);
    const t = trueRecall(rows, g.threshold);
    achievedRecall += t;
    if (t >= target - 1e-12) achieved++;
    skipped += g.skippedShare;
  }
  return {
    draws,
    sampleSize: size,
    coverage: [...checks.entries()].map(([at, c]) => ({
      at,
      threshold: c.threshold / draws,
      truth: c.truth / draws,
      covered: c.covered / draws,
      meanLow: c.low / draws,
      meanHigh: c.high / draws,
      worstMiss: c.worstMiss,
    })),
    guarantee: {
      target,
      delta,
      achieved: achieved / draws,
      meanSkipped: skipped / draws,
      meanAchievedRecall: achievedRecall / draws,
    },
  };
}

/** What a reference's tile model learnt, as the benchmark reports it: per fit, its groups, fit and reliability. */
export interface TileModelReport {
  reference: string;
  fits: Array<{
    role: 'classifier' | 'ranker';
    groups: string[];
    tiles: number;
    positives: number;
    logLoss: number;
    brier: number;
    baselineLogLoss: number;
    reliability: TileClassifierJSON['reliability'];
  }>;
}

export function tileModelReport(reference: string, state: TileModelState): TileModelReport {
  const fit = (role: 'classifier' | 'ranker', c: TileClassifierJSON) => ({
    role,
    groups: c.groups,
    tiles: c.tiles,
    positives: c.positives,
    logLoss: c.crossValidated.logLoss,
    brier: c.crossValidated.brier,
    baselineLogLoss: c.crossValidated.baselineLogLoss,
    reliability: c.reliability,
  });
  return {
    reference,
    fits: [fit('classifier', state.classifier), ...(state.ranker ? [fit('ranker', state.ranker)] : [])],
  };
}

/** The report as lines: cross-validated fit, and the reliability curve as predicted → observed per bin. */
export function tileModelLines(r: TileModelReport): string[] {
  const pct = (v: number) => `${(v * 100).toFixed(0)}`;
  return r.fits.flatMap((f) => [
    `  ${f.role} (${f.groups.join(' + ')}), ${f.tiles} held-out tiles, ${f.positives} with buildings: ` +
      `cross-validated log-loss ${f.logLoss.toFixed(3)} (base rate ${f.baselineLogLoss.toFixed(3)}), Brier ${f.brier.toFixed(3)}`,
    `    reliability, predicted → observed % (tiles): ` +
      f.reliability.map((b) => `${pct(b.predicted)}→${pct(b.observed)} (${b.tiles})`).join(', '),
  ]);
}

/** What one case measured against one reference model, as far as the summary across models reads it. */
export interface ModelCaseFigures {
  name: string;
  reference: string;
  predictionMisses: number;
  priorityVsModelOutput: Record<string, SkipDifference>;
  noveltyAuroc: number | null;
}

/** One case across the reference models it was scored against: each model's figure, in the models' order. */
export interface AcrossModels {
  name: string;
  models: number;
  predictionMisses: number[];
  /** Priority's skipped share minus the model output's, per recall ("0.95", "0.99"). */
  priorityVsModelOutput: Record<string, number[]>;
  noveltyAuroc: number[];
}

/** Groups the cases scored against several models of one recipe by name. */
export function acrossModelsOf(results: readonly ModelCaseFigures[]): AcrossModels[] {
  const byName = new Map<string, AcrossModels>();
  for (const r of results) {
    let a = byName.get(r.name);
    if (!a) {
      a = { name: r.name, models: 0, predictionMisses: [], priorityVsModelOutput: {}, noveltyAuroc: [] };
      byName.set(r.name, a);
    }
    a.models++;
    a.predictionMisses.push(r.predictionMisses);
    for (const [recall, d] of Object.entries(r.priorityVsModelOutput))
      (a.priorityVsModelOutput[recall] ??= []).push(d.difference);
    if (r.noveltyAuroc !== null) a.noveltyAuroc.push(r.noveltyAuroc);
  }
  return [...byName.values()].filter((a) => a.models > 1);
}

/** The summary as lines: every model's figure, then the lowest and the highest. */
export function acrossModelsLines(all: readonly AcrossModels[]): string[] {
  if (all.length === 0) return [];
  const span = (vs: number[], f: (v: number) => string) =>
    `${vs.map(f).join(' / ')} (${f(Math.min(...vs))} to ${f(Math.max(...vs))})`;
  const pts = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
  return [
    `\nacross ${all[0].models} reference models of one recipe (seeds 7, 8, …):`,
    ...all.map(
      (a) =>
        `  ${a.name}: model output misses ${span(a.predictionMisses, (v) => `${(v * 100).toFixed(1)} %`)}; ` +
        Object.entries(a.priorityVsModelOutput)
          .map(([recall, ds]) => `priority − model output at ${Number(recall) * 100} % ${span(ds, pts)} pts`)
          .join('; ') +
        (a.noveltyAuroc.length ? `; novelty AUROC ${span(a.noveltyAuroc, (v) => v.toFixed(3))}` : ''),
    ),
  ];
}
