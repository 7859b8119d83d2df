import { defineConfig } from 'drizzle-kit';

// The shared store's migrations, generated from the Postgres tables derived from the one schema
// (server/lib/db/schema-pg.ts); SQLite's stay under migrations/ (drizzle.config.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './server/lib/db/schema-pg.ts',
  out: './migrations/pg',
  strict: true,
  verbose: true,
});
