import { defineConfig } from 'drizzle-kit';

// SQLite is the one-machine default; the shared store's Postgres migrations come from drizzle.pg.config.ts.
export default defineConfig({
  dialect: 'sqlite',
  schema: './server/lib/db/schema.ts',
  out: './migrations',
  strict: true,
  verbose: true,
});
