/**
 * A benchmark's own copy of a database (the demo's, by default): benchmarks write projects, scores and
 * insights, and must never write them into the database the demo serves.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';

/** Copies `from` (read-only, consistent even while another process writes it) to `dir/bench.db` and opens the copy. */
export async function copyDatabase(from: string, dir: string): Promise<DatabaseHandle> {
  const path = join(dir, 'bench.db');
  const original = new Database(from, { readonly: true, fileMustExist: true });
  try {
    await original.backup(path);
  } finally {
    original.close();
  }
  return openDatabase(path);
}
