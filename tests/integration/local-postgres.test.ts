import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  findPostgresBinaries,
  LocalPostgresError,
  startLocalPostgres,
  type LocalPostgres,
} from '../../server/lib/db/local-postgres.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOLDER = join(ROOT, 'tests/fixtures/local-postgres-holder.ts');

let dir: string;
const started: LocalPostgres[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-pg-'));
  // Run as root, the server runs as Debian's `postgres` user, which must be able to walk into the folder.
  chmodSync(dir, 0o755);
});
afterEach(async () => {
  for (const server of started.splice(0)) await server.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(folder: string): Promise<LocalPostgres> {
  const server = await startLocalPostgres({ folder });
  started.push(server);
  return server;
}

/** The processes whose working directory is the folder: the postmaster and every backend chdir into it. */
function processesIn(folder: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`) === folder) pids.push(Number(name));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('a local Postgres', () => {
  it('starts on a new folder, answers on loopback, and stops leaving no process and a free port', async () => {
    const folder = join(dir, 'fresh');
    const server = await start(folder);
    expect(server.created).toBe(true);
    expect(server.majorVersion).toBe(findPostgresBinaries().majorVersion);
    expect(server.url).toMatch(
      new RegExp(`^postgres://tilelens:[^@]+@127\\.0\\.0\\.1:${server.port}/tilelens$`),
    );

    const [row] = await query<{ db: string; answer: number; listen: string }>(
      server.url,
      "SELECT current_database() AS db, 6 * 7 AS answer, current_setting('listen_addresses') AS listen",
    );
    expect(row).toEqual({ db: 'tilelens', answer: 42, listen: '127.0.0.1' });
    // Without the password the server turns a client away: nothing on the machine gets in by asking.
    await expect(query(server.url.replace(/:[^:@]+@/, ':wrong@'), 'SELECT 1')).rejects.toThrow(/password/);
    expect(processesIn(folder)).toContain(server.pid);

    await server.stop();
    expect(processesIn(folder)).toEqual([]);
    expect(existsSync(join(folder, 'postmaster.pid'))).toBe(false);
    expect(await portIsFree(server.port)).toBe(true);
    await server.stop(); // twice is fine
  });

  it('reuses the cluster a previous start made, with its data', async () => {
    const folder = join(dir, 'reused');
    const first = await start(folder);
    await query(first.url, 'CREATE TABLE kept (v integer); INSERT INTO kept VALUES (7)');
    await first.stop();

    const second = await start(folder);
    expect(second.created).toBe(false);
    expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 7 }]);
    // A second server on a folder in use is refused, the first one untouched.
    await expect(startLocalPostgres({ folder })).rejects.toThrow(/already running/);
    expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 7 }]);
  });

  it('goes down with the process that started it, even one killed with SIGKILL', async () => {
    const folder = join(dir, 'orphaned');
    const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, folder], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((done) =>
      child.on('exit', (_code, signal) => done(signal)),
    );
    const { pid, port } = await new Promise<{ pid: number; port: number }>((done, fail) => {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) done(JSON.parse(stdout) as { pid: number; port: number });
      });
      void exited.then(() => fail(new Error(`the holder exited before it started a server: ${stderr}`)));
    });
    expect(processesIn(folder)).toContain(pid);

    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // The server shuts down on its own; the test's own time limit bounds the wait.
    while (processesIn(folder).length > 0) await new Promise((done) => setTimeout(done, 100));
    expect(await portIsFree(port)).toBe(true);
    // And the folder starts again as it was left.
    const again = await start(folder);
    expect(again.created).toBe(false);
    expect(await query(again.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('refuses missing binaries, saying which package to install', async () => {
    const folder = join(dir, 'never-made');
    const error = await startLocalPostgres({ folder, binDir: join(dir, 'no-such-bin') }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LocalPostgresError);
    expect((error as LocalPostgresError).message).toContain(join(dir, 'no-such-bin'));
    expect((error as LocalPostgresError).hint).toMatch(/apt-get install postgresql/);
    expect(existsSync(folder)).toBe(false);
  });

  it('refuses a folder that is a file, one holding other files, and a cluster of another version', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'mine');
    await expect(startLocalPostgres({ folder: file })).rejects.toThrow(/is not a folder/);
    expect(readFileSync(file, 'utf8')).toBe('mine');

    const busy = join(dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    await expect(startLocalPostgres({ folder: busy })).rejects.toThrow(
      /holds files but no PostgreSQL cluster/,
    );
    expect(readdirSync(busy)).toEqual(['notes.txt']);

    const older = join(dir, 'older');
    mkdirSync(older);
    const otherMajor = findPostgresBinaries().majorVersion - 1;
    writeFileSync(join(older, 'PG_VERSION'), `${otherMajor}\n`);
    const error = await startLocalPostgres({ folder: older }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalPostgresError);
    expect((error as Error).message).toContain(`holds a PostgreSQL ${otherMajor} cluster`);
    expect(readdirSync(older)).toEqual(['PG_VERSION']);

    await expect(startLocalPostgres({ folder: join(dir, 'x'), database: 'Robert"; DROP' })).rejects.toThrow(
      /not a database name/,
    );
  });
});
