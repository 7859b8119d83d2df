/**
 * The latent view's data in the browser: training patches and the new region's tiles on two chosen
 * principal components, their attributes, and what is derived from them (point colours, the
 * smoothed-IoU surface, cluster outlines, tile ids for the map). Pure functions over typed arrays, so
 * the views stay thin and the tests run without a browser.
 */
import { taskId, tileCentre, type TileCoord } from '../../../server/lib/geo/tiles.ts';
import { categoryAt, dequantise, fetchColumns, valueAt, type Column, type DecodedColumns } from './columns.ts';
import {
  binColours,
  binOf,
  categoryColour,
  IOU_SCALE,
  NEW_TILE_COLOUR,
  NOVELTY_SCALE,
  NULL_COLOUR,
  type ContinuousScale,
} from './colour.ts';

export const COLOUR_BY = ['iou', 'iouHat', 'cluster', 'group', 'split', 'novelty'] as const;
export type ColourBy = (typeof COLOUR_BY)[number];

export const COLOUR_BY_LABEL: Record<ColourBy, string> = {
  iou: 'Model accuracy on the tile (IoU)',
  iouHat: 'Model confidence (smoothed IoU)',
  cluster: 'Family of similar tiles (cluster)',
  group: 'District',
  split: 'Training split',
  novelty: 'How unusual (novelty)',
};

export interface TileOrigin {
  z: number;
  x: number;
  y: number;
}

export interface PointSet {
  n: number;
  x: Float32Array;
  y: Float32Array;
  attributes: DecodedColumns;
  tileOrigin: TileOrigin | null;
}

export interface LatentData {
  runId: number;
  axes: [number, number];
  training: PointSet;
  project: PointSet | null;
  /** Data range mapped onto [−1, 1] on each axis, shared by both point sets. */
  xDomain: [number, number];
  yDomain: [number, number];
  /** Bytes downloaded for these points, for the "bytes per point" figure. */
  bytes: { positions: number; attributes: number };
}

export interface LatentSource {
  runId: number;
  projectId: number | null;
}

/** Attributes are per run / project and fetched once; positions per axis pair. */
export class LatentLoader {
  private attrs = new Map<string, Promise<DecodedColumns>>();
  private asOf: number | undefined;
  constructor(private readonly source: LatentSource, private readonly base = '') {}

  private attributes(path: string): Promise<DecodedColumns> {
    let p = this.attrs.get(path);
    if (!p) {
      p = fetchColumns(`${this.base}${path}`);
      this.attrs.set(path, p);
      p.catch(() => this.attrs.delete(path));
    }
    return p;
  }

  async load(axes: [number, number]): Promise<LatentData> {
    const { runId, projectId } = this.source;
    const [tp, ta] = await Promise.all([
      fetchColumns(`${this.base}/api/runs/${runId}/latent?x=${axes[0]}&y=${axes[1]}`),
      this.attributes(`/api/runs/${runId}/latent/attributes`),
    ]);
    const training = pointSet(tp, ta);
    let project: PointSet | null = null;
    let projectBytes = 0;
    if (projectId !== null) {
      if (this.asOf === undefined) {
        const pa = await this.attributes(`/api/projects/${projectId}/latent/attributes`);
        this.asOf = pa.meta.asOf as number;
      }
      const [pp, pa] = await Promise.all([
        fetchColumns(`${this.base}/api/projects/${projectId}/latent?x=${axes[0]}&y=${axes[1]}&asOf=${this.asOf}`),
        this.attributes(`/api/projects/${projectId}/latent/attributes`),
      ]);
      project = pointSet(pp, pa);
      projectBytes = pp.byteLength;
    }
    const xDomain = domainOf([training.x, project?.x]);
    const yDomain = domainOf([training.y, project?.y]);
    return {
      runId,
      axes,
      training,
      project,
      xDomain,
      yDomain,
      bytes: { positions: tp.byteLength + projectBytes, attributes: ta.byteLength },
    };
  }
}

function pointSet(positions: DecodedColumns, attributes: DecodedColumns): PointSet {
  if (positions.rows !== attributes.rows) {
    throw new Error(`positions hold ${positions.rows} rows but attributes ${attributes.rows}; the data changed while loading — reload`);
  }
  return {
    n: positions.rows,
    x: dequantise(positions.columns.x),
    y: dequantise(positions.columns.y),
    attributes,
    tileOrigin: (attributes.meta.tileOrigin as TileOrigin | null) ?? null,
  };
}

/**
 * The range the view opens on: the 0.5th to 99.5th percentile of the values (from a sample of at most
 * 20k), widened by 6 %, so a handful of far outliers do not squeeze everyone else into a corner.
 * Points outside still exist; zooming out shows them.
 */
export function domainOf(arrays: Array<Float32Array | undefined>, tail = 0.005): [number, number] {
  const total = arrays.reduce((n, a) => n + (a?.length ?? 0), 0);
  const stride = Math.max(1, Math.floor(total / 20_000));
  const sample: number[] = [];
  let k = 0;
  for (const a of arrays) {
    if (!a) continue;
    for (let i = 0; i < a.length; i++, k++) if (k % stride === 0 && Number.isFinite(a[i])) sample.push(a[i]);
  }
  if (sample.length === 0) return [-1, 1];
  sample.sort((x, y) => x - y);
  const at = (q: number) => sample[Math.min(sample.length - 1, Math.max(0, Math.round(q * (sample.length - 1))))];
  const lo = sample.length > 200 ? at(tail) : sample[0];
  const hi = sample.length > 200 ? at(1 - tail) : sample[sample.length - 1];
  if (hi - lo < 1e-9) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

export const toNdc = (v: number, [lo, hi]: [number, number]) => ((v - lo) / (hi - lo)) * 2 - 1;
export const fromNdc = (v: number, [lo, hi]: [number, number]) => lo + ((v + 1) / 2) * (hi - lo);

/** Training point i is patch idx i unless the run's idx have gaps; then the idx column says. */
export function patchIdxOf(data: LatentData, i: number): number {
  const col = data.training.attributes.columns.idx;
  return col ? col.codes[i] : i;
}

export function trainingPointOfIdx(data: LatentData): (idx: number) => number {
  const col = data.training.attributes.columns.idx;
  if (!col) return (idx) => (idx < data.training.n ? idx : -1);
  const map = new Map<number, number>();
  for (let i = 0; i < col.codes.length; i++) map.set(col.codes[i], i);
  return (idx) => map.get(idx) ?? -1;
}

/** The slippy tile of a point (training patch or project tile), or null when it has none. */
export function tileOfPoint(set: PointSet, i: number): TileCoord | null {
  const o = set.tileOrigin;
  const tx = set.attributes.columns.tileX;
  const ty = set.attributes.columns.tileY;
  if (!o || !tx || !ty) return null;
  if (tx.codes[i] === tx.header.nullCode || ty.codes[i] === ty.header.nullCode) return null;
  return { z: o.z, x: o.x + tx.codes[i], y: o.y + ty.codes[i] };
}

/** The task id (z-x-y) of a point's tile: the one way the app names a tile. */
export function taskIdOfPoint(set: PointSet, i: number): string | null {
  const t = tileOfPoint(set, i);
  return t ? taskId(t.z, t.x, t.y) : null;
}

/** The tiles of these training patches (by idx); patches without a tile have none. */
export function patchTiles(data: LatentData, patches: Iterable<number>): TileCoord[] {
  const pointOf = trainingPointOfIdx(data);
  const out: TileCoord[] = [];
  for (const idx of patches) {
    const i = pointOf(idx);
    const t = i >= 0 ? tileOfPoint(data.training, i) : null;
    if (t) out.push(t);
  }
  return out;
}

export interface PointEncoding {
  /** Per point, training first then project tiles: x, y in [−1, 1], valueA = palette index, valueB = 0 training / 1 new tile. */
  x: Float32Array;
  y: Float32Array;
  valueA: Float32Array;
  valueB: Float32Array;
  palette: string[];
  legend: Legend;
}

export type Legend =
  | { kind: 'continuous'; title: string; scale: ContinuousScale; nullLabel?: string; newTiles: string }
  | { kind: 'categorical'; title: string; items: Array<{ label: string; colour: string }>; newTiles: string };

const BINS = 32;

function continuous(scale: ContinuousScale, column: Column | undefined, i: number): number {
  return column ? binOf(scale, valueAt(column, i), BINS) : -1;
}

/** Palette codes for every point under a colouring; grey for a missing value, black for new tiles without one. */
export function encodePoints(data: LatentData, colourBy: ColourBy): PointEncoding {
  const t = data.training;
  const p = data.project;
  const n = t.n + (p?.n ?? 0);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const valueA = new Float32Array(n);
  const valueB = new Float32Array(n);
  for (let i = 0; i < t.n; i++) {
    x[i] = toNdc(t.x[i], data.xDomain);
    y[i] = toNdc(t.y[i], data.yDomain);
  }
  if (p) {
    for (let j = 0; j < p.n; j++) {
      x[t.n + j] = toNdc(p.x[j], data.xDomain);
      y[t.n + j] = toNdc(p.y[j], data.yDomain);
      valueB[t.n + j] = 1;
    }
  }
  const newTiles = 'tiles of the new region (larger dots)';
  let palette: string[];
  let legend: Legend;
  const tc = t.attributes.columns;
  const pc = p?.attributes.columns;
  if (colourBy === 'iou' || colourBy === 'iouHat' || colourBy === 'novelty') {
    const scale = colourBy === 'novelty' ? NOVELTY_SCALE : IOU_SCALE;
    palette = [...binColours(scale, BINS), NULL_COLOUR, NEW_TILE_COLOUR];
    const nullCode = BINS;
    const newCode = BINS + 1;
    for (let i = 0; i < t.n; i++) {
      const b = continuous(scale, tc[colourBy], i);
      valueA[i] = b < 0 ? nullCode : b;
    }
    if (p) {
      for (let j = 0; j < p.n; j++) {
        const b = colourBy === 'iou' ? -1 : continuous(scale, pc![colourBy], j);
        valueA[t.n + j] = b < 0 ? newCode : b;
      }
    }
    legend = {
      kind: 'continuous',
      title: COLOUR_BY_LABEL[colourBy],
      scale,
      nullLabel: colourBy === 'iou' ? 'no building in label or prediction (IoU undefined)' : 'no value',
      newTiles: colourBy === 'iou' ? `${newTiles}: not known before mapping` : newTiles,
    };
  } else {
    const column = tc[colourBy];
    const categories = column?.header.categories ?? [];
    palette = [...categories.map((_, k) => categoryColour(k)), NULL_COLOUR, NEW_TILE_COLOUR];
    const nullCode = categories.length;
    const newCode = categories.length + 1;
    for (let i = 0; i < t.n; i++) {
      const c = column ? column.codes[i] : column;
      valueA[i] = c === undefined || c === column?.header.nullCode || c >= categories.length ? nullCode : c;
    }
    if (p) for (let j = 0; j < p.n; j++) valueA[t.n + j] = newCode;
    legend = {
      kind: 'categorical',
      title: COLOUR_BY_LABEL[colourBy],
      items: categories.map((label, k) => ({ label, colour: palette[k] })),
      newTiles,
    };
  }
  return { x, y, valueA, valueB, palette, legend };
}

export interface SurfaceGrid {
  cols: number;
  rows: number;
  /** Mean smoothed IoU per cell (NaN where empty), row 0 at the top (highest y). */
  mean: Float32Array;
  /** 0..1: how much training data lies in and around the cell. */
  support: Float32Array;
  xDomain: [number, number];
  yDomain: [number, number];
}

/**
 * The smoothed-IoU surface behind the points: training patches binned on the displayed axes, the mean
 * iouHat per cell after a 3×3 blur, and a support that fades the surface where no training data lies
 * near (the IoU estimator extrapolates there).
 */
export function surfaceGrid(data: LatentData, cols = 96, rows = 96): SurfaceGrid {
  const t = data.training;
  const iouHat = t.attributes.columns.iouHat;
  const sum = new Float64Array(cols * rows);
  const count = new Float64Array(cols * rows);
  const [x0, x1] = data.xDomain;
  const [y0, y1] = data.yDomain;
  for (let i = 0; i < t.n; i++) {
    const v = iouHat ? valueAt(iouHat, i) : Number.NaN;
    if (!Number.isFinite(v)) continue;
    const c = Math.min(cols - 1, Math.max(0, Math.floor(((t.x[i] - x0) / (x1 - x0)) * cols)));
    const r = Math.min(rows - 1, Math.max(0, Math.floor(((y1 - t.y[i]) / (y1 - y0)) * rows)));
    sum[r * cols + c] += v;
    count[r * cols + c] += 1;
  }
  const mean = new Float32Array(cols * rows).fill(Number.NaN);
  const support = new Float32Array(cols * rows);
  const density = new Float64Array(cols * rows);
  let maxDensity = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let s = 0;
      let n = 0;
      for (let dr = -1; dr <= 1; dr++) {
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr;
          const cc = c + dc;
          if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
          const w = dr === 0 && dc === 0 ? 2 : 1;
          s += sum[rr * cols + cc] * w;
          n += count[rr * cols + cc] * w;
        }
      }
      const k = r * cols + c;
      density[k] = n;
      if (n > 0) mean[k] = s / n;
      if (n > maxDensity) maxDensity = n;
    }
  }
  // Square root: a cell with a quarter of the densest cell's data already shows at half strength.
  for (let k = 0; k < density.length; k++) support[k] = maxDensity > 0 ? Math.sqrt(density[k] / maxDensity) : 0;
  return { cols, rows, mean, support, xDomain: data.xDomain, yDomain: data.yDomain };
}

/** Convex hull (Andrew's monotone chain), counter-clockwise, first point not repeated. */
export function convexHull(points: Array<[number, number]>): Array<[number, number]> {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const cross = (o: [number, number], a: [number, number], b: [number, number]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Array<[number, number]> = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Array<[number, number]> = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  upper.pop();
  lower.pop();
  return lower.concat(upper);
}

/**
 * Outline of each urbanised cluster on the displayed axes: the hull of its points nearest the cluster's
 * 2-D centre (the closest `coverage` share), so a few stray points do not balloon the outline.
 */
export function clusterOutlines(data: LatentData, clusters: number[], coverage = 0.9, maxPoints = 20_000) {
  const t = data.training;
  const col = t.attributes.columns.cluster;
  if (!col) return [];
  return clusters.map((cluster) => {
    const members: number[] = [];
    for (let i = 0; i < t.n; i++) if (col.codes[i] === cluster) members.push(i);
    // A systematic sample bounds the sort on very large clusters; the hull of 20k points is the same shape.
    const stride = Math.max(1, Math.ceil(members.length / maxPoints));
    const sample = members.filter((_, k) => k % stride === 0);
    let cx = 0;
    let cy = 0;
    for (const i of sample) {
      cx += t.x[i];
      cy += t.y[i];
    }
    cx /= sample.length || 1;
    cy /= sample.length || 1;
    const sx = data.xDomain[1] - data.xDomain[0];
    const sy = data.yDomain[1] - data.yDomain[0];
    const byDistance = sample
      .map((i) => ({ i, d: ((t.x[i] - cx) / sx) ** 2 + ((t.y[i] - cy) / sy) ** 2 }))
      .sort((a, b) => a.d - b.d)
      .slice(0, Math.max(3, Math.ceil(sample.length * coverage)));
    const hull = convexHull(byDistance.map(({ i }) => [t.x[i], t.y[i]] as [number, number]));
    return { cluster, size: members.length, hull };
  });
}

/** Ray casting; ring as [x, y] pairs, closed or not. */
export function pointInPolygon(x: number, y: number, ring: Array<[number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The training patches and new-region tiles whose tile centre lies inside a lon/lat ring (a map drawing). */
export function pointsInMapRing(data: LatentData, ring: Array<[number, number]>): { patches: number[]; tiles: string[] } {
  const patches: number[] = [];
  const tiles: string[] = [];
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  for (const [x, y] of ring) {
    w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
  }
  const test = (set: PointSet, i: number) => {
    const t = tileOfPoint(set, i);
    if (!t) return false;
    const [lon, lat] = tileCentre(t.z, t.x, t.y);
    return lon >= w && lon <= e && lat >= s && lat <= n && pointInPolygon(lon, lat, ring);
  };
  for (let i = 0; i < data.training.n; i++) if (test(data.training, i)) patches.push(patchIdxOf(data, i));
  if (data.project) for (let j = 0; j < data.project.n; j++) if (test(data.project, j)) tiles.push(taskIdOfPoint(data.project, j)!);
  return { patches, tiles };
}

export { categoryAt, valueAt };
