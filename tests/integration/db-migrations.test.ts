import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DatabaseOpenError,
  DEFAULT_MIGRATIONS_FOLDER,
  MigrationError,
  openDatabase,
  type DatabaseHandle,
} from '../../server/lib/db/client.ts';
import { saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
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
function copySharedColumns(from: DatabaseHandle, to: DatabaseHandle, table: string): void {
  const columns = (h: DatabaseHandle) =>
    (h.sqlite.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
  const have = new Set(columns(to));
  const shared = columns(from).filter((c) => have.has(c));
  const list = shared.map((c) => `"${c}"`).join(', ');
  const insert = to.sqlite.prepare(
    `insert into ${table} (${list}) values (${shared.map(() => '?').join(', ')})`,
  );
  for (const row of from.sqlite.prepare(`select ${list} from ${table}`).raw().iterate())
    insert.run(...(row as unknown[]));
}

describe('openDatabase', () => {
  it('applies the migrations to a fresh file in WAL mode with foreign keys on', async () => {
    const path = join(dir, 'nested', 'tilelens.db');
    const handle = await openDatabase(path);
    const tables = handle.sqlite
      .prepare(
        `select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`,
      )
      .pluck()
      .all();
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
    expect(handle.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(handle.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(handle.sqlite.prepare('select count(*) from __drizzle_migrations').pluck().get()).toBe(
      journal.entries.length,
    );
    const indexes = handle.sqlite
      .prepare(`select name from sqlite_master where type = 'index' and tbl_name = 'patches'`)
      .pluck()
      .all();
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
    expect(again.sqlite.prepare('select count(*) from __drizzle_migrations').pluck().get()).toBe(
      journal.entries.length,
    );
    expect(again.sqlite.prepare('select count(*) from patches').pluck().get()).toBe(20);
    await again.close();
  });

  it('enforces foreign keys and CHECK constraints for writers that bypass the repository', async () => {
    const handle = await openDatabase(join(dir, 'tilelens.db'));
    const orphan = handle.sqlite.prepare(
      `insert into patches (run_id, idx, patch_key, split, image_ref, tp, fp, fn, tn, gt_fraction, pred_fraction, empty)
       values (999, 0, '18-1-1', 'train', 'demo:0', 1, 0, 0, 0, 0, 0, 0)`,
    );
    expect(() => orphan.run()).toThrow(/FOREIGN KEY constraint failed/);
    const badRuntime = handle.sqlite.prepare(
      `insert into models (name, runtime, path, sha256, input_size, layer, sidecar) values ('m', 'pytorch', '/m', 'x', 1, 'l', '{}')`,
    );
    expect(() => badRuntime.run()).toThrow(/CHECK constraint failed: models_runtime_check/);
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
      copySharedColumns(current, old, table);
    await current.close();
    old.sqlite
      .prepare(
        `insert into imagery_sources (name, kind, spec, min_zoom, max_zoom) values
           ('chips', 'geotiff', '{"kind":"geotiff-folder","path":"/data/chips"}', 0, 22),
           ('ortho', 'geotiff', '{"kind":"geotiff","path":"/data/ortho.tif"}', 0, 22)`,
      )
      .run();
    old.sqlite
      .prepare(
        `insert into projects (name, zoom, imagery_id, run_id, model_id, area, area_km2, tile_count, bbox, look_for)
         values ('p', 18, 1, ?, ?, '{}', 1, 1, '[0,0,1,1]', 'buildings')`,
      )
      .run(runId, ids.modelId);
    await old.close();

    const upgraded = await openDatabase(path);
    expect(upgraded.sqlite.prepare('select name, kind from imagery_sources order by id').all()).toEqual([
      { name: 'chips', kind: 'geotiff-folder' },
      { name: 'ortho', kind: 'geotiff' },
    ]);
    expect(upgraded.sqlite.prepare('select imagery_id from projects').pluck().all()).toEqual([1]);
    expect(upgraded.sqlite.pragma('foreign_key_check')).toEqual([]);
    expect(upgraded.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    // The projects' reference follows the rebuilt table: imagery in use still cannot be deleted.
    expect(() => upgraded.sqlite.prepare('delete from imagery_sources where id = 1').run()).toThrow(
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
    const out = join(dir, 'migrations');
    cpSync(DEFAULT_MIGRATIONS_FOLDER, out, { recursive: true });
    const before = readdirSync(out).sort();
    const root = join(DEFAULT_MIGRATIONS_FOLDER, '..');
    // drizzle-kit prefixes './' to --out, so it has to be relative to the cwd.
    const report = execFileSync(
      process.execPath,
      [
        'node_modules/drizzle-kit/bin.cjs',
        'generate',
        '--dialect=sqlite',
        '--schema=./server/lib/db/schema.ts',
        `--out=${relative(root, out)}`,
      ],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(report).toContain('No schema changes');
    expect(readdirSync(out).sort()).toEqual(before);
  });
});
