/**
 * `npm run cluster -- --workers N`: the shared deployment on one machine. Starts a local Postgres with its data
 * under data/cluster/ (initialised on the first run, reused after), the tilelens server on it and N
 * `tilelens worker` processes; Ctrl-C (or SIGTERM, or SIGHUP) stops the workers, the server and Postgres, in that
 * order. The children run in process groups of their own, so a Ctrl-C reaches this process only and each child
 * gets one SIGTERM from it: a worker hands its running chunk back after the batch in hand (a second signal would
 * make it exit at once, leaving the chunk to its lease).
 *   npm run cluster -- --workers 2 --port 8700 --concurrency 1
 *
 * The database URL reaches the server and the workers through their environment (TILELENS_DB), never a command
 * line another user could read; its password stays in the cluster folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describeStore } from '../server/lib/db/client.ts';
import { startLocalPostgres, type LocalPostgres } from '../server/lib/db/local-postgres.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ClusterOptions {
  workers: number;
  /** The server's port (127.0.0.1). */
  port: number;
  /** Chunks each worker scores at once. */
  concurrency: number;
  /** data/cluster unless said: Postgres's data under postgres/, the server's files under data/. */
  folder: string;
  log: (msg: string) => void;
}

export interface RunningCluster {
  postgres: LocalPostgres;
  serverUrl: string;
  /** Resolves when a process of the cluster ended by itself (the cluster is then stopping). */
  ended: Promise<string>;
  stop(): Promise<void>;
}

function spawnTsx(
  args: string[],
  env: NodeJS.ProcessEnv,
  name: string,
  log: (m: string) => void,
): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((l) => l.trim())
      .forEach((l) => log(`[${name}] ${l}`));
  child.stdout!.on('data', prefix);
  child.stderr!.on('data', prefix);
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    child.kill('SIGTERM');
  });
}

export async function startCluster(o: ClusterOptions): Promise<RunningCluster> {
  const folder = resolve(o.folder);
  mkdirSync(join(folder, 'data'), { recursive: true });
  const postgres = await startLocalPostgres({ folder: join(folder, 'postgres') });
  o.log(`Postgres ${postgres.majorVersion} on ${describeStore(postgres.url)} (data in ${postgres.folder})`);
  const env = {
    ...process.env,
    TILELENS_DB: postgres.url,
    TILELENS_DATA_DIR: join(folder, 'data'),
  };
  const children: ChildProcess[] = [];
  let stopping = false;
  let reportEnd: (why: string) => void = () => undefined;
  const ended = new Promise<string>((r) => (reportEnd = r));
  const watch = (child: ChildProcess, name: string) =>
    child.once('exit', (code, signal) => {
      if (!stopping) reportEnd(`${name} exited (${signal ?? code})`);
    });
  try {
    // The server first: it migrates the store and installs the queue's tables, which the workers refuse to do.
    const server = spawnTsx(['server/main.ts', '--port', String(o.port)], env, 'server', o.log);
    children.push(server);
    watch(server, 'the server');
    await new Promise<void>((ready, fail) => {
      const onData = (chunk: Buffer) => chunk.toString().includes('serving on') && ready();
      server.stderr!.on('data', onData);
      server.once('exit', (code) => fail(new Error(`the server exited (${code}) before it served`)));
    });
    for (let i = 0; i < o.workers; i++) {
      const name = `worker ${i + 1}`;
      const worker = spawnTsx(
        [
          'server/cli.ts',
          'worker',
          '--concurrency',
          String(o.concurrency),
          '--name',
          `cluster-worker-${i + 1}`,
        ],
        env,
        name,
        o.log,
      );
      children.push(worker);
      watch(worker, name);
    }
  } catch (err) {
    stopping = true;
    await Promise.all(children.map(stopChild));
    await postgres.stop();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    postgres,
    serverUrl: `http://127.0.0.1:${o.port}`,
    ended,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        // Workers first: they finish their running chunks, so none is left to wait out its lease.
        await Promise.all(children.slice(1).map(stopChild));
        await stopChild(children[0]);
        await postgres.stop();
      })();
      return stopped;
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '2' },
      port: { type: 'string', default: '8700' },
      concurrency: { type: 'string', default: '1' },
      folder: { type: 'string', default: join(ROOT, 'data', 'cluster') },
    },
    strict: true,
  });
  const int = (name: string, text: string, min: number, max: number) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min || v > max) {
      console.error(
        `tilelens cluster: --${name} must be a whole number from ${min} to ${max}, got "${text}"`,
      );
      process.exit(2);
    }
    return v;
  };
  const log = (m: string) => process.stderr.write(`tilelens cluster: ${m}\n`);
  const cluster = await startCluster({
    workers: int('workers', values.workers!, 0, 64),
    port: int('port', values.port!, 1, 65535),
    concurrency: int('concurrency', values.concurrency!, 1, 64),
    folder: values.folder!,
    log,
  });
  log(`serving on ${cluster.serverUrl} with ${values.workers} workers; Ctrl-C stops them all`);
  const why = await Promise.race([
    cluster.ended,
    new Promise<string>((r) => {
      process.once('SIGINT', () => r('SIGINT'));
      process.once('SIGTERM', () => r('SIGTERM'));
      process.once('SIGHUP', () => r('SIGHUP'));
    }),
  ]);
  log(`${why}: stopping the workers, the server and Postgres`);
  await cluster.stop();
  process.exit(why.startsWith('SIG') ? 0 : 1);
}

if (process.argv[1] && import.meta.url === `file://${resolve(process.argv[1])}`) {
  main().catch((err: Error) => {
    process.stderr.write(`tilelens cluster: ${err.message}\n`);
    process.exit(1);
  });
}
