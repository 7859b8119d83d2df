/**
 * The latent view's positions indexed off the main thread: a worker files them once per data set in the
 * k-d tree regl-scatterplot hovers and picks with (handed back as its buffer, so the plot never builds or
 * copies one itself) and in the grid brushes are answered on (data/point-grid.ts); a brush is then a ring
 * in and point indices out, and the page keeps drawing meanwhile. Where no worker can run (tests in Node,
 * a worker that failed to load) the same code answers in the page.
 */
import { buildPointGrid, pointsInRing, type PointGrid } from '../data/point-grid.ts';
import { pointTree } from '../data/point-tree.ts';

export type SelectorRequest =
  | { kind: 'points'; id: number; x: Float32Array; y: Float32Array }
  | { kind: 'ring'; id: number; ring: Float64Array };

export type SelectorReply =
  { kind: 'index'; id: number; index: ArrayBuffer } | { kind: 'ring'; id: number; points: Uint32Array };

export interface PointSelector {
  /** The positions brushes are answered over (copied: the caller keeps its arrays); resolves to their k-d tree. */
  setPoints(x: Float32Array, y: Float32Array): Promise<ArrayBuffer>;
  /** Indices of the points inside a ring [x0, y0, x1, y1, …] in the same coordinates, ascending. */
  select(ring: ArrayLike<number>): Promise<Uint32Array>;
  destroy(): void;
}

function startWorker(): Worker | null {
  if (typeof Worker === 'undefined') return null;
  try {
    return new Worker(new URL('./point-selector.worker.ts', import.meta.url), { type: 'module' });
  } catch {
    return null;
  }
}

export function createPointSelector(): PointSelector {
  let worker = startWorker();
  // Kept for the page's own answers: a worker may fail after the points were sent.
  let points: { x: Float32Array; y: Float32Array } | null = null;
  let grid: PointGrid | null = null;
  let nextId = 1;
  const pending = new Map<number, { request: SelectorRequest; resolve: (r: never) => void }>();

  const inPage = (request: SelectorRequest): ArrayBuffer | Uint32Array => {
    if (request.kind === 'points') return pointTree(request.x, request.y);
    if (!points) return new Uint32Array(0);
    grid ??= buildPointGrid(points.x, points.y);
    return pointsInRing(grid, request.ring).sort();
  };
  const ask = <T>(request: SelectorRequest, transfer: Transferable[] = []): Promise<T> => {
    if (!worker) return Promise.resolve(inPage(request) as T);
    return new Promise<T>((resolve) => {
      pending.set(request.id, { request, resolve: resolve as (r: never) => void });
      worker!.postMessage(request, transfer);
    });
  };
  if (worker) {
    worker.onmessage = (e: MessageEvent<SelectorReply>) => {
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      p?.resolve((e.data.kind === 'index' ? e.data.index : e.data.points) as never);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      console.warn('tilelens: the brush worker failed; brushes are answered in the page', e.message);
      worker?.terminate();
      worker = null;
      for (const [id, p] of pending) {
        pending.delete(id);
        // Points sent were transferred away: answer from the page's own copy.
        const r = p.request.kind === 'points' && points ? { ...p.request, ...points } : p.request;
        p.resolve(inPage(r) as never);
      }
    };
  }

  return {
    setPoints(x, y) {
      points = { x, y };
      grid = null;
      const request: SelectorRequest = { kind: 'points', id: nextId++, x: x.slice(), y: y.slice() };
      return ask<ArrayBuffer>(request, [request.x.buffer, request.y.buffer]);
    },
    select(ring) {
      return ask<Uint32Array>({ kind: 'ring', id: nextId++, ring: Float64Array.from(ring) });
    },
    destroy() {
      worker?.terminate();
      worker = null;
      pending.clear();
    },
  };
}
