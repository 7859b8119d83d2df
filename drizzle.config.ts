import { defineConfig } from 'drizzle-kit';

// SQLite is the one-machine default; a Postgres config joins this one when shared deployments arrive.
export default defineConfig({
  dialect: 'sqlite',
  schema: './server/lib/db/schema.ts',
  out: './migrations',
  strict: true,
  verbose: true,
});
