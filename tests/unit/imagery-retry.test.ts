import { describe, expect, it } from 'vitest';
import { backoffDelay, retry, Semaphore, sleep } from '../../server/lib/imagery/retry.ts';

describe('backoffDelay', () => {
  it('doubles its ceiling per retry, caps it, and draws below it', () => {
    const top = () => 0.999999;
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, { baseMs: 100, maxMs: 1000, random: top }))).toEqual([
      99, 199, 399, 799, 999,
    ]);
    expect(backoffDelay(3, { baseMs: 100, maxMs: 1000, random: () => 0 })).toBe(0);
    expect(backoffDelay(2, { baseMs: 100, maxMs: 1000, random: () => 0.5 })).toBe(200);
  });
});

describe('retry', () => {
  it('stops at the first final result and counts attempts', async () => {
    const seen: number[] = [];
    const waits: number[] = [];
    const out = await retry(
      async (n) => {
        seen.push(n);
        return n < 2 ? 'transient' : 'done';
      },
      (v) => v === 'transient',
      { retries: 5, baseMs: 4, maxMs: 100, random: () => 0.5, onRetry: (_, d) => waits.push(d) },
    );
    expect(out).toEqual({ value: 'done', attempts: 3 });
    expect(seen).toEqual([0, 1, 2]);
    expect(waits).toEqual([2, 4]);
  });

  it('returns the last result once retries are spent', async () => {
    const out = await retry(
      async () => 'transient',
      () => true,
      { retries: 2, baseMs: 0, maxMs: 0 },
    );
    expect(out).toEqual({ value: 'transient', attempts: 3 });
  });

  it('an abort during the backoff rejects with the reason', async () => {
    const ac = new AbortController();
    const p = retry(
      async () => 'transient',
      () => true,
      { retries: 3, baseMs: 10_000, maxMs: 10_000, random: () => 0.9, signal: ac.signal },
    );
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
  });
});

describe('sleep', () => {
  it('rejects at once when already aborted', async () => {
    await expect(sleep(10_000, AbortSignal.abort(new Error('stop')))).rejects.toThrow('stop');
  });
});

describe('Semaphore', () => {
  it('admits at most `limit` and serves waiters in order', async () => {
    const sem = new Semaphore(2);
    const order: number[] = [];
    let active = 0;
    let peak = 0;
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        sem.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await sleep(5);
          order.push(i);
          active--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(sem.inFlight).toBe(0);
  });

  it('a waiter that aborts gives up its place without leaking a slot', async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    const ac = new AbortController();
    const waiting = sem.acquire(ac.signal);
    ac.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    release();
    release();
    expect(sem.inFlight).toBe(0);
    const again = await sem.acquire();
    expect(sem.inFlight).toBe(1);
    again();
  });

  it('a failing task releases its slot', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(sem.inFlight).toBe(0);
  });

  it('rejects a limit below 1', () => {
    expect(() => new Semaphore(0)).toThrow(/at least 1/);
  });
});
