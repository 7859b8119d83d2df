/**
 * One rate limit per imagery host, shared by every process that fetches from it: two `tilelens worker` processes
 * and the server's own sampling (this process) score a project whose imagery server counts the requests it
 * receives. In every stretch of time T the server receives at most burst + rate × T of them, plus the requests
 * granted just before the stretch and still on their way (at most one per process: the source's one request
 * slot holds its token until the answer). A project on another host, scored at the same time, is not slowed by
 * the first host's limit. Only counts are checked against the bucket's promise, never a duration.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalPostgres, type LocalPostgres } from '../../server/lib/db/local-postgres.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';
import { parseHostRates, PostgresHostRateLimiter } from '../../server/lib/queue/host-rate-limit.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { getImagerySource } from '../../server/lib/scoring/imagery-registry.ts';
import { startScoring, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { sendTile } from '../fixtures/tile-http.ts';
import {
  loopbackProject,
  queuedScoringWorld,
  spawnWorker,
  type QueuedScoringWorld,
  type WorkerProcess,
} from '../fixtures/queued-scoring.ts';

/** The limited host's bucket: 4 requests a second, 2 saved up. The other host's is far above what it is asked. */
const RATE = 4;
const BURST = 2;
/** Processes fetching from the limited host, each with one request slot (the spec's `concurrency: 1`). */
const PROCESSES = 3;

let dir: string;
let pg: LocalPostgres;
let w: QueuedScoringWorld;
const workers: WorkerProcess[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-imagery-rate-'));
  chmodSync(dir, 0o755); // run as root, the server runs as the `postgres` user
  pg = await startLocalPostgres({ folder: join(dir, 'cluster') });
  w = await queuedScoringWorld(pg.url);
}, 300_000);

afterAll(async () => {
  for (const p of workers) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
  for (const s of servers) await new Promise((r) => s.close(r));
  await w?.close();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An imagery server on loopback serving the demo world's tiles, noting when each request arrived (ms). */
async function countingTileServer(): Promise<{ port: number; arrivals: number[] }> {
  const source = await getImagerySource(w.ctx, w.imageryId);
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    arrivals.push(performance.timeOrigin + performance.now());
    const m = /^\/(\d+)\/(\d+)\/(\d+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    sendTile(res, source.getTile(Number(m[1]), Number(m[2]), Number(m[3])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, arrivals };
}

/**
 * The most requests that arrived in any stretch [a, b] beyond what the limit lets arrive in it: the bucket's
 * burst + rate × (b − a), and the requests granted before the stretch but still on their way.
 */
function worstExcess(arrivals: number[], rate: number, burst: number, onTheirWay: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let worst = -Infinity;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const allowed = burst + (rate * (sorted[j] - sorted[i])) / 1000 + onTheirWay;
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}

describe("an imagery host's rate limit, shared by the workers", () => {
  it('two workers and the sender never exceed burst + rate × T on one host; a project on another host is not slowed', async () => {
    const limited = await countingTileServer();
    const other = await countingTileServer();
    const setting = `1000/1000,127.0.0.1:${limited.port}=${RATE}/${BURST}`;
    const env = { TILELENS_IMAGERY_ALLOW_HOSTS: '127.0.0.1', TILELENS_IMAGERY_RATE: setting };
    for (const name of ['a', 'b']) {
      const p = spawnWorker(pg.url, ['--name', name], {
        ...env,
        TILELENS_DATA_DIR: join(dir, `worker-${name}`),
      });
      workers.push(p);
    }
    await Promise.all(workers.map((p) => p.ready));

    // This process sends the jobs and samples each region's look, as the server would: it takes from the same
    // buckets, with the same setting.
    const rates = await PostgresHostRateLimiter.open(pg.url, parseHostRates(setting));
    try {
      const ctx: ScoringContext = {
        ...w.ctx,
        outbound: OutboundPolicy.fromSetting('127.0.0.1'),
        imageryRates: rates,
        queueOptions: { chunkTiles: 4, policy: { retryDelaySeconds: 0, retryBackoff: false } },
      };
      const project = (name: string, port: number) => loopbackProject(w, ctx, name, port, { concurrency: 1 });
      const slow = await project('limited host', limited.port);
      const fast = await project('another host', other.port);
      expect(slow.tileCount).toBe(24);

      const [slowJob, fastJob] = await Promise.all([
        startScoring(ctx, slow.id, { batchSize: 4 }),
        startScoring(ctx, fast.id, { batchSize: 4 }),
      ]);
      const [slowDone, fastDone] = await Promise.all([
        waitForJob(ctx, slowJob.id),
        waitForJob(ctx, fastJob.id),
      ]);
      expect(slowDone).toMatchObject({ status: 'done', done: 24, failed: 0 });
      expect(fastDone).toMatchObject({ status: 'done', done: 24, failed: 0 });
      // Both workers scored the limited host's chunks.
      expect((await ctx.queue!.progress(slow.id)).workersActive).toBe(2);

      // Every tile was asked for at least once (the sample, then the chunks), and never faster than the bucket.
      expect(limited.arrivals.length).toBeGreaterThanOrEqual(24);
      // 0.01 tokens: the database's microsecond clock against this process's.
      expect(worstExcess(limited.arrivals, RATE, BURST, PROCESSES)).toBeLessThanOrEqual(0.01);

      // The other host's requests came faster than the limited host's bucket would have let them: it has its own.
      expect(other.arrivals.length).toBeGreaterThanOrEqual(24);
      expect(worstExcess(other.arrivals, RATE, BURST, PROCESSES)).toBeGreaterThan(0);
    } finally {
      await rates.close();
    }
  }, 300_000);
});
