/**
 * A pg-boss worker SIGKILLed in the middle of a chunk loses nothing: the chunk comes back when its lease runs
 * out, another worker completes it, and the result holds every tile once, with the values an uninterrupted
 * run gives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import type { ChunkRecord } from '../../server/lib/queue/chunk-queue.ts';
import { rangeChunks } from '../../server/lib/queue/chunks.ts';
import { openPgBossQueue, type PgBossChunkQueue } from '../../server/lib/queue/pg-boss-queue.ts';
import { rangeHandler, tileValue, until, type TileOutput } from '../fixtures/queue-handlers.ts';
import { useLocalPostgres } from '../fixtures/local-postgres-suite.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = join(ROOT, 'tests/fixtures/queue-worker-child.ts');

const server = useLocalPostgres('queue-kill');
let child: ChildProcess | undefined;
let queue: PgBossChunkQueue | undefined;
afterAll(async () => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  await queue?.close();
});

it('a chunk whose worker is SIGKILLed mid-chunk comes back after its lease and is completed once by another', async () => {
  const project = 7;
  queue = await openPgBossQueue({ url: server().url, maintenanceIntervalSeconds: 1 });
  await queue.send(project, rangeChunks(project, 12, 12), {
    retryLimit: 2,
    retryDelaySeconds: 0,
    retryBackoff: false,
    leaseSeconds: 2,
  });

  child = spawn(process.execPath, ['--import', 'tsx', CHILD, server().url, '1000'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child!.once('exit', (_code, signal) => resolve(signal)),
  );
  // The child pauses a second after each batch of 2: its first checkpoint leaves 10 tiles of the chunk to go.
  for await (const line of lines) {
    const msg = JSON.parse(line) as { seq?: number; attempt?: number; done?: number };
    if (msg.done !== undefined) {
      expect(msg).toEqual({ seq: 0, attempt: 1, done: 2 });
      break;
    }
  }
  const during = await queue.progress(project);
  expect(during).toMatchObject({ state: 'active', chunks: { running: 1 }, tiles: { total: 12, done: 2 } });
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');

  const attempts: number[] = [];
  await queue.work(rangeHandler({ batch: 2, onAttempt: (_chunk, ctx) => void attempts.push(ctx.attempt) }), {
    onDead: async () => undefined,
    pollMs: 100,
  });
  await until(async () => (await queue!.progress(project)).state !== 'active', 100);

  expect(attempts).toEqual([2]);
  const records: ChunkRecord[] = [];
  for await (const r of queue.records(project)) records.push(r);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ state: 'done', attempt: 2, done: 12, failed: 0 });
  const tiles = (records[0].output as TileOutput).tiles;
  expect(tiles).toEqual(Array.from({ length: 12 }, (_, i) => [i, tileValue(project, i)]));
  expect(await queue.progress(project)).toMatchObject({
    state: 'done',
    tiles: { total: 12, done: 12, failed: 0 },
  });
});
