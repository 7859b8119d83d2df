#!/usr/bin/env -S npx tsx
/**
 * `npx tsx server/main.ts --port N --db PATH`: serves the API (and, later, the map UI) on 127.0.0.1
 * unless `--host` says otherwise. Every flag is a row of the settings table (server/settings.ts).
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { createApp, scoringContextFor, type TilelensApp } from './app.ts';
import { isSharedStore, openDatabase, storeLocation, type DatabaseHandle } from './lib/db/client.ts';
import { openSharedStore } from './lib/scoring/shared-store.ts';
import type { ScoringContext } from './lib/scoring/context.ts';
import { closeImagerySources } from './lib/scoring/imagery-registry.ts';
import { resumeInterruptedJobs } from './lib/scoring/jobs.ts';
import { resolveManagerToken, type ManagerToken } from './middleware/auth.ts';
import {
  resolveSettings,
  SETTINGS,
  SettingsError,
  settingsHelp,
  settingsMarkdownTable,
  type Settings,
} from './settings.ts';

export interface RunningServer {
  url: string;
  address: AddressInfo;
  token: ManagerToken;
  db: DatabaseHandle;
  scoring: ScoringContext;
  app: TilelensApp;
  /** Stops accepting requests, lets open ones finish, then closes sources and the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  settings: Settings;
  env?: Record<string, string | undefined>;
  log?: (msg: string) => void;
}

function listen(server: ServerType): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    const fail = (err: Error) => reject(err);
    server.once('error', fail);
    server.once('listening', () => {
      server.off('error', fail);
      resolvePromise(server.address() as AddressInfo);
    });
  });
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { settings } = options;
  const log = options.log ?? ((msg: string) => process.stderr.write(`tilelens: ${msg}\n`));
  const dataDir = resolve(settings.dataDir);
  const token = resolveManagerToken(dataDir, options.env ?? process.env);
  const location = storeLocation(settings.db);
  // The shared store comes with its chunk queue: scoring jobs go to workers (`tilelens worker`) on any host.
  const shared = isSharedStore(location) ? await openSharedStore(location, { migrate: true }) : undefined;
  const db = shared?.db ?? (await openDatabase(location));
  const scoring: ScoringContext = scoringContextFor(db, settings, log);
  if (shared) scoring.queue = shared.queue;
  let server: ServerType | undefined;
  let app: TilelensApp | undefined;
  try {
    await resumeInterruptedJobs(scoring);
    app = createApp({ db, settings, scoring, token: token.token, log });
    server = serve({ fetch: app.fetch, hostname: settings.host, port: settings.port });
    const address = await listen(server);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    let closed: Promise<void> | undefined;
    const running: RunningServer = {
      url,
      address,
      token,
      db,
      scoring,
      app,
      close() {
        closed ??= (async () => {
          await new Promise<void>((done) => {
            server!.close(() => done());
            // Keep-alive sockets would hold close() open until they time out.
            if ('closeIdleConnections' in server!) server!.closeIdleConnections();
          });
          await app!.close();
          await closeImagerySources(scoring);
          scoring.outbound?.close();
          if (shared) await shared.close();
          else await db.close();
        })();
        return closed;
      },
    };
    return running;
  } catch (err) {
    server?.close();
    await app?.close();
    if (shared) await shared.close();
    else await db.close();
    throw err;
  }
}

/** What a person needs at start: where to go, and how to make changes. */
export function announce(running: RunningServer, log: (msg: string) => void, showToken: boolean): void {
  log(`serving on ${running.url}`);
  const t = running.token;
  if (showToken || t.source === 'generated') {
    log(
      `manager token: ${t.token}${t.source === 'generated' ? ` (generated; kept in ${t.path}, shown only now)` : ''}`,
    );
  } else if (t.source === 'file') {
    log(`manager token: in ${t.path}`);
  } else {
    log('manager token: from TILELENS_TOKEN');
  }
}

export function stopOnSignals(running: RunningServer, log: (msg: string) => void): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    // A scoring job still running resumes where it stopped at the next start.
    running.close().then(
      () => process.exit(0),
      (err: Error) => {
        log(`could not close cleanly: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

const usage = () => `tilelens server — the API (and the map UI) for one machine

Usage: npx tsx server/main.ts [--port N] [--db PATH] [--host ADDRESS] [...]

Settings:
${settingsHelp()}

Other:
  --help                 this text
  --settings-table       print the settings as the README's markdown table
`;

async function main(argv: string[]): Promise<void> {
  const flags = Object.fromEntries(SETTINGS.map((s) => [s.name, { type: 'string' as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { ...flags, help: { type: 'boolean', short: 'h' }, 'settings-table': { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`tilelens: ${(err as Error).message}\n\n${usage()}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage());
    return;
  }
  if (values['settings-table']) {
    process.stdout.write(`${settingsMarkdownTable()}\n`);
    return;
  }
  const { help: _h, 'settings-table': _t, ...given } = values;
  let settings: Settings;
  try {
    settings = resolveSettings(given as Record<string, string | undefined>, process.env);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`tilelens: ${err.message}\n`);
    process.exit(2);
  }
  const log = (msg: string) => process.stderr.write(`tilelens: ${msg}\n`);
  const running = await startServer({ settings, log });
  announce(running, log, false);
  stopOnSignals(running, log);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`tilelens: ${err.message}\n`);
    if (process.env.TILELENS_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
