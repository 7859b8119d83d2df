/**
 * A PostgreSQL server that tilelens starts and stops itself, for the tests that need a real Postgres and for
 * `npm run cluster`: Debian's server binaries, a cluster in a folder the caller names (created on the first
 * start, reused after), listening on 127.0.0.1 only, with a generated superuser password kept in the folder.
 *
 * The server is a child of the process that started it and never outlives it: `stop()` shuts it down in fast
 * mode (open transactions roll back, the data stays consistent), an exit hook does the same when the process
 * ends without calling it, and where util-linux's `setpriv` is there the kernel sends the same signal when the
 * parent dies any other way (SIGKILL included) — a stray server would hold the port and the folder's lock.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { TilelensError } from '../errors.ts';

export interface LocalPostgresOptions {
  /** The cluster's folder (Postgres's data directory): created and initialised when missing or empty. */
  folder: string;
  /** The database to create (when missing) and to name in the returned URL; `tilelens` unless said. */
  database?: string;
  /** Where `initdb` and `postgres` are; found with `pg_config --bindir` or under /usr/lib/postgresql unless said. */
  binDir?: string;
  /** How long to wait for the server to accept connections before giving up; 60 s unless said. */
  startTimeoutMs?: number;
  /** The port to listen on (a restart keeps its clients' URLs); a free one unless said. */
  port?: number;
}

export interface LocalPostgres {
  /** `postgres://tilelens:…@127.0.0.1:<port>/<database>`: what `pg` and drizzle connect with. */
  url: string;
  port: number;
  database: string;
  folder: string;
  /** The server's major version (that of the binaries, and of the cluster). */
  majorVersion: number;
  /** The postmaster's process id. */
  pid: number;
  /** True when this start created the cluster, false when it reused one the folder held. */
  created: boolean;
  /**
   * Creates another database on the server (when missing) and returns its URL: a fresh store per test or
   * benchmark run on one server. The name follows the same rule as `database`.
   */
  createDatabase(name: string): Promise<string>;
  /** Shuts the server down in fast mode and waits until it has exited; safe to call twice. */
  stop(): Promise<void>;
}

export interface PostgresBinaries {
  binDir: string;
  majorVersion: number;
}

export class LocalPostgresError extends TilelensError {
  override name = 'LocalPostgresError';
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super('local-postgres', message, { hint: options?.hint, cause: options?.cause });
  }
}

/** The superuser initdb creates; the password sits beside the cluster's own files, readable by its owner only. */
const SUPERUSER = 'tilelens';
const PASSWORD_FILE = 'tilelens-password';
const LOG_FILE = 'tilelens-server.log';
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const INSTALL_HINT =
  "Install Debian's PostgreSQL server: `bash scripts/setup.sh --postgres` (or `apt-get install postgresql`).";

/** Finds the server binaries, or says which package to install. */
export function findPostgresBinaries(binDir?: string): PostgresBinaries {
  const candidates = binDir !== undefined ? [resolve(binDir)] : defaultBinDirs();
  for (const dir of candidates) {
    if (!isExecutable(join(dir, 'initdb')) || !isExecutable(join(dir, 'postgres'))) continue;
    return { binDir: dir, majorVersion: serverMajorVersion(dir) };
  }
  throw new LocalPostgresError(
    `No PostgreSQL server binaries (initdb and postgres) in ${candidates.join(', ') || 'any known place'}.`,
    { hint: INSTALL_HINT },
  );
}

function defaultBinDirs(): string[] {
  const dirs: string[] = [];
  try {
    // Debian's pg_config may come from libpq-dev without a server beside it: only a hint, checked like the rest.
    dirs.push(
      execFileSync('pg_config', ['--bindir'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim(),
    );
  } catch {
    // No pg_config: look where Debian puts every installed major version, newest first.
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) dirs.push(join(root, version, 'bin'));
  }
  return [...new Set(dirs.filter((dir) => dir !== ''))];
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function serverMajorVersion(binDir: string): number {
  // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
  const text = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(text);
  if (match === null)
    throw new LocalPostgresError(`Cannot read the version of ${binDir}/postgres from "${text.trim()}".`);
  return Number(match[1]);
}

/** The uid and gid the server runs as: ours, or Debian's `postgres` user when we are root (Postgres refuses root). */
interface ServerUser {
  uid: number;
  gid: number;
  /** Set when the server runs as another user than this process. */
  name?: string;
}

function serverUser(): ServerUser {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  if (uid !== 0) return { uid, gid };
  let line = '';
  try {
    line = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim();
  } catch {
    // Reported below.
  }
  const fields = line.split(':');
  if (fields.length < 4) {
    throw new LocalPostgresError(
      'PostgreSQL refuses to run as root, and there is no `postgres` user to run it as.',
      {
        hint: `Run tilelens as another user, or ${INSTALL_HINT.charAt(0).toLowerCase()}${INSTALL_HINT.slice(1)}`,
      },
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]), name: 'postgres' };
}

/** Every directory above the folder must let the server's user through, or initdb fails with a bare EACCES. */
function checkReachable(folder: string, user: ServerUser): void {
  if (user.name === undefined) return;
  for (let dir = dirname(folder); ; dir = dirname(dir)) {
    const stat = statSync(dir);
    const passable =
      stat.uid === user.uid
        ? stat.mode & 0o100
        : stat.gid === user.gid
          ? stat.mode & 0o010
          : stat.mode & 0o001;
    if (!passable) {
      throw new LocalPostgresError(
        `The server runs as the \`${user.name}\` user, which cannot reach ${folder}: ${dir} (mode ${(stat.mode & 0o777).toString(8)}) does not let it through.`,
        { hint: `Choose a folder it can reach, or \`chmod o+x ${dir}\`.` },
      );
    }
    if (dir === dirname(dir)) return;
  }
}

type FolderState = { kind: 'empty' } | { kind: 'cluster'; majorVersion: number };

function inspectFolder(folder: string, binaries: PostgresBinaries): FolderState {
  if (!existsSync(folder)) return { kind: 'empty' };
  if (!statSync(folder).isDirectory()) {
    throw new LocalPostgresError(`${folder} is not a folder; the cluster needs a folder of its own.`, {
      hint: 'Name a folder that does not exist yet (it is created) or one a previous start made.',
    });
  }
  const versionFile = join(folder, 'PG_VERSION');
  if (!existsSync(versionFile)) {
    if (readdirSync(folder).length === 0) return { kind: 'empty' };
    throw new LocalPostgresError(
      `${folder} holds files but no PostgreSQL cluster; nothing in it was touched.`,
      {
        hint: 'Name an empty or missing folder for a new cluster.',
      },
    );
  }
  const majorVersion = Number(readFileSync(versionFile, 'utf8').trim());
  if (majorVersion !== binaries.majorVersion) {
    throw new LocalPostgresError(
      `${folder} holds a PostgreSQL ${majorVersion} cluster, but the server binaries in ${binaries.binDir} are PostgreSQL ${binaries.majorVersion}; nothing in it was touched.`,
      {
        hint: `Install PostgreSQL ${majorVersion} and pass its bin folder, upgrade the cluster with pg_upgrade, or use another folder.`,
      },
    );
  }
  if (!existsSync(join(folder, PASSWORD_FILE))) {
    throw new LocalPostgresError(
      `${folder} holds a PostgreSQL cluster that tilelens did not create (no ${PASSWORD_FILE}).`,
      {
        hint: 'Connect to that server with its own URL, or name another folder for a cluster tilelens manages.',
      },
    );
  }
  return { kind: 'cluster', majorVersion };
}

/** A server still running on the folder (its lock file names a live postgres) is not ours to start again. */
function refuseRunningServer(folder: string): void {
  const lockFile = join(folder, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  const pid = Number(readFileSync(lockFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // Not running: a lock left by a server that was killed; postgres itself clears it.
  }
  if (!cmdline.includes('postgres')) return;
  throw new LocalPostgresError(`A PostgreSQL server (pid ${pid}) is already running on ${folder}.`, {
    hint: `Use that server, or stop it first: \`pg_ctl -D ${folder} stop -m fast\`.`,
  });
}

function runAs(user: ServerUser): { uid?: number; gid?: number } {
  return user.name === undefined ? {} : { uid: user.uid, gid: user.gid };
}

function initCluster(folder: string, binaries: PostgresBinaries, user: ServerUser): string {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (user.name !== undefined) chownSync(folder, user.uid, user.gid);
  chmodSync(folder, 0o700);
  const password = randomBytes(24).toString('base64url');
  // initdb reads the password from a file; a private folder outside the cluster's, gone when it has.
  const scratch = mkdtempSync(join(tmpdir(), 'tilelens-initdb-'));
  try {
    const pwfile = join(scratch, 'pw');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (user.name !== undefined) {
      chownSync(scratch, user.uid, user.gid);
      chownSync(pwfile, user.uid, user.gid);
    }
    execFileSync(
      join(binaries.binDir, 'initdb'),
      [
        '-D',
        folder,
        '-U',
        SUPERUSER,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
      ],
      { ...runAs(user), stdio: ['ignore', 'ignore', 'pipe'], cwd: scratch },
    );
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new LocalPostgresError(
      `initdb could not create a cluster in ${folder}${stderr ? `: ${stderr}` : ''}.`,
      {
        cause: error,
      },
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const passwordFile = join(folder, PASSWORD_FILE);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (user.name !== undefined) chownSync(passwordFile, user.uid, user.gid);
  return password;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Servers this process started and has not stopped: shut down when it exits. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous by necessity ('exit' runs no more event-loop turns): SIGINT is Postgres's fast shutdown.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGINT');
  });
}

const SETPRIV = '/usr/bin/setpriv';

function spawnServer(
  folder: string,
  port: number,
  binaries: PostgresBinaries,
  user: ServerUser,
  logFd: number,
): ChildProcess {
  const args = [
    '-D',
    folder,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
  ];
  const postgres = join(binaries.binDir, 'postgres');
  // PR_SET_PDEATHSIG survives exec (setpriv → postgres) and, set after Node changed the uid, a change of user.
  const [command, commandArgs] = isExecutable(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'INT', '--', postgres, ...args]]
    : [postgres, args];
  return spawn(command, commandArgs, { ...runAs(user), cwd: folder, stdio: ['ignore', logFd, logFd] });
}

function logTail(folder: string, from: number): string {
  try {
    const text = readFileSync(join(folder, LOG_FILE)).subarray(from).toString('utf8').trim();
    return text.split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Waits until the server takes a connection as the superuser and reports this folder as its own. */
async function waitUntilReady(
  child: ChildProcess,
  port: number,
  password: string,
  folder: string,
  deadline: number,
): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new ServerExited();
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password,
      database: 'postgres',
    });
    try {
      await client.connect();
      const result = await client.query<{ data_directory: string }>('SHOW data_directory');
      if (resolve(result.rows[0]!.data_directory) !== folder) {
        throw new LocalPostgresError(
          `Port ${port} answered with another server (${result.rows[0]!.data_directory}).`,
        );
      }
      return;
    } catch (error) {
      if (error instanceof LocalPostgresError) throw error;
      lastError = error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(100);
  }
  throw new LocalPostgresError(`The PostgreSQL server on ${folder} did not accept connections in time.`, {
    cause: lastError,
  });
}

class ServerExited extends Error {}

function checkDatabaseName(database: string): void {
  if (!DATABASE_NAME.test(database)) {
    throw new LocalPostgresError(
      `"${database}" is not a database name tilelens creates: lower-case letters, digits and _, not starting with a digit.`,
    );
  }
}

async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    // The name passed DATABASE_NAME, so quoting it as an identifier is exact.
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    running.delete(child);
    return Promise.resolve();
  }
  return new Promise((done) => {
    child.once('exit', () => {
      running.delete(child);
      done();
    });
    child.kill('SIGINT');
  });
}

/**
 * Starts a PostgreSQL server on the folder — initialising a cluster there on the first start — and creates the
 * database. Refuses, changing nothing, when the binaries are missing, the folder is a file or holds something
 * else, the cluster is of another major version, or a server already runs on it.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const folder = resolve(options.folder);
  const database = options.database ?? 'tilelens';
  checkDatabaseName(database);
  const binaries = findPostgresBinaries(options.binDir);
  const user = serverUser();
  const state = inspectFolder(folder, binaries);
  checkReachable(folder, user);
  let password: string;
  if (state.kind === 'cluster') {
    refuseRunningServer(folder);
    password = readFileSync(join(folder, PASSWORD_FILE), 'utf8').trim();
  } else {
    password = initCluster(folder, binaries, user);
  }

  const logPath = join(folder, LOG_FILE);
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  installExitHook();
  // A free port can be taken by someone else before the server binds it: try again on another.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const logFd = openSync(logPath, 'a', 0o600);
    const logStart = statSync(logPath).size;
    let child: ChildProcess;
    try {
      child = spawnServer(folder, port, binaries, user, logFd);
    } finally {
      closeSync(logFd);
    }
    running.add(child);
    child.once('exit', () => running.delete(child));
    const spawned = new Promise<void>((ok, fail) => {
      child.once('spawn', ok);
      child.once('error', fail);
    });
    try {
      await spawned;
      await waitUntilReady(child, port, password, folder, deadline);
      await ensureDatabase(port, password, database);
    } catch (error) {
      await stopChild(child);
      const log = logTail(folder, logStart);
      if (
        error instanceof ServerExited &&
        /could not bind|Address already in use/.test(log) &&
        attempt < 3 &&
        options.port === undefined
      )
        continue;
      if (error instanceof LocalPostgresError) throw error;
      throw new LocalPostgresError(
        `The PostgreSQL server on ${folder} did not start${log ? `:\n${log}` : '.'}`,
        { hint: `Its log is ${logPath}.`, cause: error },
      );
    }
    const urlOf = (name: string) =>
      `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${name}`;
    const url = urlOf(database);
    return {
      url,
      port,
      database,
      folder,
      majorVersion: binaries.majorVersion,
      pid: child.pid!,
      created: state.kind === 'empty',
      async createDatabase(name) {
        checkDatabaseName(name);
        await ensureDatabase(port, password, name);
        return urlOf(name);
      },
      stop: () => stopChild(child),
    };
  }
}
