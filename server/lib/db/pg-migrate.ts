/**
 * Brings a Postgres database to the latest schema with the migrations drizzle-kit generated under
 * `migrations/pg/` (from `schema-pg.ts`). Each migration runs in its own transaction, so a failure leaves the
 * database at its last complete one; applied migrations are recorded in drizzle's own table and skipped after.
 */
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { DatabaseOpenError, MigrationError } from './open-errors.ts';

// Resolved from this file, not the cwd, as the SQLite folder is.
export const DEFAULT_PG_MIGRATIONS_FOLDER = fileURLToPath(
  new URL('../../../migrations/pg/', import.meta.url),
);

/** The URL without its password: what an error message may show. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'a database URL that does not parse';
  }
}

export async function migratePostgres(
  url: string,
  options: { migrationsFolder?: string } = {},
): Promise<void> {
  const migrationsFolder = options.migrationsFolder ?? DEFAULT_PG_MIGRATIONS_FOLDER;
  const where = redactedUrl(url);
  if (!existsSync(resolve(migrationsFolder, 'meta', '_journal.json'))) {
    throw new DatabaseOpenError(
      where,
      `no drizzle migration journal under ${migrationsFolder}; run \`npx drizzle-kit generate --config drizzle.pg.config.ts\``,
    );
  }
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(drizzle(pool), { migrationsFolder });
  } catch (error) {
    throw new MigrationError(where, migrationsFolder, { cause: error });
  } finally {
    await pool.end();
  }
}
