/**
 * `tilelens worker --db postgres://… [--concurrency N]`: takes scoring chunks from the shared store's queue and
 * scores them until stopped (Ctrl-C or SIGTERM: it takes no more chunks and finishes the running ones; a worker killed
 * outright loses nothing, its chunk comes back to the queue after its lease). Thin over server/lib/scoring/shared-store.ts, which refuses a store it would
 * have to change.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { describeStore } from './lib/db/client.ts';
import { errorText } from './lib/queue/chunk-queue.ts';
import { OutboundPolicy } from './lib/imagery/outbound.ts';
import { dataDir } from './lib/paths.ts';
import { disposeScoringModels } from './lib/scoring/jobs.ts';
import { startScoringWorker } from './lib/scoring/shared-store.ts';
import { UsageError } from './cli-usage.ts';

export const workerUsage = `  worker    take scoring chunks from the shared store's queue and score them, until Ctrl-C; run one or
            more on any host that reaches the database (the server sends the chunks)
              --db postgres://user:password@host:5432/db   the server's store (the password is never printed;
                                  TILELENS_DB in the environment keeps it off the process list)
              [--concurrency N]   chunks scored at once (default 1; one per core is plenty)
              [--name NAME]       its name in the job's progress (default host:pid)
            refuses, changing nothing, a database that is not tilelens's, a schema older or newer than
            this tilelens, or a server it cannot reach; imagery hosts as the server's
            (TILELENS_IMAGERY_ALLOW_HOSTS), caches under TILELENS_DATA_DIR
`;

const options = z.object({
  db: z.string({
    error: 'worker needs --db postgres://… or TILELENS_DB (the shared store the server runs on)',
  }),
  concurrency: z.coerce.number().int().min(1).max(64).default(1),
  name: z.string().min(1).max(200).optional(),
});

export async function workerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
    },
    strict: true,
  });
  // TILELENS_DB as the server reads it: a URL with its password stays out of the process list.
  const parsed = options.safeParse({ ...values, db: values.db ?? process.env.TILELENS_DB });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${String(issue.path[0])}: ${issue.message}`);
  }
  const o = parsed.data;
  const log = (m: string) => process.stderr.write(`tilelens worker: ${m}\n`);
  const worker = await startScoringWorker({
    url: o.db,
    concurrency: o.concurrency,
    dataDir: process.env.TILELENS_DATA_DIR ?? dataDir,
    outbound: OutboundPolicy.fromSetting(process.env.TILELENS_IMAGERY_ALLOW_HOSTS),
    ...(o.name ? { name: o.name } : {}),
    log,
    onError: (err) => log(`queue: ${errorText(err)}`),
  });
  log(`taking chunks from ${describeStore(o.db)} (concurrency ${o.concurrency})`);
  // One line on stdout when it is taking chunks, for whoever started it.
  process.stdout.write(`${JSON.stringify({ worker: 'ready', pid: process.pid })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: taking no more chunks; stopping once the running ones are done`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await worker.stop();
  worker.ctx.outbound?.close();
  await disposeScoringModels();
  return 0;
}
