/**
 * Opening the database — the embedded SQLite file (one better-sqlite3 connection) or a Postgres server (a
 * node-postgres pool), drizzle over either, migrations applied — and the one way to run several repository
 * calls together (`inTransaction`, `readConsistently`).
 *
 * A handle carries its dialect's drizzle database and its dialect's tables (`handle.t`), and the repositories
 * are written once against them. Both are typed as SQLite's: the Postgres tables are derived from the SQLite
 * declaration and their rows are checked at compile time to be the same (schema-pg.ts), so a repository reads
 * and writes the same values on either store. What a repository may call is the part of drizzle both dialects
 * share — queries awaited (never `.get()`, `.all()`, `.run()`), `.returning()`, `onConflictDo…` — and what
 * still differs lives in `dialect.ts`.
 *
 * Every function the data layer exports returns a Promise (or an async iterator), whatever the store does
 * underneath: better-sqlite3 answers synchronously, an embedded or a shared Postgres does not, and callers
 * written against Promises need no change when the store does.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { TilelensError } from '../errors.ts';
import { DatabaseOpenError, MigrationError } from './open-errors.ts';
import { DEFAULT_PG_MIGRATIONS_FOLDER, migratePostgres, redactedUrl } from './pg-migrate.ts';
import * as schema from './schema.ts';
import * as pgSchema from './schema-pg.ts';

export type Schema = typeof schema;
export type TilelensDb = BetterSQLite3Database<Schema>;
export type Dialect = 'sqlite' | 'postgres';

interface HandleBase {
  dialect: Dialect;
  /** The dialect's drizzle database, typed as SQLite's (see the top of this file). */
  db: TilelensDb;
  /** The dialect's tables, typed as SQLite's: what repositories query. */
  t: Schema;
  /** Closes the connection (SQLite folds the WAL back into the main file first); safe to call twice. */
  close(): Promise<void>;
}

export interface SqliteHandle extends HandleBase {
  dialect: 'sqlite';
  sqlite: Database.Database;
}

export interface PostgresHandle extends HandleBase {
  dialect: 'postgres';
  pool: pg.Pool;
  /** The URL without its password. */
  where: string;
  /** The connection of the transaction this handle runs in; undefined outside one (each query takes one from the pool). */
  client?: pg.PoolClient;
}

export type DatabaseHandle = SqliteHandle | PostgresHandle;

export interface OpenDatabaseOptions {
  /** Where the drizzle-kit migrations live; defaults to the repository's `migrations/` (`migrations/pg/` for Postgres). */
  migrationsFolder?: string;
  /** How long a writer waits for another connection's lock before failing (SQLite). */
  busyTimeoutMs?: number;
  /**
   * Postgres: false refuses a database whose schema is behind the code's instead of migrating it (a worker
   * must not change the schema a server runs on). A database ahead of the code is refused either way.
   */
  migrate?: boolean;
  /** Postgres: connections in the pool (10 unless said). */
  poolSize?: number;
}

// Resolved from this file, not the cwd, so the CLI, the server and tests started anywhere find the same SQL.
export const DEFAULT_MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../migrations/', import.meta.url));

export { DatabaseOpenError, MigrationError } from './open-errors.ts';

const MEMORY = ':memory:';

/**
 * A migration that changes a CHECK or a column rebuilds the table (create new, copy, drop old, rename), and
 * dropping a table others reference fails while foreign keys are enforced. SQLite ignores `PRAGMA foreign_keys`
 * inside a transaction, and drizzle applies the migrations in one, so — as SQLite's own procedure for schema
 * changes says — they run with enforcement off, and every reference is checked before it is back on.
 */
function migrateWithoutForeignKeys(
  sqlite: Database.Database,
  db: TilelensDb,
  migrationsFolder: string,
): void {
  sqlite.pragma('foreign_keys = OFF');
  try {
    migrate(db, { migrationsFolder });
    const broken = sqlite.pragma('foreign_key_check') as Array<{ table: string; parent: string }>;
    if (broken.length > 0) {
      const first = broken[0];
      throw new Error(
        `${broken.length} row(s) refer to rows that are gone (first: ${first.table} → ${first.parent}); restore a backup`,
      );
    }
  } finally {
    sqlite.pragma('foreign_keys = ON');
  }
}

/** A `postgres://` or `postgresql://` URL. */
const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;
/** Any other URL (`mysql://`, `file://`, `http://`): neither a store tilelens opens nor a file path. */
const OTHER_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Whether `location` names the shared store (a `postgres://` URL) rather than an embedded SQLite file. */
export function isSharedStore(location: string): boolean {
  return POSTGRES_URL.test(location);
}

/**
 * A `--db` value as `openDatabase` takes it: a URL as given, `:memory:` as is, a file path made absolute
 * against the working directory (a URL must not be read as a relative path).
 */
export function storeLocation(value: string): string {
  return OTHER_URL.test(value) || value === MEMORY ? value : resolve(value);
}

/** How a store may be named in a message or a log: a URL without its password, a path as it is. */
export function describeStore(location: string): string {
  return OTHER_URL.test(location) ? redactedUrl(location) : location;
}

/**
 * Opens the store `location` names: a `postgres://…` URL opens that server's database, anything else but
 * another URL is the path of a SQLite file (`:memory:` for one in memory). Either is brought to the code's
 * schema (or refused, with the reason) before the handle comes back.
 */
export async function openDatabase(
  location: string,
  options: OpenDatabaseOptions = {},
): Promise<DatabaseHandle> {
  if (POSTGRES_URL.test(location)) return openPostgres(location, options);
  if (OTHER_URL.test(location)) {
    throw new DatabaseOpenError(
      redactedUrl(location),
      'it is neither a postgres:// URL nor the path of a SQLite file',
    );
  }
  return openSqlite(location, options);
}

async function openSqlite(path: string, options: OpenDatabaseOptions): Promise<SqliteHandle> {
  const migrationsFolder = options.migrationsFolder ?? DEFAULT_MIGRATIONS_FOLDER;
  if (!existsSync(resolve(migrationsFolder, 'meta', '_journal.json'))) {
    throw new DatabaseOpenError(
      path,
      `no drizzle migration journal under ${migrationsFolder}; run \`npx drizzle-kit generate\` or pass migrationsFolder`,
    );
  }

  let sqlite: Database.Database;
  try {
    if (path !== MEMORY) mkdirSync(dirname(resolve(path)), { recursive: true });
    sqlite = new Database(path);
  } catch (cause) {
    throw new DatabaseOpenError(path, `${(cause as Error).message}; check that the folder is writable`, {
      cause,
    });
  }

  try {
    // WAL: readers (the map UI) never block the writer (a scoring job), and a killed writer leaves only
    // uncommitted frames that the next open discards. NORMAL sync is crash-safe under WAL; only the
    // last commits before a power cut can be lost, never consistency.
    if (path !== MEMORY) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  } catch (cause) {
    sqlite.close();
    throw new DatabaseOpenError(path, `${(cause as Error).message}; is it a SQLite file?`, { cause });
  }

  const db = drizzle({ client: sqlite, schema });
  try {
    migrateWithoutForeignKeys(sqlite, db, migrationsFolder);
  } catch (cause) {
    sqlite.close();
    throw new MigrationError(path, migrationsFolder, { cause });
  }
  return {
    dialect: 'sqlite',
    db,
    t: schema,
    sqlite,
    async close() {
      if (!sqlite.open) return;
      if (path !== MEMORY) sqlite.pragma('wal_checkpoint(TRUNCATE)');
      sqlite.close();
    },
  };
}

// ── Postgres ──────────────────────────────────────────────────────────────────────────────────────────

/** How long a connection attempt may take before the server counts as unreachable. */
const PG_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Where the database's schema stands against the code's migrations: the hashes of the migrations it holds
 * (drizzle's own table), compared with those under `migrationsFolder`. A migration the code does not have
 * means a newer (or another) tilelens made the database: refused before anything is written.
 */
async function postgresSchemaState(
  pool: pg.Pool,
  migrationsFolder: string,
): Promise<{ applied: number; pending: number; unknown: number }> {
  const known = readMigrationFiles({ migrationsFolder }).map((m) => m.hash);
  const exists = await pool.query<{ t: string | null }>(
    "select to_regclass('drizzle.__drizzle_migrations')::text as t",
  );
  if (!exists.rows[0]?.t) return { applied: 0, pending: known.length, unknown: 0 };
  const applied = new Set(
    (await pool.query<{ hash: string }>('select hash from drizzle.__drizzle_migrations')).rows.map(
      (r) => r.hash,
    ),
  );
  const unknown = [...applied].filter((h) => !known.includes(h)).length;
  return { applied: applied.size, pending: known.filter((h) => !applied.has(h)).length, unknown };
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<PostgresHandle> {
  const where = redactedUrl(url);
  const migrationsFolder = options.migrationsFolder ?? DEFAULT_PG_MIGRATIONS_FOLDER;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
  });
  // An idle connection the server drops (a restart) is an error event on the pool; the next query takes
  // a fresh connection, so it is not fatal to the process.
  pool.on('error', () => undefined);
  try {
    try {
      await pool.query('select 1');
    } catch (cause) {
      throw new DatabaseOpenError(
        where,
        `the server does not answer or refuses the connection (${(cause as Error).message}); ` +
          'check the host, port, user, password and database name',
        { cause },
      );
    }
    const state = await postgresSchemaState(pool, migrationsFolder);
    if (state.unknown > 0) {
      throw new DatabaseOpenError(
        where,
        `its schema holds ${state.unknown} migration(s) this tilelens does not have: a newer tilelens made it; ` +
          'run that version, or point this one at another database',
      );
    }
    if (state.pending > 0 && options.migrate === false) {
      throw new DatabaseOpenError(
        where,
        `its schema is ${state.pending} migration(s) behind this tilelens` +
          (state.applied === 0 ? ' (it holds no tilelens schema at all)' : '') +
          '; start the tilelens server on it once (it migrates), then this',
      );
    }
    if (state.pending > 0) await migratePostgres(url, { migrationsFolder });
  } catch (error) {
    await pool.end();
    if (error instanceof TilelensError) throw error;
    throw new DatabaseOpenError(where, (error as Error).message, { cause: error });
  }
  let closed = false;
  return {
    dialect: 'postgres',
    db: drizzlePg({ client: pool }) as unknown as TilelensDb,
    t: pgSchema as unknown as Schema,
    pool,
    where,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** One trivial query: proves the database answers, not only the process. */
export async function ping(handle: DatabaseHandle): Promise<void> {
  if (handle.dialect === 'sqlite') handle.sqlite.prepare('select 1').get();
  else await (handle.client ?? handle.pool).query('select 1');
}

/** The path of the database file behind a handle (undefined for an in-memory database or a Postgres one). */
export function databaseFile(handle: DatabaseHandle): string | undefined {
  if (handle.dialect === 'postgres') return undefined;
  return handle.sqlite.memory || !handle.sqlite.name ? undefined : handle.sqlite.name;
}

/**
 * A read-only connection of its own over the same file, for one long read. A statement that iterates keeps
 * better-sqlite3 from running any other on its connection — a scoring job's inserts included — so a slow
 * download must not hold the shared one. Under WAL the reader sees one consistent snapshot while the writer
 * goes on. A Postgres store's reads already take a pooled connection each: the handle itself serves (its
 * close leaves the pool open).
 */
export async function openReadOnly(handle: DatabaseHandle): Promise<DatabaseHandle> {
  if (handle.dialect === 'postgres') return { ...handle, client: undefined, close: async () => undefined };
  const file = databaseFile(handle);
  if (!file) {
    throw new TilelensError(
      'no-streaming',
      'streamed reads need a database file; this server runs on an in-memory database',
      { status: 501, hint: 'start the server with --db PATH' },
    );
  }
  const sqlite = new Database(file, { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  return {
    dialect: 'sqlite',
    db: drizzle({ client: sqlite, schema }),
    t: schema,
    sqlite,
    close: async () => {
      sqlite.close();
    },
  };
}

// ── transactions ──────────────────────────────────────────────────────────────────────────────────────

/**
 * The transaction the current async context runs in: the connection (SQLite) or pool (Postgres) it belongs
 * to, and the handle its body got. A call nested in a body becomes a savepoint of it, whichever handle it
 * was given.
 */
const openTransaction = new AsyncLocalStorage<{ owner: object; tx: DatabaseHandle }>();
/** Transactions of one SQLite connection run one after another: the tail of each connection's queue. */
const queues = new WeakMap<Database.Database, Promise<unknown>>();
let savepoints = 0;

type Kind = 'read' | 'write';

/** Runs `fn` in a savepoint of the open transaction `tx`: rolled back alone when it throws. */
async function savepoint<T>(tx: DatabaseHandle, fn: (tx: DatabaseHandle) => Promise<T>): Promise<T> {
  const name = `tilelens_${++savepoints}`;
  const exec = async (text: string) => {
    if (tx.dialect === 'sqlite') tx.sqlite.exec(text);
    else await tx.client!.query(text);
  };
  await exec(`savepoint ${name}`);
  try {
    const result = await fn(tx);
    await exec(`release savepoint ${name}`);
    return result;
  } catch (err) {
    await exec(`rollback to savepoint ${name}`);
    await exec(`release savepoint ${name}`);
    throw err;
  }
}

/**
 * Runs `fn` in one transaction of the handle's connection and commits when it resolves, rolls back when it
 * throws. Pass `tx` (the handle the body receives) to every repository call inside.
 *
 * SQLite has one connection per handle: transactions from different callers wait for each other, and one
 * started inside another's body is a savepoint of it. A body awaits only the data layer — no network, no
 * files — because a statement run meanwhile by another caller on the same connection lands inside the open
 * transaction. A Postgres store gives each transaction a pooled connection of its own.
 */
async function transaction<T>(
  handle: DatabaseHandle,
  kind: Kind,
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const owner = handle.dialect === 'sqlite' ? handle.sqlite : handle.pool;
  const open = openTransaction.getStore();
  if (open?.owner === owner) return savepoint(open.tx, fn);
  return handle.dialect === 'sqlite'
    ? sqliteTransaction(handle, kind, fn)
    : postgresTransaction(handle, kind, fn);
}

async function sqliteTransaction<T>(
  handle: SqliteHandle,
  kind: Kind,
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const sqlite = handle.sqlite;
  const previous = queues.get(sqlite) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  queues.set(
    sqlite,
    previous.then(() => mine),
  );
  await previous;
  try {
    // IMMEDIATE: the write lock up front, so two writers never both read and then fail to upgrade.
    sqlite.exec(kind === 'write' ? 'begin immediate' : 'begin deferred');
    try {
      const result = await openTransaction.run({ owner: sqlite, tx: handle }, () => fn(handle));
      sqlite.exec('commit');
      return result;
    } catch (err) {
      if (sqlite.inTransaction) sqlite.exec('rollback');
      throw err;
    }
  } finally {
    release();
  }
}

async function postgresTransaction<T>(
  handle: PostgresHandle,
  kind: Kind,
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const client = await handle.pool.connect();
  // The pool listens for errors of idle connections only: a server that goes away while this one is checked
  // out would otherwise crash the process. The statement in flight fails, and so does the transaction.
  const lost = () => undefined;
  client.on('error', lost);
  const tx: PostgresHandle = {
    ...handle,
    client,
    db: drizzlePg({ client }) as unknown as TilelensDb,
  };
  let broken: unknown;
  try {
    // A read sees one snapshot throughout; a write runs at read committed, and a repository that reads
    // before it writes (a job's progress) locks the row it reads first, as SQLite's write lock would.
    await client.query(kind === 'read' ? 'begin isolation level repeatable read read only' : 'begin');
    try {
      const result = await openTransaction.run({ owner: handle.pool, tx }, () => fn(tx));
      await client.query('commit');
      return result;
    } catch (err) {
      try {
        await client.query('rollback');
      } catch (rollbackError) {
        broken = rollbackError;
      }
      throw err;
    }
  } finally {
    // A connection whose rollback failed is not handed to the next caller.
    client.off('error', lost);
    client.release(broken instanceof Error ? broken : undefined);
  }
}

/**
 * Runs `fn` in one read transaction: every repository read inside it sees the same snapshot, so an aggregate
 * and the scan it sizes agree even while a scoring job writes.
 */
export async function readConsistently<T>(
  handle: DatabaseHandle,
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  return transaction(handle, 'read', fn);
}

/** Runs `fn` in one transaction: its repository calls land together or not at all. */
export async function inTransaction<T>(
  handle: DatabaseHandle,
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  return transaction(handle, 'write', fn);
}

/** Copies a database file (online: a consistent snapshot even while another process writes it). */
export async function copyDatabase(from: string, to: string): Promise<void> {
  const source = new Database(from, { readonly: true, fileMustExist: true });
  try {
    await source.backup(to);
  } finally {
    source.close();
  }
}
