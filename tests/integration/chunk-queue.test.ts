/**
 * One suite for every engine of the chunk queue: the in-process one of the embedded store and pg-boss on a
 * Postgres this file starts. Handlers are the tests' real range handler (a digest per tile, recorded as the
 * chunk's output); assertions are on counts, records and orderings, never on how long anything took, except
 * that a retry never starts before its back-off allows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChunkStoppedError,
  type ChunkContext,
  type ChunkHandler,
  type ChunkQueue,
  type ChunkRecord,
  type ChunkWorker,
  type RetryPolicy,
} from '../../server/lib/queue/chunk-queue.ts';
import { rangeChunks, type Chunk } from '../../server/lib/queue/chunks.ts';
import { InProcessChunkQueue } from '../../server/lib/queue/in-process-queue.ts';
import { openPgBossQueue } from '../../server/lib/queue/pg-boss-queue.ts';
import { deferred, rangeHandler, tileValue, until, type TileOutput } from '../fixtures/queue-handlers.ts';
import { useLocalPostgres } from '../fixtures/local-postgres-suite.ts';

const server = useLocalPostgres('queue');

interface Engine {
  name: string;
  /** A queue as one worker process sees it. */
  open(): Promise<ChunkQueue>;
  /** True when two open() calls are two processes' views of one queue (else workers share one instance). */
  shared: boolean;
  firstProject: number;
}

const engines: Engine[] = [
  { name: 'in-process', open: async () => new InProcessChunkQueue(), shared: false, firstProject: 1 },
  {
    name: 'pg-boss',
    open: async () => await openPgBossQueue({ url: server().url, maintenanceIntervalSeconds: 1 }),
    shared: true,
    firstProject: 1001,
  },
];

/** The handler, keeping what each of its attempts threw (a ChunkStoppedError when the queue stopped it). */
function keepingStops(handler: ChunkHandler, stops: unknown[]): ChunkHandler {
  return async (chunk, ctx) => {
    try {
      return await handler(chunk, ctx);
    } catch (err) {
      stops.push(err);
      throw err;
    }
  };
}

const FAST: Partial<RetryPolicy> = {
  retryLimit: 2,
  retryDelaySeconds: 0,
  retryBackoff: false,
  leaseSeconds: 60,
};

describe.each(engines)('chunk queue on $name', (engine) => {
  let nextProject = engine.firstProject;
  const queues: ChunkQueue[] = [];
  const workers: ChunkWorker[] = [];
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    for (const q of queues.splice(0)) await q.close();
  });

  async function open(): Promise<ChunkQueue> {
    const q = await engine.open();
    queues.push(q);
    return q;
  }
  async function work(q: ChunkQueue, ...args: Parameters<ChunkQueue['work']>): Promise<ChunkWorker> {
    const w = await q.work(args[0], { pollMs: 50, ...args[1] });
    workers.push(w);
    return w;
  }
  async function records(q: ChunkQueue, projectId: number): Promise<ChunkRecord[]> {
    const out: ChunkRecord[] = [];
    for await (const r of q.records(projectId)) out.push(r);
    return out;
  }
  async function finished(q: ChunkQueue, projectId: number): Promise<void> {
    await until(async () => (await q.progress(projectId)).state !== 'active');
  }
  function tilesOf(rs: ChunkRecord[]): [number, string][] {
    return rs.flatMap((r) => (r.output as TileOutput | null)?.tiles ?? []);
  }
  function expectEveryTileOnce(rs: ChunkRecord[], projectId: number, count: number): void {
    const tiles = tilesOf(rs).sort((a, b) => a[0] - b[0]);
    expect(tiles.map((t) => t[0])).toEqual(Array.from({ length: count }, (_, i) => i));
    for (const [i, v] of tiles) expect(v).toBe(tileValue(projectId, i));
  }
  const noDead = { onDead: async () => undefined };

  it('hands every chunk to the workers sharing the queue, every tile once, and sums their progress', async () => {
    const project = nextProject++;
    const q1 = await open();
    const q2 = engine.shared ? await open() : q1;
    await q1.send(project, rangeChunks(project, 78, 8), FAST);
    const queued = await q2.progress(project);
    expect(queued).toMatchObject({
      state: 'active',
      chunks: { total: 10, queued: 10, running: 0, done: 0 },
      tiles: { total: 78, done: 0, failed: 0 },
    });
    const handler = rangeHandler({ afterBatch: () => new Promise((r) => setTimeout(r, 5)) });
    await work(q1, handler, { ...noDead, concurrency: 2 });
    await work(q2, handler, { ...noDead, concurrency: 2 });
    await finished(q1, project);

    const rs = await records(q2, project);
    expect(rs.map((r) => [r.seq, r.state, r.attempt])).toEqual(rs.map((_, i) => [i, 'done', 1]));
    expectEveryTileOnce(rs, project, 78);
    const progress = await q1.progress(project);
    expect(progress).toMatchObject({
      state: 'done',
      chunks: { total: 10, done: 10, queued: 0, running: 0, dead: 0, cancelled: 0 },
      tiles: { total: 78, done: 78, failed: 0 },
      etaSeconds: null,
    });
    expect(progress.ratePerSecond).toBeGreaterThan(0);
  });

  it('tries a chunk whose handler throws again, never before its back-off, until it succeeds', async () => {
    const project = nextProject++;
    const q = await open();
    const starts: number[] = [];
    const failures: number[] = [];
    const handler = rangeHandler({
      onAttempt: (chunk, ctx) => {
        if (chunk.seq !== 1) return;
        starts.push(Date.now());
        if (ctx.attempt < 3) {
          failures.push(Date.now());
          throw new Error(`imagery timed out (attempt ${ctx.attempt})`);
        }
      },
    });
    await q.send(project, rangeChunks(project, 24, 8), {
      retryLimit: 3,
      retryDelaySeconds: 1,
      retryBackoff: false,
    });
    await work(q, handler, noDead);
    await finished(q, project);

    const rs = await records(q, project);
    expect(rs.map((r) => [r.state, r.attempt, r.error])).toEqual([
      ['done', 1, null],
      ['done', 3, null],
      ['done', 1, null],
    ]);
    expect(starts).toHaveLength(3);
    // 1 s of delay, less the two clocks' rounding.
    expect(starts[1] - failures[0]).toBeGreaterThanOrEqual(950);
    expect(starts[2] - failures[1]).toBeGreaterThanOrEqual(950);
    expectEveryTileOnce(rs, project, 24);
  });

  it('ends a poison chunk as one dead letter after retryLimit + 1 tries, its tiles failed, backing off between', async () => {
    const project = nextProject++;
    const q = await open();
    const tries: { start: number; attempt: number }[] = [];
    const dead: { chunk: Chunk; error: string }[] = [];
    const handler = rangeHandler({
      onAttempt: (chunk, ctx) => {
        if (chunk.seq !== 0) return;
        tries.push({ start: Date.now(), attempt: ctx.attempt });
        throw new Error('imagery answers 500 for every tile');
      },
    });
    await q.send(project, rangeChunks(project, 20, 8), {
      retryLimit: 2,
      retryDelaySeconds: 1,
      retryBackoff: true,
    });
    await work(q, handler, { onDead: async (chunk, error) => void dead.push({ chunk, error }) });
    await finished(q, project);

    expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
    // Back-off: retry k waits at least delay × 2^k / 2.
    expect(tries[1].start - tries[0].start).toBeGreaterThanOrEqual(950);
    expect(tries[2].start - tries[1].start).toBeGreaterThanOrEqual(1950);
    expect(dead).toHaveLength(1);
    expect(dead[0].chunk).toEqual({ projectId: project, seq: 0, spec: { kind: 'range', start: 0, end: 8 } });
    expect(dead[0].error).toContain('imagery answers 500 for every tile');
    const rs = await records(q, project);
    expect(rs[0]).toMatchObject({ state: 'dead', attempt: 3, done: 8, failed: 8 });
    expect(rs[0].error).toContain('imagery answers 500');
    expect(rs.slice(1).map((r) => r.state)).toEqual(['done', 'done']);
    expect(await q.progress(project)).toMatchObject({
      state: 'done',
      chunks: { done: 2, dead: 1 },
      tiles: { total: 20, done: 20, failed: 8 },
    });
  });

  it('cancels a project: queued chunks never start, the running one stops at its next batch', async () => {
    const project = nextProject++;
    const other = nextProject++;
    const q = await open();
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const stops: unknown[] = [];
    const inner = rangeHandler({
      batch: 2,
      onAttempt: (chunk) => void started.push(`${chunk.projectId}/${chunk.seq}`),
      afterBatch: async (chunk, _ctx, done) => {
        if (chunk.projectId === project && done === 2) {
          entered();
          await gate;
        }
      },
    });
    const handler = keepingStops(inner, stops);
    await q.send(project, rangeChunks(project, 40, 8), FAST);
    await work(q, handler, noDead);
    await inside;
    expect(await q.progress(project)).toMatchObject({
      state: 'active',
      chunks: { running: 1, queued: 4 },
      tiles: { total: 40, done: 2 },
    });

    expect(await q.cancel(project)).toBe(5);
    release();
    await until(() => stops.length > 0);
    expect(stops[0]).toBeInstanceOf(ChunkStoppedError);
    expect((stops[0] as ChunkStoppedError).reason).toBe('cancelled');
    // Chunks sent after the cancelled ones are taken after them: once these are done, the cancelled ones had
    // every chance to start.
    await q.send(other, rangeChunks(other, 16, 8), FAST);
    await finished(q, other);
    expect(started).toEqual([`${project}/0`, `${other}/0`, `${other}/1`]);
    const rs = await records(q, project);
    expect(rs.map((r) => r.state)).toEqual(Array(5).fill('cancelled'));
    expect(await q.progress(project)).toMatchObject({ state: 'cancelled', chunks: { cancelled: 5 } });
    expect(await q.cancel(project)).toBe(0);
    // A cancelled project can be sent again.
    await q.send(project, rangeChunks(project, 8, 8), FAST);
    await finished(q, project);
    expect((await records(q, project)).map((r) => r.state)).toEqual(['done']);
  });

  it('takes a chunk back from an attempt that outlives its lease; that attempt writes nothing more', async () => {
    const project = nextProject++;
    const q = await open();
    const stops: unknown[] = [];
    const inner = rangeHandler({
      batch: 2,
      afterBatch: async (chunk, ctx) => {
        // The first attempt hangs (a stalled fetch) until the queue aborts it.
        if (ctx.attempt === 1 && chunk.seq === 0) {
          await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        }
      },
    });
    const handler = keepingStops(inner, stops);
    await q.send(project, rangeChunks(project, 16, 8), { ...FAST, leaseSeconds: 1 });
    await work(q, handler, { ...noDead, concurrency: 2 });
    await finished(q, project);

    expect(stops).toHaveLength(1);
    expect((stops[0] as ChunkStoppedError).reason).toBe('lease-lost');
    const rs = await records(q, project);
    expect(rs.map((r) => [r.state, r.attempt])).toEqual([
      ['done', 2],
      ['done', 1],
    ]);
    expectEveryTileOnce(rs, project, 16);
  });

  it('keeps a chunk that runs three leases long while it checkpoints: done on its first attempt, no retry, no dead letter', async () => {
    const project = nextProject++;
    const q = await open();
    const stops: unknown[] = [];
    const attempts: number[] = [];
    const dead: Chunk[] = [];
    // A batch every 0.4 s: 16 of them, 6.4 s in all, against a lease of 2 s (the maintenance runs every second).
    const inner = rangeHandler({
      batch: 1,
      onAttempt: (_chunk, ctx) => void attempts.push(ctx.attempt),
      afterBatch: () => new Promise((r) => setTimeout(r, 400)),
    });
    const handler = keepingStops(inner, stops);
    await q.send(project, rangeChunks(project, 16, 16), { ...FAST, leaseSeconds: 2 });
    const started = Date.now();
    // A second loop stands by: a chunk whose lease ran out would be tried again by it at once.
    await work(q, handler, { concurrency: 2, onDead: async (chunk) => void dead.push(chunk) });
    await finished(q, project);

    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 2000);
    expect(stops).toEqual([]);
    expect(attempts).toEqual([1]);
    expect(dead).toEqual([]);
    const rs = await records(q, project);
    expect(rs.map((r) => [r.state, r.attempt, r.error])).toEqual([['done', 1, null]]);
    expectEveryTileOnce(rs, project, 16);
  });

  it('takes the chunk back from an attempt that stops checkpointing after renewing its lease', async () => {
    const project = nextProject++;
    const q = await open();
    const stops: unknown[] = [];
    const inner = rangeHandler({
      batch: 1,
      afterBatch: async (_chunk, ctx, done) => {
        if (ctx.attempt > 1) return;
        // 8 batches 0.4 s apart (3.2 s, past the 2 s lease: renewed on the way), then a fetch that never ends.
        if (done < 8) await new Promise((r) => setTimeout(r, 400));
        else await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      },
    });
    const handler = keepingStops(inner, stops);
    await q.send(project, rangeChunks(project, 12, 12), { ...FAST, leaseSeconds: 2 });
    await work(q, handler, noDead);
    await finished(q, project);

    expect(stops).toHaveLength(1);
    expect((stops[0] as ChunkStoppedError).reason).toBe('lease-lost');
    const rs = await records(q, project);
    expect(rs.map((r) => [r.state, r.attempt])).toEqual([['done', 2]]);
    expectEveryTileOnce(rs, project, 12);
  });

  it('a worker stopping with release hands its chunk back after the batch in hand: taken again at once, not a try', async () => {
    const project = nextProject++;
    const q1 = await open();
    const q2 = engine.shared ? await open() : q1;
    const stops: unknown[] = [];
    const starts: { attempt: number; at: number }[] = [];
    const inHand = deferred();
    const gate = deferred();
    let stoppedAfter = -1;
    const inner = rangeHandler({
      batch: 2,
      onAttempt: (_chunk, ctx) => void starts.push({ attempt: ctx.attempt, at: Date.now() }),
      afterBatch: async (_chunk, ctx, done) => {
        if (ctx.attempt === 1 && done === 2) {
          inHand.resolve();
          await gate.promise;
        }
      },
    });
    const handler: ChunkHandler = async (chunk, ctx) => {
      let done = 0;
      const counting: ChunkContext = {
        attempt: ctx.attempt,
        signal: ctx.signal,
        checkpoint: async (counts) => {
          done = counts.done;
          await ctx.checkpoint(counts);
        },
      };
      try {
        return await keepingStops(inner, stops)(chunk, counting);
      } finally {
        if (ctx.attempt === 1) stoppedAfter = done;
      }
    };
    // No try to spare, and a retry or a lost lease would wait 30 s or more: only a hand-back brings it back at once.
    await q1.send(project, rangeChunks(project, 8, 8), {
      retryLimit: 0,
      retryDelaySeconds: 30,
      retryBackoff: false,
      leaseSeconds: 60,
    });
    const first = await work(q1, handler, noDead);
    await inHand.promise;
    const stopping = first.stop('release');
    gate.resolve();
    await stopping;
    const handedBackAt = Date.now();

    expect(stops).toHaveLength(1);
    expect((stops[0] as ChunkStoppedError).reason).toBe('released');
    // The batch in hand (tiles 2 and 3) was finished before the checkpoint that stopped it.
    expect(stoppedAfter).toBe(4);
    expect(await records(q2, project)).toMatchObject([{ state: 'queued', attempt: 1, done: 0 }]);
    expect((await q2.progress(project)).state).toBe('active');

    await work(q2, handler, noDead);
    await finished(q2, project);
    expect(starts.map((s) => s.attempt)).toEqual([1, 2]);
    expect(starts[1].at - handedBackAt).toBeLessThan(30_000);
    const rs = await records(q2, project);
    expect(rs.map((r) => [r.state, r.attempt, r.error])).toEqual([['done', 2, null]]);
    expectEveryTileOnce(rs, project, 8);
  });

  it('fences an attempt of a cancelled send off the project’s next send: it writes nothing into it', async () => {
    const project = nextProject++;
    const q = await open();
    const gates = [deferred(), deferred()];
    const entered = [deferred(), deferred()];
    const stops: unknown[] = [];
    const ended: number[] = [];
    let calls = 0;
    const handler = async (chunk: Chunk, ctx: ChunkContext) => {
      const call = calls++;
      const inner = rangeHandler({
        batch: 2,
        afterBatch: async (_chunk, _ctx, done) => {
          if (done === 2 && call < 2) {
            entered[call].resolve();
            await gates[call].promise;
          }
        },
      });
      try {
        return await keepingStops(inner, stops)(chunk, ctx);
      } finally {
        ended.push(call);
      }
    };
    await work(q, handler, { ...noDead, concurrency: 2 });
    await q.send(project, rangeChunks(project, 4, 4), FAST);
    await entered[0].promise;
    expect(await q.cancel(project)).toBe(1);
    await q.send(project, rangeChunks(project, 4, 4), FAST);
    await entered[1].promise;
    // Both attempts are the first try of chunk 0 of the project: only the send tells them apart.
    gates[0].resolve();
    await until(() => ended.includes(0));
    gates[1].resolve();
    expect(stops).toHaveLength(1);
    expect((stops[0] as ChunkStoppedError).reason).toBe('cancelled');
    await finished(q, project);
    const rs = await records(q, project);
    expect(rs.map((r) => [r.state, r.attempt])).toEqual([['done', 1]]);
    expectEveryTileOnce(rs, project, 4);
    expect(stops).toHaveLength(1);
  });

  it('refuses a second send while the project is queued, and chunks out of order, changing nothing', async () => {
    const project = nextProject++;
    const q = await open();
    await q.send(project, rangeChunks(project, 16, 8), FAST);
    await expect(q.send(project, rangeChunks(project, 8, 8), FAST)).rejects.toMatchObject({
      code: 'project-queued',
      status: 409,
    });
    const skipped = rangeChunks(project, 24, 8).filter((c) => c.seq !== 1);
    await expect(q.send(project + 1, skipped, FAST)).rejects.toMatchObject({
      code: 'invalid-chunk',
      status: 400,
    });
    await expect(q.send(project, rangeChunks(project, 8, 8), { retryLimit: -1 })).rejects.toMatchObject({
      code: 'invalid-policy',
    });
    expect(await q.progress(project)).toMatchObject({
      chunks: { total: 2, queued: 2 },
      tiles: { total: 16 },
    });
    expect((await q.progress(project + 1)).state).toBe('idle');
    expect(await q.cancel(project)).toBe(2);
  });
});
