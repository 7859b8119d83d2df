/**
 * One rate limit per imagery host, shared by every worker that fetches from it: a token bucket (`rate`
 * tokens a second, at most `burst` saved up; a request takes one token per tile). Over any stretch of time T
 * the grants to all workers together are at most burst + rate × T. On the shared Postgres the bucket is a row
 * every worker takes from (`server/lib/db/host-rate-repo.ts`); the embedded store's twin keeps the same
 * bucket in memory for the workers of its one process.
 */
import * as hostRates from '../db/host-rate-repo.ts';
import { sleep } from '../imagery/retry.ts';
import { errorText } from './chunk-queue.ts';
import { QueueError } from './chunks.ts';

export interface HostRate {
  /** Tokens (tile requests) a second. */
  rate: number;
  /** The most tokens a quiet host saves up: the largest burst of requests allowed at once. */
  burst: number;
}

export interface HostRates {
  /** For every host not named in `hosts`. */
  default: HostRate;
  hosts?: Record<string, HostRate>;
}

export interface HostRateLimiter {
  /** Waits until `n` tokens of the host's bucket are granted; returns when they were (ms, the bucket's clock). */
  take(host: string, n?: number, signal?: AbortSignal): Promise<number>;
  close(): Promise<void>;
}

/** What `--imagery-rate` holds unless set: generous for a tile server of one's own, far below a flood. */
export const DEFAULT_IMAGERY_RATE = '100/200';

/**
 * Reads `RATE/BURST[,HOST=RATE/BURST…]` (tile requests a second, most saved up): the entry without a host is
 * every other host's. Throws with the reason on anything else, so a setting with a typo never starts a worker
 * that floods a host.
 */
export function parseHostRates(text: string): HostRates {
  const pair = (v: string, where: string): HostRate => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+)\s*$/.exec(v);
    const rate = m ? Number(m[1]) : NaN;
    const burst = m ? Number(m[2]) : NaN;
    if (!(rate > 0) || !(burst >= 1)) {
      throw new QueueError(
        'invalid-rate',
        `${where}: "${v.trim()}" is not RATE/BURST (tile requests a second above 0 / most at once, at least 1), e.g. 100/200`,
        { status: 400 },
      );
    }
    return { rate, burst };
  };
  let fallback: HostRate | undefined;
  const hosts: Record<string, HostRate> = {};
  for (const entry of text.split(',')) {
    const eq = entry.indexOf('=');
    if (eq < 0) {
      if (fallback)
        throw new QueueError('invalid-rate', `imagery rate "${text}" gives two defaults`, { status: 400 });
      fallback = pair(entry, 'imagery rate');
      continue;
    }
    const host = entry.slice(0, eq).trim().toLowerCase();
    if (!/^[a-z0-9.\-\[\]:]+$/.test(host)) {
      throw new QueueError(
        'invalid-rate',
        `imagery rate: "${host}" is not a host (name or address, port if any)`,
        {
          status: 400,
        },
      );
    }
    hosts[host] = pair(entry.slice(eq + 1), `imagery rate of ${host}`);
  }
  return { default: fallback ?? parseHostRates(DEFAULT_IMAGERY_RATE).default, hosts };
}

function rateOf(rates: HostRates, host: string, n: number): HostRate {
  const r = rates.hosts?.[host] ?? rates.default;
  if (!(r.rate > 0) || !(r.burst >= 1)) {
    throw new QueueError('invalid-rate', `host ${host}: rate must be above 0 and burst at least 1`, {
      status: 400,
    });
  }
  if (!Number.isInteger(n) || n < 1 || n > r.burst) {
    throw new QueueError(
      'invalid-rate',
      `host ${host}: a take is 1 to ${r.burst} tokens (the bucket's burst), got ${n}`,
      { status: 400 },
    );
  }
  return r;
}

export interface Bucket {
  tokens: number;
  refilledAt: number;
}

/** The bucket after a take at `now`, and whether it granted: the same rule as the Postgres row's statement. */
export function takeFromBucket(
  bucket: Bucket,
  rate: HostRate,
  n: number,
  now: number,
): { bucket: Bucket; granted: boolean; waitMs: number } {
  const t = Math.max(now, bucket.refilledAt);
  const avail = Math.min(rate.burst, bucket.tokens + ((t - bucket.refilledAt) / 1000) * rate.rate);
  const granted = avail >= n;
  return {
    bucket: { tokens: granted ? avail - n : avail, refilledAt: t },
    granted,
    waitMs: granted ? 0 : Math.ceil(((n - avail) / rate.rate) * 1000),
  };
}

/** The embedded store's limiter: the buckets of this process's workers, in memory. */
export class InProcessHostRateLimiter implements HostRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rates: HostRates,
    private readonly clock: () => number = Date.now,
  ) {}

  async take(hostName: string, n = 1, signal?: AbortSignal): Promise<number> {
    // Host names are not case-sensitive: one bucket however a template spells it.
    const host = hostName.toLowerCase();
    const rate = rateOf(this.rates, host, n);
    for (;;) {
      const now = this.clock();
      const bucket = this.buckets.get(host) ?? { tokens: rate.burst, refilledAt: now };
      const next = takeFromBucket(bucket, rate, n, now);
      this.buckets.set(host, next.bucket);
      if (next.granted) return next.bucket.refilledAt;
      await sleep(next.waitMs, signal);
    }
  }

  async close(): Promise<void> {}
}

interface Waiting {
  n: number;
  granted: (at: number) => void;
  refused: (err: unknown) => void;
}

/**
 * The shared limiter: every worker on every host takes from the same Postgres row per imagery host. The requests
 * of this process waiting for a host's tokens are asked for together, in their order of arrival: one statement
 * grants the longest run of them the bucket holds tokens for, so the row is locked once per round of requests,
 * not once per request, and a worker with many requests in flight does not queue its own statements on the
 * row's lock. Tokens are granted only to requests waiting for them: none are held back for later.
 */
export class PostgresHostRateLimiter implements HostRateLimiter {
  private readonly configured = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, Waiting[]>();
  private readonly taking = new Set<string>();
  /** Statements run against the buckets and tokens granted, for the benchmark. */
  readonly stats = { statements: 0, granted: 0 };

  private constructor(
    private readonly store: hostRates.QueueStoreHandle,
    private readonly rates: HostRates,
  ) {}

  static async open(url: string, rates: HostRates): Promise<PostgresHostRateLimiter> {
    const store = hostRates.openHostRateStore(url);
    try {
      await hostRates.installHostRates(store);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw new QueueError('queue-unreachable', `cannot open the imagery rate limits: ${errorText(err)}`, {
        status: 503,
        cause: err,
      });
    }
    return new PostgresHostRateLimiter(store, rates);
  }

  async take(hostName: string, n = 1, signal?: AbortSignal): Promise<number> {
    // Host names are not case-sensitive: one bucket however a template spells it.
    const host = hostName.toLowerCase();
    const rate = rateOf(this.rates, host, n);
    let configured = this.configured.get(host);
    if (!configured) {
      configured = hostRates.configureHostRate(this.store, host, rate.rate, rate.burst);
      configured.catch(() => this.configured.delete(host));
      this.configured.set(host, configured);
    }
    await configured;
    signal?.throwIfAborted();
    const queue = this.waiting.get(host) ?? [];
    this.waiting.set(host, queue);
    return await new Promise<number>((resolve, reject) => {
      const onAbort = () => {
        const i = queue.indexOf(waiting);
        if (i >= 0) queue.splice(i, 1);
        reject(signal!.reason);
      };
      const waiting: Waiting = {
        n,
        granted: (at) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(at);
        },
        refused: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      queue.push(waiting);
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.serve(host, rate);
    });
  }

  /** Takes tokens for the host's waiting requests, round after round, until none wait; one runner per host. */
  private async serve(host: string, rate: HostRate): Promise<void> {
    if (this.taking.has(host)) return;
    this.taking.add(host);
    const queue = this.waiting.get(host)!;
    try {
      while (queue.length > 0) {
        const asked = queue.slice();
        const wanted: number[] = [];
        let total = 0;
        for (const w of asked) {
          if (total + w.n > rate.burst) break;
          total += w.n;
          wanted.push(total);
        }
        let take: hostRates.HostTake | null;
        try {
          this.stats.statements++;
          take = await hostRates.takeHostTokens(this.store, host, wanted);
          if (!take) throw new QueueError('invalid-rate', `no rate limit row for host ${host}`);
        } catch (err) {
          // The round's requests hear of it; later ones try again.
          for (const w of asked.slice(0, wanted.length)) {
            const i = queue.indexOf(w);
            if (i >= 0) queue.splice(i, 1);
            w.refused(err);
          }
          continue;
        }
        if (take.granted === 0) {
          await sleep(take.waitMs);
          continue;
        }
        this.stats.granted += take.granted;
        let left = take.granted;
        for (const w of asked) {
          if (left < w.n) break;
          left -= w.n;
          const i = queue.indexOf(w);
          // A request given up while its round was asked for: its tokens were taken and go unused.
          if (i >= 0) queue.splice(i, 1);
          w.granted(take.at);
        }
      }
    } finally {
      this.taking.delete(host);
    }
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
