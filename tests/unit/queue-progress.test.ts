import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, retryDelayMs, retryPolicy } from '../../server/lib/queue/chunk-queue.ts';
import { recentRate, summariseProgress } from '../../server/lib/queue/progress.ts';

const counts = (over: Partial<Record<'queued' | 'running' | 'done' | 'dead' | 'cancelled', number>>) => ({
  queued: 0,
  running: 0,
  done: 0,
  dead: 0,
  cancelled: 0,
  ...over,
});

describe('queue progress', () => {
  it('sums the rate over workers: tiles spread over each attempt, counted inside the window', () => {
    const now = 100_000;
    // Two workers, 10 s each at 5 tiles/s, and a chunk of 60 s of which half lies in the window.
    const rate = recentRate(
      [
        { done: 50, startedAt: now - 10_000, updatedAt: now },
        { done: 50, startedAt: now - 10_000, updatedAt: now },
        { done: 120, startedAt: now - 90_000, updatedAt: now - 30_000 },
      ],
      now,
      60_000,
    );
    expect(rate).toBeCloseTo((50 + 50 + 60) / 60, 10);
    // A run younger than the window is measured over its own age.
    expect(recentRate([{ done: 20, startedAt: now - 4_000, updatedAt: now }], now, 60_000)).toBeCloseTo(
      5,
      10,
    );
    expect(
      recentRate([{ done: 20, startedAt: now - 90_000, updatedAt: now - 61_000 }], now, 60_000),
    ).toBeNull();
    expect(recentRate([], now)).toBeNull();
  });

  it('gives an ETA from what is left and the rate, and none once nothing is active', () => {
    const activity = [{ done: 40, startedAt: 0, updatedAt: 10_000 }];
    const active = summariseProgress(
      1,
      { chunks: counts({ queued: 5, running: 1, done: 4 }), tiles: 100, done: 44, failed: 3 },
      activity,
      10_000,
    );
    expect(active).toMatchObject({
      state: 'active',
      chunks: { total: 10 },
      tiles: { total: 100, done: 44, failed: 3 },
      ratePerSecond: 4,
      etaSeconds: 14,
    });
    const done = summariseProgress(
      1,
      { chunks: counts({ done: 9, dead: 1 }), tiles: 100, done: 100, failed: 12 },
      activity,
      10_000,
    );
    expect(done).toMatchObject({ state: 'done', etaSeconds: null });
    const cancelled = summariseProgress(
      1,
      { chunks: counts({ done: 2, cancelled: 8 }), tiles: 100, done: 20, failed: 0 },
      [],
      10_000,
    );
    expect(cancelled).toMatchObject({ state: 'cancelled', etaSeconds: null, ratePerSecond: null });
    expect(summariseProgress(1, { chunks: counts({}), tiles: 0, done: 0, failed: 0 }, [], 0).state).toBe(
      'idle',
    );
  });

  it('backs off as pg-boss does: delay × 2^retry / 2, plus up to as much again', () => {
    const p = retryPolicy({ retryDelaySeconds: 2, retryBackoff: true });
    expect([1, 2, 3].map((k) => retryDelayMs(p, k, () => 0))).toEqual([2000, 4000, 8000]);
    expect([1, 2, 3].map((k) => retryDelayMs(p, k, () => 1))).toEqual([4000, 8000, 16000]);
    expect(retryDelayMs({ ...p, retryBackoff: false }, 3, () => 1)).toBe(2000);
    expect(retryPolicy()).toEqual(DEFAULT_RETRY_POLICY);
    expect(() => retryPolicy({ leaseSeconds: 0 })).toThrow(/leaseSeconds/);
    expect(() => retryPolicy({ retryDelaySeconds: 0.5 })).toThrow(/retryDelaySeconds/);
  });
});
