/** The view state, written to the address bar with the selection whenever either changes. */
import { useEffect, useState } from 'preact/hooks';
import type { Selection } from '../state/selection.ts';
import { toQuery, type ViewState } from '../state/url-state.ts';

export function useUrlView(initial: ViewState, selection: Selection) {
  const [view, setView] = useState<ViewState>(initial);
  useEffect(() => {
    const query = toQuery({ ...view, patches: [...selection.patches], tiles: [...selection.tiles] });
    history.replaceState(null, '', `${location.pathname}?${query}`);
  }, [view, selection.version]);
  return [view, setView] as const;
}
