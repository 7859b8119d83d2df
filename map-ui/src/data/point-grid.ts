/**
 * A uniform grid over the latent view's 2-D positions, so a brush is answered without testing every point:
 * cells wholly inside the brush give their points as they are, cells wholly outside are skipped, and only
 * the points of the cells an edge of the brush passes through are tested one by one. Built by a counting
 * sort (O(n), 12 B per point); a query costs O(cells in the brush's box + points along its edge).
 *
 * Pure, so it runs in the selection worker (views/point-selector.worker.ts) and in the tests alike.
 * Inside means the even-odd rule, as `pointInPolygon` in latent-data.ts.
 */

export interface PointGrid {
  cols: number;
  rows: number;
  /** Lower-left corner and size of one cell, in point coordinates. */
  x0: number;
  y0: number;
  cellW: number;
  cellH: number;
  /** Points of cell c are order[start[c] .. start[c + 1]); cells row by row from the bottom. */
  start: Uint32Array;
  order: Uint32Array;
  x: Float32Array;
  y: Float32Array;
}

/** Points per cell the grid aims at: small enough that an edge cell is cheap, large enough that the grid is. */
const POINTS_PER_CELL = 8;
const MAX_SIDE = 2048;
/** In cell units: an edge within this of a cell's border marks the cell too, so rounding never skips one. */
const EPS = 1e-7;

export function buildPointGrid(x: Float32Array, y: Float32Array): PointGrid {
  const n = x.length;
  let xlo = Infinity,
    xhi = -Infinity,
    ylo = Infinity,
    yhi = -Infinity,
    finite = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i];
    const b = y[i];
    if (!(Number.isFinite(a) && Number.isFinite(b))) continue;
    finite++;
    if (a < xlo) xlo = a;
    if (a > xhi) xhi = a;
    if (b < ylo) ylo = b;
    if (b > yhi) yhi = b;
  }
  if (finite === 0) [xlo, xhi, ylo, yhi] = [0, 1, 0, 1];
  const side = Math.max(1, Math.min(MAX_SIDE, Math.round(Math.sqrt(finite / POINTS_PER_CELL))));
  const cols = side;
  const rows = side;
  // A hair wider than the data, so the largest coordinate falls in the last cell, not one past it.
  const cellW = (xhi - xlo || 1) / cols + Number.EPSILON * Math.abs(xhi || 1) * 4;
  const cellH = (yhi - ylo || 1) / rows + Number.EPSILON * Math.abs(yhi || 1) * 4;
  const cell = new Int32Array(n);
  const start = new Uint32Array(cols * rows + 1);
  for (let i = 0; i < n; i++) {
    const a = x[i];
    const b = y[i];
    if (!(Number.isFinite(a) && Number.isFinite(b))) {
      cell[i] = -1;
      continue;
    }
    const c = Math.min(cols - 1, Math.floor((a - xlo) / cellW));
    const r = Math.min(rows - 1, Math.floor((b - ylo) / cellH));
    const k = r * cols + c;
    cell[i] = k;
    start[k + 1]++;
  }
  for (let k = 0; k < cols * rows; k++) start[k + 1] += start[k];
  const fill = start.slice(0, cols * rows);
  const order = new Uint32Array(finite);
  for (let i = 0; i < n; i++) if (cell[i] >= 0) order[fill[cell[i]]++] = i;
  return { cols, rows, x0: xlo, y0: ylo, cellW, cellH, start, order, x, y };
}

/** Even-odd test of one point against a ring given as [x0, y0, x1, y1, …] (closed or not). */
export function insideRing(px: number, py: number, ring: ArrayLike<number>): boolean {
  let inside = false;
  const m = ring.length;
  for (let i = 0, j = m - 2; i < m; j = i, i += 2) {
    const xi = ring[i];
    const yi = ring[i + 1];
    const xj = ring[j];
    const yj = ring[j + 1];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Indices of the points inside a ring [x0, y0, x1, y1, …] in point coordinates, cell by cell (not sorted). */
export function pointsInRing(grid: PointGrid, ring: ArrayLike<number>): Uint32Array {
  const { cols, rows, x0, y0, cellW, cellH, start, order, x, y } = grid;
  const m = ring.length >> 1;
  if (m < 3) return new Uint32Array(0);
  // Ring in cell units.
  const gx = new Float64Array(m);
  const gy = new Float64Array(m);
  let cx0 = Infinity,
    cx1 = -Infinity,
    cy0 = Infinity,
    cy1 = -Infinity;
  for (let v = 0; v < m; v++) {
    gx[v] = (ring[2 * v] - x0) / cellW;
    gy[v] = (ring[2 * v + 1] - y0) / cellH;
    cx0 = Math.min(cx0, gx[v]);
    cx1 = Math.max(cx1, gx[v]);
    cy0 = Math.min(cy0, gy[v]);
    cy1 = Math.max(cy1, gy[v]);
  }
  const c0 = Math.max(0, Math.floor(cx0));
  const c1 = Math.min(cols - 1, Math.floor(cx1));
  const r0 = Math.max(0, Math.floor(cy0));
  const r1 = Math.min(rows - 1, Math.floor(cy1));
  if (c0 > c1 || r0 > r1) return new Uint32Array(0);
  const w = c1 - c0 + 1;
  const h = r1 - r0 + 1;

  // Cells an edge passes through (conservatively: touching counts), row by row along each edge.
  const edge = new Uint8Array(w * h);
  for (let v = 0; v < m; v++) {
    const ax = gx[v];
    const ay = gy[v];
    const bx = gx[(v + 1) % m];
    const by = gy[(v + 1) % m];
    const ylo = Math.min(ay, by);
    const yhi = Math.max(ay, by);
    for (let r = Math.max(r0, Math.floor(ylo - EPS)); r <= Math.min(r1, Math.floor(yhi + EPS)); r++) {
      // The part of the edge within this row's band [r, r + 1].
      let xa: number, xb: number;
      if (ay === by) {
        xa = ax;
        xb = bx;
      } else {
        const t0 = Math.min(1, Math.max(0, (r - ay) / (by - ay)));
        const t1 = Math.min(1, Math.max(0, (r + 1 - ay) / (by - ay)));
        xa = ax + (bx - ax) * t0;
        xb = ax + (bx - ax) * t1;
      }
      const lo = Math.max(c0, Math.floor(Math.min(xa, xb) - EPS));
      const hi = Math.min(c1, Math.floor(Math.max(xa, xb) + EPS));
      for (let c = lo; c <= hi; c++) edge[(r - r0) * w + (c - c0)] = 1;
    }
  }

  const out = new Uint32Array(order.length);
  let found = 0;
  const crossings: number[] = [];
  for (let r = r0; r <= r1; r++) {
    // Where the ring crosses the row's centre line: a cell no edge touches is inside iff an odd number
    // of crossings lie left of its centre.
    const yc = r + 0.5;
    crossings.length = 0;
    for (let v = 0, u = m - 1; v < m; u = v++) {
      if (gy[v] > yc !== gy[u] > yc)
        crossings.push(gx[v] + ((gx[u] - gx[v]) * (yc - gy[v])) / (gy[u] - gy[v]));
    }
    crossings.sort((a, b) => a - b);
    let left = 0;
    for (let c = c0; c <= c1; c++) {
      const k = r * cols + c;
      const from = start[k];
      const to = start[k + 1];
      if (from === to) continue;
      if (edge[(r - r0) * w + (c - c0)]) {
        for (let p = from; p < to; p++) {
          const i = order[p];
          if (insideRing(x[i], y[i], ring)) out[found++] = i;
        }
        continue;
      }
      const xc = c + 0.5;
      while (left < crossings.length && crossings[left] < xc) left++;
      if (left % 2 === 1) for (let p = from; p < to; p++) out[found++] = order[p];
    }
  }
  return out.slice(0, found);
}
