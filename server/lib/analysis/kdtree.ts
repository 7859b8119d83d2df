/**
 * A static kd-tree over a few thousand to a few tens of thousands of low-dimensional points (the 9 PCs), for
 * DBSCAN's ε-neighbourhoods and the novelty score's k-nearest distances. A uniform grid would need 3⁹ neighbour
 * cells per query in 9-D; the tree's cost grows with the points actually near the query instead.
 */
const LEAF = 16;

export class KdTree {
  readonly n: number;
  private readonly index: Int32Array;
  private readonly splitDim: Int32Array;
  private readonly splitVal: Float64Array;

  constructor(
    readonly points: Float32Array,
    readonly dims: number,
  ) {
    this.n = points.length / dims;
    this.index = Int32Array.from({ length: this.n }, (_, i) => i);
    const nodes = 4 * Math.ceil(this.n / LEAF) + 4;
    this.splitDim = new Int32Array(nodes).fill(-1);
    this.splitVal = new Float64Array(nodes);
    this.build(1, 0, this.n);
  }

  private build(node: number, lo: number, hi: number): void {
    if (hi - lo <= LEAF) return;
    const d = this.dims;
    let dim = 0;
    let spread = -1;
    for (let j = 0; j < d; j++) {
      let min = Infinity;
      let max = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = this.points[this.index[i] * d + j];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (max - min > spread) {
        spread = max - min;
        dim = j;
      }
    }
    if (spread <= 0) return;
    const mid = (lo + hi) >> 1;
    this.select(lo, hi - 1, mid, dim);
    this.splitDim[node] = dim;
    this.splitVal[node] = this.points[this.index[mid] * d + dim];
    this.build(2 * node, lo, mid);
    this.build(2 * node + 1, mid, hi);
  }

  /** Quickselect: index[k] gets the k-th smallest along dim, smaller before it, larger after. */
  private select(lo: number, hi: number, k: number, dim: number): void {
    const d = this.dims;
    const idx = this.index;
    const val = (i: number) => this.points[idx[i] * d + dim];
    while (hi > lo) {
      const pivot = val((lo + hi) >> 1);
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (val(i) < pivot) i++;
        while (val(j) > pivot) j--;
        if (i <= j) {
          const t = idx[i];
          idx[i] = idx[j];
          idx[j] = t;
          i++;
          j--;
        }
      }
      if (k <= j) hi = j;
      else if (k >= i) lo = i;
      else return;
    }
  }

  private dist2(q: ArrayLike<number>, qo: number, p: number): number {
    const d = this.dims;
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = q[qo + j] - this.points[p * d + j];
      s += t * t;
    }
    return s;
  }

  /**
   * Squared distances to the k nearest points, ascending, written into out (length k; Infinity where fewer exist).
   * `exclude` leaves one point out (leave-one-out distances of the tree's own points); `outIndex` receives the
   * points' indices.
   */
  knn(
    q: ArrayLike<number>,
    qo: number,
    k: number,
    out: Float64Array,
    exclude = -1,
    outIndex?: Int32Array,
  ): Float64Array {
    out.fill(Infinity);
    outIndex?.fill(-1);
    const visit = (node: number, lo: number, hi: number): void => {
      const dim = this.splitDim[node];
      if (hi - lo <= LEAF || dim < 0) {
        for (let i = lo; i < hi; i++) {
          const p = this.index[i];
          if (p === exclude) continue;
          const s = this.dist2(q, qo, p);
          if (s < out[k - 1]) {
            let j = k - 1;
            while (j > 0 && out[j - 1] > s) {
              out[j] = out[j - 1];
              if (outIndex) outIndex[j] = outIndex[j - 1];
              j--;
            }
            out[j] = s;
            if (outIndex) outIndex[j] = p;
          }
        }
        return;
      }
      const mid = (lo + hi) >> 1;
      const diff = q[qo + dim] - this.splitVal[node];
      const [near, nearLo, nearHi, far, farLo, farHi] =
        diff < 0 ? [2 * node, lo, mid, 2 * node + 1, mid, hi] : [2 * node + 1, mid, hi, 2 * node, lo, mid];
      visit(near, nearLo, nearHi);
      if (diff * diff < out[k - 1]) visit(far, farLo, farHi);
    };
    visit(1, 0, this.n);
    return out;
  }

  /** Indices of all points within radius (inclusive) of q. */
  radius(q: ArrayLike<number>, qo: number, radius: number, out: number[] = []): number[] {
    out.length = 0;
    const r2 = radius * radius;
    const visit = (node: number, lo: number, hi: number): void => {
      const dim = this.splitDim[node];
      if (hi - lo <= LEAF || dim < 0) {
        for (let i = lo; i < hi; i++) if (this.dist2(q, qo, this.index[i]) <= r2) out.push(this.index[i]);
        return;
      }
      const mid = (lo + hi) >> 1;
      const diff = q[qo + dim] - this.splitVal[node];
      if (diff <= radius) visit(2 * node, lo, mid);
      if (diff >= -radius) visit(2 * node + 1, mid, hi);
    };
    visit(1, 0, this.n);
    return out;
  }
}
