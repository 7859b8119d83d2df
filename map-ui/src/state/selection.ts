/**
 * The one selection every view shares (the paper's linked brushing; Mosaic's Selection). It holds the
 * selected training patches (by idx) and the selected tiles of the new region (by task id), and who
 * made the selection. Views publish into it and subscribe to it; they never call each other, and a
 * view ignores updates it made itself by checking `source`.
 */

export type SelectionSource = 'latent' | 'map' | 'cluster' | 'gallery' | 'url' | 'inspector' | 'clear';

/** How the selection was drawn, kept so the view that drew it can show it again (e.g. from a link). */
export type Brush =
  | { kind: 'rectangle'; space: 'latent' | 'map'; coordinates: [number, number][] }
  | { kind: 'lasso'; space: 'latent' | 'map'; coordinates: [number, number][] }
  | { kind: 'cluster'; cluster: number };

export interface Selection {
  /** Training patch idx values, ascending, no duplicates. */
  patches: Uint32Array;
  /** Task ids (z-x-y) of the new region's tiles, sorted, no duplicates. */
  tiles: readonly string[];
  source: SelectionSource;
  brush: Brush | null;
  /** Increases with every change, so a subscriber can tell two equal-looking selections apart. */
  version: number;
}

export interface SelectionChange {
  patches?: Iterable<number>;
  tiles?: Iterable<string>;
  source: SelectionSource;
  brush?: Brush | null;
  /** 'replace' (default) drops the old selection; 'add' unites; 'remove' subtracts. */
  mode?: 'replace' | 'add' | 'remove';
}

export type Listener = (selection: Selection, previous: Selection) => void;

export interface SelectionStore {
  get(): Selection;
  set(change: SelectionChange): Selection;
  clear(source?: SelectionSource): Selection;
  subscribe(listener: Listener): () => void;
  /** True when patch idx is selected; O(log n). */
  hasPatch(idx: number): boolean;
  hasTile(taskId: string): boolean;
  isEmpty(): boolean;
}

function sortedUnique(values: Iterable<number>): Uint32Array {
  const a = Uint32Array.from(values);
  // A brush hands over ids already ascending (sorted off the main thread): no need to sort them again.
  let ascending = true;
  for (let i = 1; i < a.length && ascending; i++) ascending = a[i - 1] < a[i];
  if (ascending) return a;
  a.sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[n - 1]) a[n++] = a[i];
  return a.slice(0, n);
}

function binaryHas(a: Uint32Array, v: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] === v) return true;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

function combineNumbers(
  old: Uint32Array,
  next: Uint32Array,
  mode: 'replace' | 'add' | 'remove',
): Uint32Array {
  if (mode === 'replace') return next;
  if (mode === 'add') return sortedUnique([...old, ...next]);
  return old.filter((v) => !binaryHas(next, v));
}

function combineStrings(
  old: readonly string[],
  next: string[],
  mode: 'replace' | 'add' | 'remove',
): string[] {
  if (mode === 'replace') return [...new Set(next)].sort();
  if (mode === 'add') return [...new Set([...old, ...next])].sort();
  const drop = new Set(next);
  return old.filter((t) => !drop.has(t));
}

export function createSelectionStore(initial?: {
  patches?: Iterable<number>;
  tiles?: Iterable<string>;
}): SelectionStore {
  let state: Selection = {
    patches: sortedUnique(initial?.patches ?? []),
    tiles: [...new Set(initial?.tiles ?? [])].sort(),
    source: 'url',
    brush: null,
    version: 0,
  };
  let tileSet = new Set(state.tiles);
  const listeners = new Set<Listener>();

  function publish(next: Selection) {
    const previous = state;
    state = next;
    tileSet = new Set(next.tiles);
    // A listener that throws must not stop the others from hearing about the change.
    for (const l of [...listeners]) {
      try {
        l(state, previous);
      } catch (err) {
        console.error('tilelens: a selection listener failed', err);
      }
    }
    return state;
  }

  return {
    get: () => state,
    set(change) {
      const mode = change.mode ?? 'replace';
      const patches = combineNumbers(state.patches, sortedUnique(change.patches ?? []), mode);
      const tiles = combineStrings(state.tiles, [...(change.tiles ?? [])], mode);
      return publish({
        patches,
        tiles,
        source: change.source,
        brush: mode === 'replace' ? (change.brush ?? null) : null,
        version: state.version + 1,
      });
    },
    clear(source = 'clear') {
      return publish({
        patches: new Uint32Array(0),
        tiles: [],
        source,
        brush: null,
        version: state.version + 1,
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    hasPatch: (idx) => binaryHas(state.patches, idx),
    hasTile: (taskId) => tileSet.has(taskId),
    isEmpty: () => state.patches.length === 0 && state.tiles.length === 0,
  };
}
