/**
 * The effort panel's figures for a project, and what they rest on.
 *
 * Without labels from the region they come from the reference run alone (scoring/effort.ts): the tile classifier's
 * probabilities, with intervals that widen where the region lies outside what the reference covered, and the word
 * "unverified" when too much of it does. Once volunteers have answered a calibration sample, the same curve comes
 * from their labels (region-estimate.ts): valid intervals, and a threshold with a recall guarantee. The panel, the
 * API and every export read this one call, so they always say the same thing.
 */
import type { ExportProject } from '../exports/project-info.ts';
import type { ScoringContext } from '../scoring/context.ts';
import type { EffortCoverage, EffortPoint, ModelAloneMisses } from '../scoring/effort.ts';
import { requireProject } from '../scoring/projects.ts';
import { describeRegionLook, type RegionLookFigure } from '../scoring/region-look.ts';
import { effortForProject } from '../scoring/tiles-repo.ts';
import { TrustError } from './errors.ts';
import { projectRegionEstimate } from './project-trust.ts';
import type { Guarantee } from './region-estimate.ts';

export type EffortBasis =
  | {
      kind: 'reference';
      /** Why no labels are used: none yet, or a sample drawn before the project was scored again. */
      reason: string;
      promise: string;
    }
  | { kind: 'labels'; labels: number; positives: number; sampleId: number; promise: string };

export interface ProjectEffort {
  points: EffortPoint[];
  /** Two-sided confidence of each point's recall interval. */
  confidence: number;
  coverage: EffortCoverage;
  basis: EffortBasis;
  /** With labels: the threshold whose recall reaches the target with probability ≥ 1 − δ. */
  guarantee: Guarantee | null;
  /** On the reference basis: the building tiles the model alone would miss (scoring/effort.ts). */
  modelAlone?: ModelAloneMisses;
  /** The look the scoring job read the tiles through (hazy or coarse imagery restored); null before a job ran. */
  regionLook: RegionLookFigure | null;
}

export interface ProjectEffortOptions {
  target?: number;
  delta?: number;
}

const pct = (v: number) => `${(v * 100).toFixed(0)} %`;

function referencePromise(coverage: EffortCoverage): string {
  return coverage.verified
    ? 'on the reference run alone: the region looks like the tiles it was checked on'
    : `unverified: ${pct(coverage.uncoveredShare)} of this region's tiles lie outside what the reference run covered, ` +
        'so its figures are estimates until volunteers label a calibration sample';
}

export async function projectEffort(
  ctx: ScoringContext,
  projectId: number,
  options: ProjectEffortOptions = {},
): Promise<ProjectEffort> {
  const reference = await effortForProject(ctx, projectId);
  const regionLook = describeRegionLook((await requireProject(ctx, projectId)).regionLook);
  let est: Awaited<ReturnType<typeof projectRegionEstimate>> | null = null;
  let reason = 'no calibration sample has labels yet';
  try {
    est = await projectRegionEstimate(ctx, projectId);
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    if (err.code === 'sample-stale')
      reason = 'the calibration sample was drawn before the project was scored again; draw a new one';
    else if (err.code !== 'sample-not-found' && err.code !== 'no-labels') throw err;
  }
  if (!est) {
    return {
      ...reference,
      basis: { kind: 'reference', reason, promise: referencePromise(reference.coverage) },
      guarantee: null,
      regionLook,
    };
  }
  const points: EffortPoint[] = est.curve(101).map((f) => ({
    threshold: f.threshold,
    sent: f.sent,
    skipped: f.skipped,
    expectedMissedBuildingTiles: f.missed.estimate,
    expectedRecall: f.estimate,
    recallLow: f.low,
    recallHigh: f.high,
    missedLow: f.missed.low,
    missedHigh: f.missed.high,
  }));
  const guarantee = est.guaranteedThreshold(options.target ?? 0.95, options.delta ?? 0.1);
  return {
    points,
    confidence: est.level,
    coverage: reference.coverage,
    basis: {
      kind: 'labels',
      labels: est.basis.labels,
      positives: est.basis.positives,
      sampleId: est.sampleId,
      promise: `on ${est.basis.labels} labels from this region (calibration sample ${est.sampleId})`,
    },
    guarantee,
    regionLook,
  };
}

/** What an export says its figures rest on. */
export async function projectFigures(
  ctx: ScoringContext,
  projectId: number,
): Promise<NonNullable<ExportProject['figures']>> {
  const e = await projectEffort(ctx, projectId);
  return {
    basis: e.basis.kind,
    verified: e.basis.kind === 'labels' || e.coverage.verified,
    labels: e.basis.kind === 'labels' ? e.basis.labels : 0,
    promise: e.basis.promise,
    ...(e.regionLook ? { look: e.regionLook.sentence } : {}),
  };
}
