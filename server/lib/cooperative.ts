/**
 * Long checks written once as generators that yield now and then, run two ways: to the end on the
 * calling thread (scripts, tests), or in slices that hand the thread back between them so a server keeps
 * answering other requests (its health route, tile requests) while one request checks a large input.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long one slice may hold the thread before the rest waits for the next turn of the event loop. */
export const SLICE_MS = 8;

export function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export async function runYielding<T>(steps: Generator<void, T>, sliceMs = SLICE_MS): Promise<T> {
  let started = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - started >= sliceMs) {
      await nextTurn();
      started = performance.now();
    }
  }
}
