/**
 * `tilelens worker --db postgres://… [--concurrency N]`: takes scoring chunks from the shared store's queue and
 * scores them until stopped. The first Ctrl-C or SIGTERM takes no more chunks, finishes the batch each running
 * chunk is in (its tiles stored) and hands the chunk back to the queue, where any worker takes it again at once
 * without it counting as a try; a second one exits at once, and — like a worker killed outright — loses nothing:
 * its chunks come back to the queue after their lease. Thin over server/lib/scoring/shared-store.ts, which
 * refuses a store it would have to change.
 */
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { describeStore } from './lib/db/client.ts';
import { errorText } from './lib/queue/chunk-queue.ts';
import { OutboundPolicy } from './lib/imagery/outbound.ts';
import { DEFAULT_IMAGERY_RATE, parseHostRates, type HostRates } from './lib/queue/host-rate-limit.ts';
import { dataDir } from './lib/paths.ts';
import { disposeScoringModels } from './lib/scoring/jobs.ts';
import { startScoringWorker } from './lib/scoring/shared-store.ts';
import { UsageError } from './cli-usage.ts';

export const workerUsage = `  worker    take scoring chunks from the shared store's queue and score them, until Ctrl-C; run one or
            more on any host that reaches the database (the server sends the chunks). Ctrl-C (or SIGTERM)
            finishes the batch in hand and hands its chunk back to the queue; a second one exits at once
              --db postgres://user:password@host:5432/db   the server's store (the password is never printed;
                                  TILELENS_DB in the environment keeps it off the process list)
              [--concurrency N]   chunks scored at once (default 1; one per core is plenty)
              [--name NAME]       its name in the job's progress (default host:pid)
            refuses, changing nothing, a database that is not tilelens's, a schema older or newer than
            this tilelens, or a server it cannot reach; imagery hosts as the server's
            (TILELENS_IMAGERY_ALLOW_HOSTS), caches under TILELENS_DATA_DIR; each imagery host's rate
            limit (TILELENS_IMAGERY_RATE, as the server's --imagery-rate) is one bucket in the store that
            every worker takes from
`;

/** Each imagery host's rate limit as the server's `--imagery-rate` gives it, for the commands that score. */
export function imageryRatesFromEnv(): HostRates {
  const text = process.env.TILELENS_IMAGERY_RATE ?? DEFAULT_IMAGERY_RATE;
  try {
    return parseHostRates(text);
  } catch (err) {
    throw new UsageError(`TILELENS_IMAGERY_RATE: ${(err as Error).message}`);
  }
}

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
    imageryRates: imageryRatesFromEnv(),
    ...(o.name ? { name: o.name } : {}),
    log,
    onError: (err) => log(`queue: ${errorText(err)}`),
  });
  log(`taking chunks from ${describeStore(o.db)} (concurrency ${o.concurrency})`);
  // One line on stdout when it is taking chunks, for whoever started it.
  process.stdout.write(`${JSON.stringify({ worker: 'ready', pid: process.pid })}\n`);
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        log(`${signal} again: exiting now; a chunk it held comes back to the queue after its lease`);
        process.exit(128 + (constants.signals[signal] ?? 0));
      }
      signalled = true;
      log(
        `${signal}: taking no more chunks; handing the running ones back to the queue after the batch in hand (again to exit now)`,
      );
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await worker.stop('release');
  worker.ctx.outbound?.close();
  await disposeScoringModels();
  return 0;
}
