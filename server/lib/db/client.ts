/**
 * Opening the database: one better-sqlite3 connection, drizzle over it, migrations applied — and the one way
 * to run several repository calls together (`inTransaction`, `readConsistently`).
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
import { TilelensError } from '../errors.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type TilelensDb = BetterSQLite3Database<Schema>;

export interface DatabaseHandle {
  db: TilelensDb;
  sqlite: Database.Database;
  /** Folds the WAL back into the main file and closes the connection; safe to call twice. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Where the drizzle-kit migrations live; defaults to the repository's `migrations/`. */
  migrationsFolder?: string;
  /** How long a writer waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

// Resolved from this file, not the cwd, so the CLI, the server and tests started anywhere find the same SQL.
export const DEFAULT_MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../migrations/', import.meta.url));

export class DatabaseOpenError extends TilelensError {
  override name = 'DatabaseOpenError';
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('database-open', `Cannot open the tilelens database at ${path}: ${reason}`, {
      cause: options?.cause,
    });
  }
}

export class MigrationError extends TilelensError {
  override name = 'MigrationError';
  constructor(
    readonly path: string,
    readonly migrationsFolder: string,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(
      'migration',
      `Applying the migrations in ${migrationsFolder} to ${path} failed (${cause}). ` +
        'The database was left at its last complete migration; if it was made by a newer tilelens, open it with that version, ' +
        'otherwise regenerate the migrations with `npx drizzle-kit generate`.',
      { cause: options?.cause },
    );
  }
}

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

export async function openDatabase(path: string, options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
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
    db,
    sqlite,
    async close() {
      if (!sqlite.open) return;
      if (path !== MEMORY) sqlite.pragma('wal_checkpoint(TRUNCATE)');
      sqlite.close();
    },
  };
}

/** One trivial query: proves the database answers, not only the process. */
export async function ping(handle: DatabaseHandle): Promise<void> {
  handle.sqlite.prepare('select 1').get();
}

/** The path of the database file behind a handle (undefined for an in-memory database). */
export function databaseFile(handle: DatabaseHandle): string | undefined {
  return handle.sqlite.memory || !handle.sqlite.name ? undefined : handle.sqlite.name;
}

/**
 * A read-only connection of its own over the same file, for one long read. A statement that iterates keeps
 * better-sqlite3 from running any other on its connection — a scoring job's inserts included — so a slow
 * download must not hold the shared one. Under WAL the reader sees one consistent snapshot while the writer
 * goes on.
 */
export async function openReadOnly(handle: DatabaseHandle): Promise<DatabaseHandle> {
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
    db: drizzle({ client: sqlite, schema }),
    sqlite,
    close: async () => {
      sqlite.close();
    },
  };
}

// ── transactions ──────────────────────────────────────────────────────────────────────────────────────

/** The transaction the current async context runs in, per connection: a nested call becomes a savepoint. */
const openTransaction = new AsyncLocalStorage<Database.Database>();
/** Transactions of one connection run one after another: the tail of each connection's queue. */
const queues = new WeakMap<Database.Database, Promise<unknown>>();
let savepoints = 0;

/**
 * Runs `fn` in one transaction of the handle's connection and commits when it resolves, rolls back when it
 * throws. Pass `tx` (the handle the body receives) to every repository call inside.
 *
 * SQLite has one connection per handle: transactions from different callers wait for each other, and one
 * started inside another's body is a savepoint of it. A body awaits only the data layer — no network, no
 * files — because a statement run meanwhile by another caller on the same connection lands inside the open
 * transaction (a Postgres store gives each transaction a connection of its own).
 */
async function transaction<T>(
  handle: DatabaseHandle,
  begin: 'begin immediate' | 'begin deferred',
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const sqlite = handle.sqlite;
  if (openTransaction.getStore() === sqlite) {
    const name = `tilelens_${++savepoints}`;
    sqlite.exec(`savepoint ${name}`);
    try {
      const result = await fn(handle);
      sqlite.exec(`release ${name}`);
      return result;
    } catch (err) {
      sqlite.exec(`rollback to ${name}`);
      sqlite.exec(`release ${name}`);
      throw err;
    }
  }
  const previous = queues.get(sqlite) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  queues.set(
    sqlite,
    previous.then(() => mine),
  );
  await previous;
  try {
    sqlite.exec(begin);
    try {
      const result = await openTransaction.run(sqlite, () => fn(handle));
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

/**
 * Runs `fn` in one read transaction: every repository read inside it sees the same snapshot, so an aggregate
 * and the scan it sizes agree even while a scoring job writes.
 */
export async function readConsistently<T>(
  handle: DatabaseHandle,
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  return transaction(handle, 'begin deferred', fn);
}

/** Runs `fn` in one transaction (IMMEDIATE: the write lock up front): its repository calls land together or not at all. */
export async function inTransaction<T>(
  handle: DatabaseHandle,
  fn: (tx: DatabaseHandle) => Promise<T>,
): Promise<T> {
  return transaction(handle, 'begin immediate', fn);
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
