/**
 * What the browser tests read of the app (the map, the plot, the selection store, the latent data, whether
 * the first load is done) on `window.__tilelens`. Off unless the page set `window.__tilelensTestHooks = true`
 * before the app started (the tests' init script does), so an ordinary page exposes nothing.
 */
declare global {
  interface Window {
    __tilelensTestHooks?: boolean;
    __tilelens?: Record<string, unknown>;
  }
}

const hooks =
  typeof window !== 'undefined' && window.__tilelensTestHooks === true ? (window.__tilelens ??= {}) : null;

export function exposeForTests(values: Record<string, unknown>): void {
  if (hooks) Object.assign(hooks, values);
}
