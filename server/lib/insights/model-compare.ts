/**
 * Two models side by side: the same tiles scored in two projects (two models, or one model through two
 * reference runs), matched by task id, with the per-tile change in priority and in confidence (smoothed IoU and
 * its interval width). One SQL join streams the pairs; only the summary and the largest changes are kept.
 */
import type { DatabaseHandle } from '../db/client.ts';
import { tileFootprint } from '../geo/tiles.ts';
import { InsightsError } from './run-dataset.ts';

export interface TileChange {
  taskId: string;
  z: number;
  x: number;
  y: number;
  priorityA: number;
  priorityB: number;
  dPriority: number;
  iouHatA: number | null;
  iouHatB: number | null;
  dIouHat: number | null;
  /** Change of the interval width (B − A); null where either side has no interval. */
  dWidth: number | null;
  tierA: string;
  tierB: string;
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

const PAIRS_SQL = `select a.task_id as taskId, a.z, a.x, a.y, a.priority as priorityA, b.priority as priorityB,
    a.iou_hat as iouHatA, b.iou_hat as iouHatB, a.iou_low as lowA, a.iou_high as highA, b.iou_low as lowB,
    b.iou_high as highB, a.tier as tierA, b.tier as tierB
  from tile_scores a join tile_scores b on b.project_id = ? and b.z = a.z and b.x = a.x and b.y = a.y
  where a.project_id = ?`;

type PairRow = Omit<TileChange, 'dPriority' | 'dIouHat' | 'dWidth'> & {
  lowA: number | null;
  highA: number | null;
  lowB: number | null;
  highB: number | null;
};

function change(r: PairRow): TileChange {
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

function projectInfo(db: DatabaseHandle, id: number) {
  const p = db.sqlite
    .prepare(
      'select id, model_id as model, run_id as run, (select count(*) from tile_scores t where t.project_id = p.id) as tiles from projects p where id = ?',
    )
    .get(id) as { id: number; model: number; run: number; tiles: number } | undefined;
  if (!p) throw new InsightsError(`project ${id} does not exist; GET /api/projects lists them`);
  return { project: p.id, model: p.model, run: p.run, tiles: p.tiles };
}

/** Streams the matched tiles' changes. */
export function* tileChanges(db: DatabaseHandle, a: number, b: number): Generator<TileChange> {
  for (const r of db.sqlite.prepare(PAIRS_SQL).iterate(b, a) as Iterable<PairRow>) yield change(r);
}

function ranks(values: number[]): Float64Array {
  const order = values.map((_, i) => i).sort((x, y) => values[x] - values[y]);
  const out = new Float64Array(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    for (let t = i; t <= j; t++) out[order[t]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = x.length;
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

export function compareProjects(db: DatabaseHandle, a: number, b: number, largest = 20): ComparisonSummary {
  const infoA = projectInfo(db, a);
  const infoB = projectInfo(db, b);
  const pa: number[] = [];
  const pb: number[] = [];
  let sumAbs = 0;
  let sum = 0;
  let sumIou = 0;
  let nIou = 0;
  const tiers: Record<string, Record<string, number>> = {};
  let top: TileChange[] = [];
  for (const c of tileChanges(db, a, b)) {
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
  return {
    a: infoA,
    b: infoB,
    matched: n,
    meanAbsDPriority: n ? sumAbs / n : 0,
    meanDPriority: n ? sum / n : 0,
    meanDIouHat: nIou ? sumIou / nIou : null,
    prioritySpearman: pearson(ranks(pa), ranks(pb)),
    tierChanges: tiers,
    largestChanges: top.slice(0, largest),
  };
}

/** The Δpriority layer: one polygon per matched tile, as GeoJSON text chunks. */
export function* comparisonGeoJson(db: DatabaseHandle, a: number, b: number): Generator<string> {
  projectInfo(db, a);
  projectInfo(db, b);
  yield '{"type":"FeatureCollection","features":[';
  let first = true;
  for (const c of tileChanges(db, a, b)) {
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
