/**
 * Does a polygon's boundary cross or touch itself? A sweep line over its edges (Shamos & Hoey, 1976):
 * O(n log n) for n edges, so a 100,000-vertex area is checked in a fraction of a second where comparing
 * every pair of edges took a minute.
 *
 * Edges are straight in lon/lat, as GeoJSON and the tile grid read them. Consecutive edges of a ring
 * share their common vertex; any other meeting of two edges — a proper crossing, a vertex on another
 * edge, two rings sharing a vertex, edges lying on one another — makes the polygon invalid, as GEOS and
 * MapSwipe's check hold it (except that a hole touching its shell at one point is refused here too).
 *
 * The sweep is a generator so that a caller can share the thread while a large area is checked: it yields
 * (nothing) every few thousand events and returns the first meeting found, or null.
 */
import type { Position } from 'geojson';

export interface Crossing {
  /** Where the boundary meets itself, lon/lat. */
  at: [number, number];
  /** The rings whose edges meet (the same ring twice for a ring crossing itself). */
  rings: [number, number];
}

interface Segment {
  ax: number;
  ay: number;
  bx: number;
  by: number;
  /** Left endpoint (smaller x, then smaller y) and right endpoint. */
  lx: number;
  ly: number;
  rx: number;
  ry: number;
  ring: number;
  /** Position of the edge in its ring (after dropping repeated points) and the ring's edge count. */
  index: number;
  ringEdges: number;
}

/** > 0 when c lies left of (above) the directed line a→b, < 0 right of it, 0 on it. */
function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

/** c lies within the bounding box of a-b (used once c is known to be on the line a-b). */
function within(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): boolean {
  return Math.min(ax, bx) <= cx && cx <= Math.max(ax, bx) && Math.min(ay, by) <= cy && cy <= Math.max(ay, by);
}

function adjacent(s: Segment, t: Segment): boolean {
  if (s.ring !== t.ring) return false;
  const d = Math.abs(s.index - t.index);
  return d === 1 || d === s.ringEdges - 1;
}

/** Where two edges meet in a way a valid polygon does not allow, or null. */
export function edgesMeet(s: Segment, t: Segment): [number, number] | null {
  const o1 = orient(s.ax, s.ay, s.bx, s.by, t.ax, t.ay);
  const o2 = orient(s.ax, s.ay, s.bx, s.by, t.bx, t.by);
  const o3 = orient(t.ax, t.ay, t.bx, t.by, s.ax, s.ay);
  const o4 = orient(t.ax, t.ay, t.bx, t.by, s.bx, s.by);
  if (adjacent(s, t)) {
    // They share one vertex; they may meet elsewhere only by folding back along each other.
    if (o1 !== 0 || o2 !== 0) return null;
    const [px, py, ox, oy, qx, qy] =
      s.bx === t.ax && s.by === t.ay
        ? [s.bx, s.by, s.ax, s.ay, t.bx, t.by]
        : [s.ax, s.ay, s.bx, s.by, t.ax, t.ay];
    return (ox - px) * (qx - px) + (oy - py) * (qy - py) > 0 ? [px, py] : null;
  }
  if (((o1 > 0 && o2 < 0) || (o1 < 0 && o2 > 0)) && ((o3 > 0 && o4 < 0) || (o3 < 0 && o4 > 0))) {
    const t0 = o3 / (o3 - o4);
    return [s.ax + t0 * (s.bx - s.ax), s.ay + t0 * (s.by - s.ay)];
  }
  if (o1 === 0 && within(s.ax, s.ay, s.bx, s.by, t.ax, t.ay)) return [t.ax, t.ay];
  if (o2 === 0 && within(s.ax, s.ay, s.bx, s.by, t.bx, t.by)) return [t.bx, t.by];
  if (o3 === 0 && within(t.ax, t.ay, t.bx, t.by, s.ax, s.ay)) return [s.ax, s.ay];
  if (o4 === 0 && within(t.ax, t.ay, t.bx, t.by, s.bx, s.by)) return [s.bx, s.by];
  return null;
}

/** The edges of a polygon's rings, repeated points dropped. */
export function polygonEdges(rings: Position[][]): Segment[] {
  const out: Segment[] = [];
  rings.forEach((ring, r) => {
    const start = out.length;
    for (let i = 0; i + 1 < ring.length; i++) {
      const [ax, ay] = ring[i];
      const [bx, by] = ring[i + 1];
      if (ax === bx && ay === by) continue;
      const leftFirst = ax < bx || (ax === bx && ay < by);
      out.push({
        ax,
        ay,
        bx,
        by,
        lx: leftFirst ? ax : bx,
        ly: leftFirst ? ay : by,
        rx: leftFirst ? bx : ax,
        ry: leftFirst ? by : ay,
        ring: r,
        index: out.length - start,
        ringEdges: 0,
      });
    }
    for (let i = start; i < out.length; i++) out[i].ringEdges = out.length - start;
  });
  return out;
}

// ── the sweep's status: a treap ordered bottom to top along the sweep line, with parent links ──────────

interface Node {
  seg: Segment;
  prio: number;
  left: Node | null;
  right: Node | null;
  parent: Node | null;
}

class Status {
  root: Node | null = null;
  private seed = 0x2545f491;

  private random(): number {
    // xorshift: deterministic, so a check takes the same path every time.
    this.seed ^= this.seed << 13;
    this.seed ^= this.seed >>> 17;
    this.seed ^= this.seed << 5;
    return this.seed >>> 0;
  }

  /** Inserts with `below(seg, other)` deciding the side at each node. */
  insert(seg: Segment, below: (other: Segment) => boolean): Node {
    const node: Node = { seg, prio: this.random(), left: null, right: null, parent: null };
    if (!this.root) return (this.root = node);
    let at = this.root;
    for (;;) {
      if (below(at.seg)) {
        if (!at.left) {
          at.left = node;
          break;
        }
        at = at.left;
      } else {
        if (!at.right) {
          at.right = node;
          break;
        }
        at = at.right;
      }
    }
    node.parent = at;
    while (node.parent && node.parent.prio < node.prio) this.rotateUp(node);
    return node;
  }

  remove(node: Node): void {
    // Rotate down until it has at most one child, then splice it out.
    while (node.left && node.right) {
      const child = node.left.prio > node.right.prio ? node.left : node.right;
      this.rotateUp(child);
    }
    const child = node.left ?? node.right;
    if (child) child.parent = node.parent;
    this.replace(node, child);
  }

  prev(node: Node): Node | null {
    if (node.left) {
      let n = node.left;
      while (n.right) n = n.right;
      return n;
    }
    let n = node;
    while (n.parent && n.parent.left === n) n = n.parent;
    return n.parent;
  }

  next(node: Node): Node | null {
    if (node.right) {
      let n = node.right;
      while (n.left) n = n.left;
      return n;
    }
    let n = node;
    while (n.parent && n.parent.right === n) n = n.parent;
    return n.parent;
  }

  private replace(node: Node, by: Node | null): void {
    const p = node.parent;
    if (!p) this.root = by;
    else if (p.left === node) p.left = by;
    else p.right = by;
  }

  private rotateUp(node: Node): void {
    const p = node.parent!;
    const g = p.parent;
    if (p.left === node) {
      p.left = node.right;
      if (node.right) node.right.parent = p;
      node.right = p;
    } else {
      p.right = node.left;
      if (node.left) node.left.parent = p;
      node.left = p;
    }
    p.parent = node;
    node.parent = g;
    if (!g) this.root = node;
    else if (g.left === p) g.left = node;
    else g.right = node;
  }
}

const STEP = 4096;

/**
 * The first place the boundary of a polygon (its outer ring and holes, GeoJSON positions) meets itself,
 * or null when it does not. A generator: it yields every few thousand events (see `runToEnd`).
 */
export function* findCrossing(rings: Position[][]): Generator<void, Crossing | null> {
  const segs = polygonEdges(rings);
  const found = (at: [number, number], s: Segment, t: Segment): Crossing => ({
    at,
    rings: [Math.min(s.ring, t.ring), Math.max(s.ring, t.ring)],
  });

  // Events: x, then y, then removals before insertions, so that two edges sharing a vertex (neighbours,
  // by the check below) are never compared there. Encoded as indices: 2i insert, 2i+1 remove.
  const n = segs.length * 2;
  const ex = new Float64Array(n);
  const ey = new Float64Array(n);
  for (let i = 0; i < segs.length; i++) {
    ex[2 * i] = segs[i].lx;
    ey[2 * i] = segs[i].ly;
    ex[2 * i + 1] = segs[i].rx;
    ey[2 * i + 1] = segs[i].ry;
  }
  const events = new Int32Array(n);
  for (let i = 0; i < n; i++) events[i] = i;
  events.sort((a, b) => ex[a] - ex[b] || ey[a] - ey[b] || (b & 1) - (a & 1));
  yield;

  // A point where more than two edge ends meet is a vertex shared by edges that are not neighbours.
  for (let k = 0; k + 2 < n; k++) {
    const a = events[k];
    if (ex[a] !== ex[events[k + 2]] || ey[a] !== ey[events[k + 2]]) continue;
    // Name the rings involved: the lowest and highest of every edge ending here.
    let low = segs[a >> 1];
    let high = low;
    for (let j = k; j < n && ex[events[j]] === ex[a] && ey[events[j]] === ey[a]; j++) {
      const seg = segs[events[j] >> 1];
      if (seg.ring < low.ring) low = seg;
      if (seg.ring > high.ring) high = seg;
    }
    return found([ex[a], ey[a]], low, high);
  }

  const status = new Status();
  const nodes = new Array<Node | undefined>(segs.length);
  for (let k = 0; k < events.length; k++) {
    if (k % STEP === STEP - 1) yield;
    const e = events[k];
    const s = segs[e >> 1];
    if (e & 1) {
      const node = nodes[e >> 1]!;
      const below = status.prev(node);
      const above = status.next(node);
      status.remove(node);
      if (below && above) {
        const at = edgesMeet(below.seg, above.seg);
        if (at) return found(at, below.seg, above.seg);
      }
      continue;
    }
    let touching: Segment | undefined;
    const node = status.insert(s, (t) => {
      let o = orient(t.lx, t.ly, t.rx, t.ry, s.lx, s.ly);
      if (o === 0) {
        // The new edge starts on the line of t: on t itself is a meeting, found below; past its end, order by y.
        if (t.lx === t.rx && (s.ly > t.ry || s.ly < t.ly)) return s.ly < t.ly;
        if (!(s.lx === t.lx && s.ly === t.ly)) touching ??= t;
        o = orient(t.lx, t.ly, t.rx, t.ry, s.rx, s.ry);
      }
      return o < 0;
    });
    nodes[e >> 1] = node;
    if (touching) {
      const at = edgesMeet(s, touching);
      if (at) return found(at, s, touching);
    }
    for (const n of [status.prev(node), status.next(node)]) {
      if (!n) continue;
      const at = edgesMeet(s, n.seg);
      if (at) return found(at, s, n.seg);
    }
  }
  return null;
}
