/** The selection store's current selection, re-rendering the component on every change. */
import { useEffect, useState } from 'preact/hooks';
import type { Selection, SelectionStore } from '../state/selection.ts';

export function useSelection(store: SelectionStore): Selection {
  const [sel, setSel] = useState(store.get());
  useEffect(() => store.subscribe((s) => setSel(s)), [store]);
  return sel;
}
