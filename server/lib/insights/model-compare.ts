/**
 * Two models side by side: the same tiles scored in two projects (two models, or one model through two
 * reference runs), matched by task id, with the per-tile change in priority and in confidence (smoothed IoU and
 * its interval width). One SQL join streams the pairs; only the summary and the largest changes are kept.
 */
import { spearman } from '../analysis/rank-statistics.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { getProject } from '../db/projects-repo.ts';
import { countProjectTiles, iterateTilePairs, type TilePairRow } from '../db/tile-scores-repo.ts';
import { NotFoundError } from '../errors.ts';
import { tileFootprint } from '../geo/tiles.ts';

/** A tile scored in both projects (without the raw interval bounds), with what changed from A to B. */
export interface TileChange extends Omit<TilePairRow, 'lowA' | 'highA' | 'lowB' | 'highB'> {
  dPriority: number;
  dIouHat: number | null;
  /** Change of the interval width (B − A); null where either side has no interval. */
  dWidth: number | null;
}

export interface ComparisonSummary {
  a: { project: number; model: number; run: number; tiles: number };
  b: { project: number; model: number; run: number; tiles: number };
  matched: number;
  meanAbsDPriority: number;
  meanDPriority: number;
  meanDIouHat: number | null;
  /** Spearman correlation of the two priority rankings over matched tiles. */
  prioritySpearman: number | null;
  /** tierA → tierB → tile count. */
  tierChanges: Record<string, Record<string, number>>;
  largestChanges: TileChange[];
}

function change(r: TilePairRow): TileChange {
  const { lowA, highA, lowB, highB, ...rest } = r;
  return {
    ...rest,
    dPriority: r.priorityB - r.priorityA,
    dIouHat: r.iouHatA === null || r.iouHatB === null ? null : r.iouHatB - r.iouHatA,
    dWidth:
      lowA === null || highA === null || lowB === null || highB === null
        ? null
        : highB - lowB - (highA - lowA),
  };
}

async function projectInfo(db: DatabaseHandle, id: number) {
  const p = await getProject(db, id);
  if (!p) throw new NotFoundError(`project ${id}`, 'GET /api/projects lists them');
  return { project: p.id, model: p.modelId, run: p.runId, tiles: await countProjectTiles(db, p.id) };
}

/** Streams the matched tiles' changes. */
export async function* tileChanges(db: DatabaseHandle, a: number, b: number): AsyncGenerator<TileChange> {
  for await (const r of iterateTilePairs(db, a, b)) yield change(r);
}

export async function compareProjects(
  db: DatabaseHandle,
  a: number,
  b: number,
  largest = 20,
): Promise<ComparisonSummary> {
  const infoA = await projectInfo(db, a);
  const infoB = await projectInfo(db, b);
  const pa: number[] = [];
  const pb: number[] = [];
  let sumAbs = 0;
  let sum = 0;
  let sumIou = 0;
  let nIou = 0;
  const tiers: Record<string, Record<string, number>> = {};
  let top: TileChange[] = [];
  for await (const c of tileChanges(db, a, b)) {
    // Priorities are 8 bytes each per side: a project of a million tiles costs 16 MB for the rank correlation.
    pa.push(c.priorityA);
    pb.push(c.priorityB);
    sumAbs += Math.abs(c.dPriority);
    sum += c.dPriority;
    if (c.dIouHat !== null) {
      sumIou += c.dIouHat;
      nIou++;
    }
    (tiers[c.tierA] ??= {})[c.tierB] = (tiers[c.tierA]?.[c.tierB] ?? 0) + 1;
    top.push(c);
    if (top.length > largest * 4) {
      top.sort((x, y) => Math.abs(y.dPriority) - Math.abs(x.dPriority));
      top = top.slice(0, largest);
    }
  }
  top.sort((x, y) => Math.abs(y.dPriority) - Math.abs(x.dPriority));
  const n = pa.length;
  const rho = spearman(pa, pb);
  return {
    a: infoA,
    b: infoB,
    matched: n,
    meanAbsDPriority: n ? sumAbs / n : 0,
    meanDPriority: n ? sum / n : 0,
    meanDIouHat: nIou ? sumIou / nIou : null,
    prioritySpearman: Number.isFinite(rho) ? rho : null,
    tierChanges: tiers,
    largestChanges: top.slice(0, largest),
  };
}

/** The Δpriority layer: one polygon per matched tile, as GeoJSON text chunks. */
export async function* comparisonGeoJson(db: DatabaseHandle, a: number, b: number): AsyncGenerator<string> {
  await projectInfo(db, a);
  await projectInfo(db, b);
  yield '{"type":"FeatureCollection","features":[';
  let first = true;
  for await (const c of tileChanges(db, a, b)) {
    const props = {
      task_id: c.taskId,
      d_priority: Number(c.dPriority.toFixed(4)),
      d_iou_hat: c.dIouHat,
      d_width: c.dWidth,
      tier_a: c.tierA,
      tier_b: c.tierB,
    };
    yield `${first ? '' : ','}\n${JSON.stringify({ type: 'Feature', geometry: tileFootprint(c.z, c.x, c.y), properties: props })}`;
    first = false;
  }
  yield '\n]}\n';
}
