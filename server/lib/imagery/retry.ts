/**
 * Pacing for calls to servers we do not control: exponential backoff with full jitter between
 * attempts, and a small semaphore that caps requests in flight.
 */

export interface BackoffOptions {
  /** Delay ceiling for the first retry, in ms; it doubles on each further retry. */
  baseMs: number;
  /** No retry waits longer than this. */
  maxMs: number;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

/**
 * Delay before retry number `retry` (0 for the first retry). Full jitter (a uniform draw below
 * the exponential ceiling) keeps many workers that failed together from retrying together.
 */
export function backoffDelay(retry: number, { baseMs, maxMs, random = Math.random }: BackoffOptions): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions extends BackoffOptions {
  /** Further attempts after the first. */
  retries: number;
  signal?: AbortSignal;
  /** Called before each wait, e.g. to count retries or log them. */
  onRetry?: (retry: number, delayMs: number) => void;
}

/**
 * Runs `attempt` until `shouldRetry` says its result is final or the retries are spent, and
 * returns the last result. Failures are values here, not exceptions: an exception from
 * `attempt` (or an abort) propagates at once, unretried.
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  shouldRetry: (result: T) => boolean,
  options: RetryOptions,
): Promise<{ value: T; attempts: number }> {
  for (let n = 0; ; n++) {
    const value = await attempt(n);
    if (n >= options.retries || !shouldRetry(value)) return { value, attempts: n + 1 };
    const delay = backoffDelay(n, options);
    options.onRetry?.(n, delay);
    await sleep(delay, options.signal);
  }
}

/** At most `limit` holders at once; waiters are served first come, first served. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`semaphore limit ${limit} must be an integer of at least 1`);
    }
  }

  get inFlight(): number {
    return this.active;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw signal.reason;
    if (this.active < this.limit) {
      this.active++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      this.waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    // The releaser handed its slot straight to us, so `active` is already counted.
    return this.releaser();
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}
