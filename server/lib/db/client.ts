/**
 * Opening the database: one better-sqlite3 connection, drizzle over it, migrations applied.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type TilelensDb = BetterSQLite3Database<Schema>;

export interface DatabaseHandle {
  db: TilelensDb;
  sqlite: Database.Database;
  /** Folds the WAL back into the main file and closes the connection; safe to call twice. */
  close(): void;
}

export interface OpenDatabaseOptions {
  /** Where the drizzle-kit migrations live; defaults to the repository's `migrations/`. */
  migrationsFolder?: string;
  /** How long a writer waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

// Resolved from this file, not the cwd, so the CLI, the server and tests started anywhere find the same SQL.
export const DEFAULT_MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../migrations/', import.meta.url));

export class DatabaseOpenError extends Error {
  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot open the tilelens database at ${path}: ${reason}`, options);
    this.name = 'DatabaseOpenError';
  }
}

export class MigrationError extends Error {
  constructor(
    readonly path: string,
    readonly migrationsFolder: string,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(
      `Applying the migrations in ${migrationsFolder} to ${path} failed (${cause}). ` +
        'The database was left at its last complete migration; if it was made by a newer tilelens, open it with that version, ' +
        'otherwise regenerate the migrations with `npx drizzle-kit generate`.',
      options,
    );
    this.name = 'MigrationError';
  }
}

const MEMORY = ':memory:';

export function openDatabase(path: string, options: OpenDatabaseOptions = {}): DatabaseHandle {
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
    migrate(db, { migrationsFolder });
  } catch (cause) {
    sqlite.close();
    throw new MigrationError(path, migrationsFolder, { cause });
  }
  return {
    db,
    sqlite,
    close() {
      if (!sqlite.open) return;
      if (path !== MEMORY) sqlite.pragma('wal_checkpoint(TRUNCATE)');
      sqlite.close();
    },
  };
}
