/** The errors of opening a store, whichever its dialect: the store cannot be reached or read, or its schema cannot be brought to the code's. */
import { TilelensError } from '../errors.ts';

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
