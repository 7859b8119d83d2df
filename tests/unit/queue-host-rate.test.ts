import { describe, expect, it } from 'vitest';
import {
  DEFAULT_IMAGERY_RATE,
  InProcessHostRateLimiter,
  parseHostRates,
  takeFromBucket,
} from '../../server/lib/queue/host-rate-limit.ts';

const RATE = { rate: 10, burst: 3 };

describe('the token bucket of an imagery host', () => {
  it('grants the burst at once, then one token per 1/rate seconds, and says how long to wait', () => {
    let bucket = { tokens: 3, refilledAt: 0 };
    const grants: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const r = takeFromBucket(bucket, RATE, 1, 0);
      bucket = r.bucket;
      grants.push(r.granted);
    }
    expect(grants).toEqual([true, true, true, false]);
    expect(takeFromBucket(bucket, RATE, 1, 0).waitMs).toBe(100);
    expect(takeFromBucket(bucket, RATE, 1, 100).granted).toBe(true);
    // Saved tokens never exceed the burst.
    expect(takeFromBucket({ tokens: 0, refilledAt: 0 }, RATE, 1, 60_000).bucket.tokens).toBe(2);
  });

  it('never refills twice for a clock that reads earlier than the last refill', () => {
    const r = takeFromBucket({ tokens: 0, refilledAt: 1_000 }, RATE, 1, 500);
    expect(r).toMatchObject({ granted: false, bucket: { tokens: 0, refilledAt: 1_000 } });
  });

  it('in process: waits on a clock, per host, and refuses a take larger than the burst', async () => {
    let now = 0;
    const limiter = new InProcessHostRateLimiter(
      { default: RATE, hosts: { slow: { rate: 1, burst: 1 } } },
      () => now,
    );
    expect(await limiter.take('a', 3)).toBe(0);
    expect(await limiter.take('slow')).toBe(0);
    now = 250;
    expect(await limiter.take('a', 2)).toBe(250);
    await expect(limiter.take('a', 4)).rejects.toMatchObject({ code: 'invalid-rate' });
    const aborted = AbortSignal.abort(new Error('cancelled'));
    await expect(limiter.take('slow', 1, aborted)).rejects.toThrow('cancelled');
  });

  it('the setting: RATE/BURST for every host, HOST=RATE/BURST for one, and a clear refusal otherwise', () => {
    expect(parseHostRates('5/10')).toEqual({ default: { rate: 5, burst: 10 }, hosts: {} });
    expect(parseHostRates('2.5/4, Tiles.Example.org=1/1,127.0.0.1:8080=30/60')).toEqual({
      default: { rate: 2.5, burst: 4 },
      hosts: { 'tiles.example.org': { rate: 1, burst: 1 }, '127.0.0.1:8080': { rate: 30, burst: 60 } },
    });
    // Only a host named: every other host keeps the default.
    expect(parseHostRates('a.org=1/2').default).toEqual(parseHostRates(DEFAULT_IMAGERY_RATE).default);
    for (const bad of ['', '10', '0/5', '5/0', '-1/3', '5/2.5', 'fast', '1/2,3/4', 'a b=1/2', 'a.org=1']) {
      expect(() => parseHostRates(bad), bad).toThrow(/imagery rate/);
    }
  });

  it('in process: a host named in the setting has its own bucket, matched without regard to case', async () => {
    let now = 0;
    const limiter = new InProcessHostRateLimiter(parseHostRates('100/100,slow.org=1/1'), () => now);
    expect(await limiter.take('SLOW.org')).toBe(0);
    const second = limiter.take('slow.org');
    // The default host is not slowed by the slow one.
    expect(await limiter.take('fast.org', 50)).toBe(0);
    now = 1_000;
    expect(await second).toBe(1_000);
  });
});
