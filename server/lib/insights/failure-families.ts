/**
 * Failure families: the run's k-means clusters, split further into sub-clusters (k by silhouette inside each
 * cluster), each described by what goes wrong there. The run's own k is chosen for the whole space and on the
 * demo world it is 2 (undeveloped vs urbanised) — too coarse to tell parking lots from fields — so families are
 * defined one level finer.
 *
 * Per family: representatives (nearest its centroid), medoid, MMD-critic prototypes and criticisms (on a sample
 * ≤ 2000), the IoU histogram, pooled confusion counts, mean boundary IoU, the dominant error type and the mix of
 * groups (districts / datasets of origin).
 */
import { requireRun } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { getInsightRecord, saveInsightRecord } from '../db/insight-records.ts';
import { createRng, sampleIndices, takeRows } from '../analysis/random.ts';
import { sweepKMeans } from '../analysis/silhouette.ts';
import { readLatentRows, type LatentRows } from './latent-rows.ts';
import { medoid, mmdCritic } from './mmd-critic.ts';

export type DominantError = 'false_alarms' | 'missed_buildings' | 'boundary' | 'none';

export interface Family {
  /** `cluster.sub`, e.g. '0.3'. */
  id: string;
  cluster: number;
  sub: number;
  size: number;
  meanIou: number | null;
  /** Share of patches where label and prediction are both empty (IoU undefined). */
  emptyShare: number;
  iouHistogram: { edges: number[]; counts: number[] };
  pooled: { tp: number; fp: number; fn: number; iou: number | null };
  meanBoundaryIou: number | null;
  dominantError: DominantError;
  /** fp / (fp + fn) over the family's pixels; null without errors. */
  falseAlarmShare: number | null;
  groupMix: Record<string, number>;
  representatives: number[];
  medoid: number;
  prototypes: number[];
  criticisms: number[];
}

export interface FamiliesReport {
  runId: number;
  level: 'sub-clusters of the run clusters';
  rule: string;
  families: Family[];
  /** Patch idx → family id, for the latent view. */
  assignment: string[];
}

export interface FamilyOptions {
  maxSubClusters?: number;
  /** Sub-cluster count starts at ⌈size / targetFamilySize⌉: silhouette alone favours a few broad families. */
  targetFamilySize?: number;
  /** Clusters smaller than this stay one family. */
  minSplitSize?: number;
  sampleSize?: number;
  seed?: number;
  /** Pooled IoU at and above which a family has no dominant error. */
  goodIou?: number;
}

export const DOMINANT_ERROR_RULE =
  "'none' when the family's pooled IoU ≥ goodIou (0.85) or it has no error pixels; 'boundary' when its mean IoU ≥ 0.5 " +
  "and its mean boundary IoU is at least 0.15 below it; else 'false_alarms' when false-positive pixels outnumber " +
  "false negatives, 'missed_buildings' otherwise";

export function dominantError(
  pooled: { tp: number; fp: number; fn: number },
  meanIou: number | null,
  meanBoundaryIou: number | null,
  goodIou = 0.85,
): DominantError {
  const { tp, fp, fn } = pooled;
  if (fp + fn === 0 || tp / (tp + fp + fn) >= goodIou) return 'none';
  if (meanIou !== null && meanBoundaryIou !== null && meanIou >= 0.5 && meanBoundaryIou <= meanIou - 0.15)
    return 'boundary';
  return fp >= fn ? 'false_alarms' : 'missed_buildings';
}

const BIN_EDGES = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

function describe(
  rows: LatentRows,
  members: number[],
  cluster: number,
  sub: number,
  o: Required<FamilyOptions>,
): Family {
  const d = rows.k;
  const counts = new Array(BIN_EDGES.length - 1).fill(0);
  let iouSum = 0;
  let iouN = 0;
  let bSum = 0;
  let bN = 0;
  let empty = 0;
  const pooled = { tp: 0, fp: 0, fn: 0 };
  const groupMix: Record<string, number> = {};
  for (const i of members) {
    const v = rows.iou[i];
    if (Number.isFinite(v)) {
      iouSum += v;
      iouN++;
      counts[Math.min(counts.length - 1, Math.floor(v * 10))]++;
    } else empty++;
    if (Number.isFinite(rows.boundaryIou[i])) {
      bSum += rows.boundaryIou[i];
      bN++;
    }
    pooled.tp += rows.tp[i];
    pooled.fp += rows.fp[i];
    pooled.fn += rows.fn[i];
    groupMix[rows.groups[i]] = (groupMix[rows.groups[i]] ?? 0) + 1;
  }
  const meanIou = iouN ? iouSum / iouN : null;
  const meanB = bN ? bSum / bN : null;
  const pick = sampleIndices(members.length, o.sampleSize, createRng(o.seed + cluster * 100 + sub));
  const sample = Array.from(pick, (p) => members[p]);
  const X = takeRows(rows.pcs, d, sample);
  const centroid = new Float64Array(d);
  for (const i of members) for (let t = 0; t < d; t++) centroid[t] += rows.pcs[i * d + t] / members.length;
  const byDistance = members
    .map((i) => {
      let s = 0;
      for (let t = 0; t < d; t++) s += (rows.pcs[i * d + t] - centroid[t]) ** 2;
      return [s, i] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  const critic = mmdCritic(X, sample.length, d, { prototypes: 4, criticisms: 3 });
  const tot = pooled.tp + pooled.fp + pooled.fn;
  return {
    id: `${cluster}.${sub}`,
    cluster,
    sub,
    size: members.length,
    meanIou,
    emptyShare: empty / members.length,
    iouHistogram: { edges: BIN_EDGES, counts },
    pooled: { ...pooled, iou: tot ? pooled.tp / tot : null },
    meanBoundaryIou: meanB,
    dominantError: dominantError(pooled, meanIou, meanB, o.goodIou),
    falseAlarmShare: pooled.fp + pooled.fn ? pooled.fp / (pooled.fp + pooled.fn) : null,
    groupMix,
    representatives: byDistance.slice(0, 5).map(([, i]) => i),
    medoid: sample[medoid(X, sample.length, d)],
    prototypes: critic.prototypes.map((j) => sample[j]),
    criticisms: critic.criticisms.map((j) => sample[j]),
  };
}

/** Families of the rows (pure; the stored variant is `buildFamilies`). */
export function familiesOf(rows: LatentRows, options: FamilyOptions = {}): Omit<FamiliesReport, 'runId'> {
  const o: Required<FamilyOptions> = {
    maxSubClusters: options.maxSubClusters ?? 16,
    targetFamilySize: options.targetFamilySize ?? 200,
    minSplitSize: options.minSplitSize ?? 40,
    sampleSize: options.sampleSize ?? 2000,
    seed: options.seed ?? 7,
    goodIou: options.goodIou ?? 0.85,
  };
  const d = rows.k;
  const byCluster = new Map<number, number[]>();
  for (let i = 0; i < rows.n; i++) {
    const c = rows.cluster[i];
    if (!byCluster.has(c)) byCluster.set(c, []);
    byCluster.get(c)!.push(i);
  }
  const families: Family[] = [];
  const assignment = new Array<string>(rows.n);
  for (const [cluster, members] of [...byCluster.entries()].sort((a, b) => a[0] - b[0])) {
    let labels: Int32Array = new Int32Array(members.length);
    let nSub = 1;
    if (members.length >= o.minSplitSize) {
      const X = takeRows(rows.pcs, d, members);
      const kMin = Math.max(2, Math.ceil(members.length / o.targetFamilySize));
      const sweep = sweepKMeans(X, members.length, d, {
        kMin,
        kMax: Math.max(kMin, Math.min(o.maxSubClusters, Math.floor(members.length / 10))),
        seed: o.seed + cluster,
        fitSampleSize: 20_000,
        silhouetteSampleSize: 1000,
      });
      labels = sweep.labels;
      nSub = sweep.chosenK;
    }
    for (let s = 0; s < nSub; s++) {
      const sub = members.filter((_, j) => labels[j] === s);
      if (sub.length === 0) continue;
      const fam = describe(rows, sub, cluster, s, o);
      families.push(fam);
      for (const i of sub) assignment[i] = fam.id;
    }
  }
  return { level: 'sub-clusters of the run clusters', rule: DOMINANT_ERROR_RULE, families, assignment };
}

/** Computes the run's families and keeps them beside the run. */
export async function buildFamilies(
  db: DatabaseHandle,
  runId: number,
  options: FamilyOptions = {},
): Promise<FamiliesReport> {
  await requireRun(db, runId);
  const report = { runId, ...familiesOf(await readLatentRows(db, runId), options) };
  await saveInsightRecord(db, runId, 'families', report);
  return report;
}

/** The stored families, computed now when the run has none yet. */
export async function getFamilies(db: DatabaseHandle, runId: number): Promise<FamiliesReport> {
  return (await getInsightRecord<FamiliesReport>(db, runId, 'families')) ?? (await buildFamilies(db, runId));
}
