/**
 * One rate limit per imagery host shared by all workers: two workers (each with its own connections, as on two
 * hosts), several requests in flight each, never take more than burst + rate × T tokens in any stretch T.
 * Grants are timed by the bucket's own clock (the database's), so the check is on counts, not durations.
 */
import { describe, expect, it } from 'vitest';
import {
  InProcessHostRateLimiter,
  PostgresHostRateLimiter,
  type HostRate,
  type HostRateLimiter,
} from '../../server/lib/queue/host-rate-limit.ts';
import { useLocalPostgres } from '../fixtures/local-postgres-suite.ts';

const server = useLocalPostgres('host-rate');

const RATE: HostRate = { rate: 40, burst: 5 };

/** Each worker runs `inFlight` request loops taking one token per request until `total` grants in all. */
async function hammer(workers: HostRateLimiter[], host: string, inFlight: number, total: number) {
  const grants: { worker: number; at: number }[] = [];
  let left = total;
  await Promise.all(
    workers.flatMap((w, worker) =>
      Array.from({ length: inFlight }, async () => {
        while (left > 0) {
          left--;
          grants.push({ worker, at: await w.take(host) });
        }
      }),
    ),
  );
  return grants;
}

/** The largest number of grants in any stretch, less what the bucket allows in it (≤ 0 when kept). */
function worstExcess(ats: number[], rate: HostRate): number {
  const sorted = [...ats].sort((a, b) => a - b);
  let worst = -Infinity;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const allowed = rate.burst + (rate.rate * (sorted[j] - sorted[i])) / 1000;
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}

describe('the imagery host rate limit', () => {
  it('on Postgres: two workers together never exceed burst + rate × T, and both are served', async () => {
    const a = await PostgresHostRateLimiter.open(server().url, { default: RATE });
    const b = await PostgresHostRateLimiter.open(server().url, { default: RATE });
    try {
      const grants = await hammer([a, b], 'tiles.example.org', 3, 60);
      expect(grants).toHaveLength(60);
      const ats = grants.map((g) => g.at);
      // 1e-3 tokens: the database's microsecond clock, as floating-point milliseconds.
      expect(worstExcess(ats, RATE)).toBeLessThanOrEqual(1e-3);
      expect(new Set(grants.map((g) => g.worker))).toEqual(new Set([0, 1]));
      // The limit binds: 60 grants at 40 a second with 5 saved up span at least (60 − 5) / 40 s.
      expect(Math.max(...ats) - Math.min(...ats)).toBeGreaterThanOrEqual(((60 - 5) / 40) * 1000 - 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('on Postgres: a take larger than the burst, or a rate of 0, is refused with the reason', async () => {
    const a = await PostgresHostRateLimiter.open(server().url, {
      default: RATE,
      hosts: { 'broken.example.org': { rate: 0, burst: 5 } },
    });
    try {
      await expect(a.take('tiles.example.org', 6)).rejects.toMatchObject({ code: 'invalid-rate' });
      await expect(a.take('broken.example.org')).rejects.toMatchObject({ code: 'invalid-rate' });
    } finally {
      await a.close();
    }
  });

  it("on Postgres: a worker's requests waiting together are granted by a statement per round, not one each", async () => {
    const wide: HostRate = { rate: 1000, burst: 500 };
    const a = await PostgresHostRateLimiter.open(server().url, { default: wide });
    try {
      const ats = await Promise.all(Array.from({ length: 200 }, () => a.take('wide.example.org')));
      expect(ats).toHaveLength(200);
      expect(a.stats.granted).toBe(200);
      // 200 requests at once, the bucket full: the first alone, the rest in a round or two (one each would be 200).
      expect(a.stats.statements).toBeLessThanOrEqual(4);
      expect(worstExcess(ats, wide)).toBeLessThanOrEqual(1e-3);
    } finally {
      await a.close();
    }
  });

  it('on Postgres: a request given up while it waits is refused with its reason; the others are served', async () => {
    const slow: HostRate = { rate: 2, burst: 1 };
    const a = await PostgresHostRateLimiter.open(server().url, { default: slow });
    try {
      await a.take('slow.example.org');
      const controller = new AbortController();
      const given = a.take('slow.example.org', 1, controller.signal);
      const next = a.take('slow.example.org');
      controller.abort(new Error('the chunk stopped'));
      await expect(given).rejects.toThrow('the chunk stopped');
      // The one left is granted when the bucket holds its token again (a second at most at 2 a second).
      expect(await next).toBeGreaterThan(0);
    } finally {
      await a.close();
    }
  });

  it('in process: the twin keeps the same bound for the workers of one process', async () => {
    const limiter = new InProcessHostRateLimiter({ default: RATE });
    const grants = await hammer([limiter, limiter], 'tiles.example.org', 3, 60);
    expect(grants).toHaveLength(60);
    expect(
      worstExcess(
        grants.map((g) => g.at),
        RATE,
      ),
    ).toBeLessThanOrEqual(1e-9);
  });
});
