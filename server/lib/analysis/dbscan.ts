/**
 * DBSCAN, as the paper compares it with k-means. Density clustering is O(n·neighbours) with an index, but its
 * neighbour lists grow with n, so past `sampleSize` it runs on a sample and every other row joins the cluster of
 * its nearest core point within ε (or is noise).
 */
import { assertMatrix, EstimatorError } from './estimator.ts';
import { KdTree } from './kdtree.ts';
import { createRng, sampleIndices, takeRows } from './random.ts';

export interface DBSCANParams {
  eps: number;
  minPts?: number;
  sampleSize?: number;
  seed?: number;
}

export interface DBSCANResult {
  labels: Int32Array;
  nClusters: number;
  noiseShare: number;
  eps: number;
  minPts: number;
  sampled: number;
}

export class DBSCAN {
  readonly params: Required<DBSCANParams>;

  constructor(params: DBSCANParams) {
    this.params = {
      eps: params.eps,
      minPts: params.minPts ?? 10,
      sampleSize: params.sampleSize ?? 20_000,
      seed: params.seed ?? 0,
    };
    if (!(this.params.eps > 0))
      throw new EstimatorError(
        `DBSCAN: eps must be > 0, got ${params.eps}; suggestEps() gives one from the data`,
      );
    if (!Number.isInteger(this.params.minPts) || this.params.minPts < 1)
      throw new EstimatorError(`DBSCAN: minPts must be a positive integer, got ${params.minPts}`);
  }

  fitPredict(X: Float32Array, n: number, d: number): DBSCANResult {
    assertMatrix('DBSCAN.fitPredict', X, n, d);
    const { eps, minPts } = this.params;
    const sampleIdx = sampleIndices(n, this.params.sampleSize, createRng(this.params.seed));
    const m = sampleIdx.length;
    const S = m === n ? X.subarray(0, n * d) : takeRows(X, d, sampleIdx);
    const tree = new KdTree(S, d);
    const sLabels = new Int32Array(m).fill(-2); // −2 unvisited, −1 noise
    const core = new Uint8Array(m);
    const neighbours: number[] = [];
    const expand: number[] = [];
    let cluster = 0;
    for (let p = 0; p < m; p++) {
      if (sLabels[p] !== -2) continue;
      tree.radius(S, p * d, eps, neighbours);
      if (neighbours.length < minPts) {
        sLabels[p] = -1;
        continue;
      }
      core[p] = 1;
      sLabels[p] = cluster;
      // A point is claimed when first reached, so each is expanded at most once however many cores see it.
      expand.length = 0;
      const claim = (list: number[]) => {
        for (const r of list) {
          if (sLabels[r] === -1)
            sLabels[r] = cluster; // noise seen from a core point becomes a border point
          else if (sLabels[r] === -2) {
            sLabels[r] = cluster;
            expand.push(r);
          }
        }
      };
      claim(neighbours);
      while (expand.length) {
        const q = expand.pop()!;
        tree.radius(S, q * d, eps, neighbours);
        if (neighbours.length >= minPts) {
          core[q] = 1;
          claim(neighbours);
        }
      }
      cluster++;
    }
    let labels: Int32Array;
    if (m === n) labels = sLabels;
    else {
      const coreIdx: number[] = [];
      for (let i = 0; i < m; i++) if (core[i]) coreIdx.push(i);
      const coreTree = new KdTree(takeRows(S, d, coreIdx), d);
      const best = new Float64Array(1);
      const bestIdx = new Int32Array(1);
      labels = new Int32Array(n);
      let s = 0;
      for (let r = 0; r < n; r++) {
        if (s < m && sampleIdx[s] === r) {
          labels[r] = sLabels[s++];
          continue;
        }
        if (coreIdx.length === 0) {
          labels[r] = -1;
          continue;
        }
        coreTree.knn(X, r * d, 1, best, -1, bestIdx);
        labels[r] = best[0] <= eps * eps ? sLabels[coreIdx[bestIdx[0]]] : -1;
      }
    }
    let noise = 0;
    for (let i = 0; i < n; i++) if (labels[i] < 0) noise++;
    return { labels, nClusters: cluster, noiseShare: n ? noise / n : 0, eps, minPts, sampled: m };
  }
}

/**
 * ε from the k-distance curve (distance of each sampled point to its k-th neighbour, sorted): the knee, taken as
 * the point farthest from the chord between the curve's ends.
 */
export function suggestEps(
  X: Float32Array,
  n: number,
  d: number,
  options: { k?: number; sampleSize?: number; seed?: number } = {},
): number {
  assertMatrix('suggestEps', X, n, d);
  const k = options.k ?? 10;
  const idx = sampleIndices(n, options.sampleSize ?? 5000, createRng(options.seed ?? 0));
  const S = takeRows(X, d, idx);
  const m = idx.length;
  if (m <= k) throw new EstimatorError(`suggestEps: needs more than k=${k} rows, got ${m}`);
  const tree = new KdTree(S, d);
  const out = new Float64Array(k);
  const kd = new Float64Array(m);
  for (let i = 0; i < m; i++) kd[i] = Math.sqrt(tree.knn(S, i * d, k, out, i)[k - 1]);
  kd.sort();
  // Both axes scaled to [0, 1], so the knee does not depend on the units of the PCs.
  const span = kd[m - 1] - kd[0] || 1;
  let best = 0;
  let bestGap = -Infinity;
  for (let i = 0; i < m; i++) {
    const gap = i / (m - 1) - (kd[i] - kd[0]) / span;
    if (gap > bestGap) {
      bestGap = gap;
      best = i;
    }
  }
  return kd[best] > 0 ? kd[best] : kd[m - 1] || 1e-6;
}
