import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectNoMigrationDrift } from '../fixtures/migration-drift.ts';
import {
  DatabaseOpenError,
  DEFAULT_MIGRATIONS_FOLDER,
  MigrationError,
  openDatabase,
  type DatabaseHandle,
} from '../../server/lib/db/client.ts';
import { saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import {
  pragmaRows,
  pragmaValue,
  sqlAll,
  sqlColumn,
  sqlRun,
  sqlValue,
} from '../../server/lib/db/store-probe.ts';
import {
  registerSampleModelAndDataset,
  sampleClusters,
  samplePatches,
  sampleRun,
} from '../fixtures/db-sample-run.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-db-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const journal = JSON.parse(
  readFileSync(join(DEFAULT_MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8'),
) as {
  entries: { tag: string }[];
};

/** Every row of `table` from one database into another, in the columns both have. */
async function copySharedColumns(from: DatabaseHandle, to: DatabaseHandle, table: string): Promise<void> {
  const columns = async (h: DatabaseHandle) =>
    (await pragmaRows<{ name: string }>(h, `table_info(${table})`)).map((c) => c.name);
  const have = new Set(await columns(to));
  const shared = (await columns(from)).filter((c) => have.has(c));
  const list = shared.map((c) => `"${c}"`).join(', ');
  const insert = `insert into ${table} (${list}) values (${shared.map(() => '?').join(', ')})`;
  for (const row of await sqlAll(from, `select ${list} from ${table}`))
    await sqlRun(to, insert, ...shared.map((c) => row[c]));
}

describe('openDatabase', () => {
  it('applies the migrations to a fresh file in WAL mode with foreign keys on', async () => {
    const path = join(dir, 'nested', 'tilelens.db');
    const handle = await openDatabase(path);
    const tables = await sqlColumn(
      handle,
      `select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`,
    );
    expect(tables).toEqual([
      '__drizzle_migrations',
      'analysis_runs',
      'calibration_sample_tiles',
      'calibration_samples',
      'clusters',
      'datasets',
      'fair_imports',
      'fair_predictions',
      'fair_tile_signals',
      'imagery_sources',
      'insight_records',
      'label_error_scores',
      'label_imports',
      'label_objects',
      'latent_columns',
      'models',
      'patch_evidence',
      'patch_intervals',
      'patches',
      'projects',
      'publications',
      'published_projects',
      'review_marks',
      'scoring_jobs',
      'tile_labels',
      'tile_scores',
    ]);
    expect(await pragmaValue(handle, 'journal_mode')).toBe('wal');
    expect(await pragmaValue(handle, 'foreign_keys')).toBe(1);
    expect(await sqlValue(handle, 'select count(*) from __drizzle_migrations')).toBe(journal.entries.length);
    const indexes = await sqlColumn(
      handle,
      `select name from sqlite_master where type = 'index' and tbl_name = 'patches'`,
    );
    expect(indexes).toEqual(expect.arrayContaining(['patches_run_cluster_idx', 'patches_run_patch_key_idx']));
    await handle.close();
  });

  it('reopens an existing database without re-applying migrations or losing rows', async () => {
    const path = join(dir, 'tilelens.db');
    const first = await openDatabase(path);
    const ids = await registerSampleModelAndDataset(first);
    await saveAnalysisRun(first, sampleRun(ids, 20), samplePatches(20), sampleClusters(20));
    await first.close();

    const again = await openDatabase(path);
    expect(await sqlValue(again, 'select count(*) from __drizzle_migrations')).toBe(journal.entries.length);
    expect(await sqlValue(again, 'select count(*) from patches')).toBe(20);
    await again.close();
  });

  it('enforces foreign keys and CHECK constraints for writers that bypass the repository', async () => {
    const handle = await openDatabase(join(dir, 'tilelens.db'));
    const orphan = `insert into patches (run_id, idx, patch_key, split, image_ref, tp, fp, fn, tn, gt_fraction, pred_fraction, empty)
       values (999, 0, '18-1-1', 'train', 'demo:0', 1, 0, 0, 0, 0, 0, 0)`;
    await expect(sqlRun(handle, orphan)).rejects.toThrow(/FOREIGN KEY constraint failed/);
    const badRuntime = `insert into models (name, runtime, path, sha256, input_size, layer, sidecar) values ('m', 'pytorch', '/m', 'x', 1, 'l', '{}')`;
    await expect(sqlRun(handle, badRuntime)).rejects.toThrow(/CHECK constraint failed: models_runtime_check/);
    await handle.close();
  });

  it('upgrades a database with imagery in use: folders get their own kind, no row or reference lost', async () => {
    // The migrations as they were before the imagery kind 'geotiff-folder' existed.
    const before = join(dir, 'migrations-before');
    cpSync(DEFAULT_MIGRATIONS_FOLDER, before, { recursive: true });
    const upTo = journal.entries.findIndex((e) => e.tag.endsWith('_imagery_geotiff_folder'));
    expect(upTo).toBeGreaterThan(0);
    for (const e of journal.entries.slice(upTo)) {
      rmSync(join(before, `${e.tag}.sql`));
      rmSync(join(before, 'meta', `${e.tag.slice(0, 4)}_snapshot.json`));
    }
    const metaJournal = JSON.parse(readFileSync(join(before, 'meta', '_journal.json'), 'utf8'));
    metaJournal.entries = metaJournal.entries.slice(0, upTo);
    writeFileSync(join(before, 'meta', '_journal.json'), JSON.stringify(metaJournal));

    const path = join(dir, 'old.db');
    const old = await openDatabase(path, { migrationsFolder: before });
    // The run is written with today's code into a database of today's schema, then copied column by column
    // into the old one: later migrations may add columns the old tables do not have yet.
    const current = await openDatabase(':memory:');
    const ids = await registerSampleModelAndDataset(current);
    const runId = await saveAnalysisRun(current, sampleRun(ids, 20), samplePatches(20), sampleClusters(20));
    for (const table of ['models', 'datasets', 'analysis_runs', 'patches', 'clusters'])
      await copySharedColumns(current, old, table);
    await current.close();
    await sqlRun(
      old,
      `insert into imagery_sources (name, kind, spec, min_zoom, max_zoom) values
           ('chips', 'geotiff', '{"kind":"geotiff-folder","path":"/data/chips"}', 0, 22),
           ('ortho', 'geotiff', '{"kind":"geotiff","path":"/data/ortho.tif"}', 0, 22)`,
    );
    await sqlRun(
      old,
      `insert into projects (name, zoom, imagery_id, run_id, model_id, area, area_km2, tile_count, bbox, look_for)
         values ('p', 18, 1, ?, ?, '{}', 1, 1, '[0,0,1,1]', 'buildings')`,
      runId,
      ids.modelId,
    );
    await old.close();

    const upgraded = await openDatabase(path);
    expect(await sqlAll(upgraded, 'select name, kind from imagery_sources order by id')).toEqual([
      { name: 'chips', kind: 'geotiff-folder' },
      { name: 'ortho', kind: 'geotiff' },
    ]);
    expect(await sqlColumn(upgraded, 'select imagery_id from projects')).toEqual([1]);
    expect(await pragmaRows(upgraded, 'foreign_key_check')).toEqual([]);
    expect(await pragmaValue(upgraded, 'foreign_keys')).toBe(1);
    // The projects' reference follows the rebuilt table: imagery in use still cannot be deleted.
    await expect(sqlRun(upgraded, 'delete from imagery_sources where id = 1')).rejects.toThrow(
      /FOREIGN KEY constraint failed/,
    );
    await upgraded.close();
  });

  it('says what is missing when the migrations folder is wrong, and what failed when one does not apply', async () => {
    await expect(
      (async () => await openDatabase(':memory:', { migrationsFolder: join(dir, 'nowhere') }))(),
    ).rejects.toThrow(DatabaseOpenError);

    const broken = join(dir, 'broken-migrations');
    cpSync(DEFAULT_MIGRATIONS_FOLDER, broken, { recursive: true });
    const sqlFile = readdirSync(broken).find((f) => f.endsWith('.sql'))!;
    rmSync(join(broken, sqlFile));
    await expect(
      (async () => await openDatabase(':memory:', { migrationsFolder: broken }))(),
    ).rejects.toThrow(MigrationError);
  });

  it('has migrations that match the schema (drizzle-kit would generate nothing new)', () => {
    expectNoMigrationDrift({
      folder: DEFAULT_MIGRATIONS_FOLDER,
      root: join(DEFAULT_MIGRATIONS_FOLDER, '..'),
      dialect: 'sqlite',
      schema: './server/lib/db/schema.ts',
      scratch: dir,
    });
  });
});
