/** The brush worker: indexes the latest positions and answers rings (see point-selector.ts). */
import { buildPointGrid, pointsInRing, type PointGrid } from '../data/point-grid.ts';
import { pointTree } from '../data/point-tree.ts';
import type { SelectorReply, SelectorRequest } from './point-selector.ts';

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SelectorRequest>) => void) | null;
  postMessage(message: SelectorReply, transfer: Transferable[]): void;
};

let grid: PointGrid | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.kind === 'points') {
    // The tree first: the plot's first frame waits for it, the first brush comes later.
    const index = pointTree(m.x, m.y);
    scope.postMessage({ kind: 'index', id: m.id, index }, [index]);
    grid = buildPointGrid(m.x, m.y);
    return;
  }
  // Sorted here, off the main thread: the selection store keeps ids ascending and then need not sort.
  const points = grid ? pointsInRing(grid, m.ring).sort() : new Uint32Array(0);
  scope.postMessage({ kind: 'ring', id: m.id, points }, [points.buffer]);
};
