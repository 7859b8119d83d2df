import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { is } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { getTableConfig as getPgTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoMigrationDrift } from '../fixtures/migration-drift.ts';
import { MigrationError, openDatabase } from '../../server/lib/db/client.ts';
import { startLocalPostgres, type LocalPostgres } from '../../server/lib/db/local-postgres.ts';
import { DEFAULT_PG_MIGRATIONS_FOLDER, migratePostgres } from '../../server/lib/db/pg-migrate.ts';
import * as sqliteSchema from '../../server/lib/db/schema.ts';
import * as pgSchema from '../../server/lib/db/schema-pg.ts';
import { sqlAll } from '../../server/lib/db/store-probe.ts';

let dir: string;
let server: LocalPostgres;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-pg-migrations-'));
  chmodSync(dir, 0o755); // run as root, the server runs as the `postgres` user
  server = await startLocalPostgres({ folder: join(dir, 'cluster') });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sqliteTables = (Object.values(sqliteSchema) as unknown[]).filter((v): v is SQLiteTable =>
  is(v, SQLiteTable),
);

const journal = JSON.parse(
  readFileSync(join(DEFAULT_PG_MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8'),
) as {
  entries: { tag: string }[];
};

async function pgRows<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/** One line per table and column, per key, per index and per reference: what both stores must agree on. */
interface Shape {
  tables: string[];
  columns: string[];
  primaryKeys: string[];
  indexes: string[];
  references: string[];
}

async function postgresShape(url: string): Promise<Shape> {
  const tables = await pgRows<{ t: string }>(
    url,
    "select table_name as t from information_schema.tables where table_schema = 'public' order by 1",
  );
  const columns = await pgRows<{ t: string; c: string; nullable: string }>(
    url,
    "select table_name as t, column_name as c, is_nullable as nullable from information_schema.columns where table_schema = 'public'",
  );
  const keys = await pgRows<{ t: string; cols: string }>(
    url,
    `select i.indrelid::regclass::text as t,
            string_agg(a.attname, ',' order by array_position(i.indkey::int2[], a.attnum)) as cols
       from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
       join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
      where i.indisprimary and n.nspname = 'public'
      group by i.indrelid`,
  );
  const indexes = await pgRows<{ t: string; name: string; uniq: boolean; cols: string }>(
    url,
    `select i.indrelid::regclass::text as t, c.relname as name, i.indisunique as uniq,
            string_agg(a.attname, ',' order by array_position(i.indkey::int2[], a.attnum)) as cols
       from pg_index i join pg_class c on c.oid = i.indexrelid
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
       join pg_namespace n on n.oid = c.relnamespace
      where not i.indisprimary and n.nspname = 'public'
      group by i.indrelid, c.relname, i.indisunique`,
  );
  const references = await pgRows<{ t: string; cols: string; ref: string; refcols: string; del: string }>(
    url,
    `select conrelid::regclass::text as t, confrelid::regclass::text as ref,
            (select string_agg(attname, ',' order by array_position(conkey, attnum)) from pg_attribute where attrelid = conrelid and attnum = any(conkey)) as cols,
            (select string_agg(attname, ',' order by array_position(confkey, attnum)) from pg_attribute where attrelid = confrelid and attnum = any(confkey)) as refcols,
            case confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade' when 'n' then 'set null' else 'set default' end as del
       from pg_constraint where contype = 'f'`,
  );
  return {
    tables: tables.map((r) => r.t),
    columns: columns.map((r) => `${r.t}.${r.c} ${r.nullable === 'YES' ? 'null' : 'not null'}`).sort(),
    primaryKeys: keys.map((r) => `${r.t} (${r.cols})`).sort(),
    indexes: indexes.map((r) => `${r.t} ${r.name} ${r.uniq ? 'unique ' : ''}(${r.cols})`).sort(),
    references: references
      .map((r) => `${r.t} (${r.cols}) → ${r.ref} (${r.refcols}) on delete ${r.del}`)
      .sort(),
  };
}

async function sqliteShape(): Promise<Shape> {
  const handle = await openDatabase(':memory:');
  try {
    const tables = (
      await sqlAll<{ name: string }>(
        handle,
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%' order by 1",
      )
    ).map((r) => r.name);
    const shape: Shape = { tables, columns: [], primaryKeys: [], indexes: [], references: [] };
    for (const t of tables) {
      const info = await sqlAll<{ name: string; notnull: number; pk: number }>(
        handle,
        'select * from pragma_table_info(?)',
        t,
      );
      // SQLite does not mark a primary key's columns NOT NULL; Postgres does, and both refuse a null there.
      for (const c of info) shape.columns.push(`${t}.${c.name} ${c.notnull || c.pk ? 'not null' : 'null'}`);
      const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
      shape.primaryKeys.push(`${t} (${pk.map((c) => c.name).join(',')})`);
      for (const ix of await sqlAll<{ name: string; unique: number; origin: string }>(
        handle,
        'select * from pragma_index_list(?)',
        t,
      )) {
        if (ix.origin === 'pk') continue;
        const cols = await sqlAll<{ name: string }>(
          handle,
          'select name from pragma_index_info(?) order by seqno',
          ix.name,
        );
        shape.indexes.push(
          `${t} ${ix.name} ${ix.unique ? 'unique ' : ''}(${cols.map((c) => c.name).join(',')})`,
        );
      }
      const fks = await sqlAll<{ id: number; table: string; from: string; to: string; on_delete: string }>(
        handle,
        'select * from pragma_foreign_key_list(?) order by id, seq',
        t,
      );
      for (const id of new Set(fks.map((f) => f.id))) {
        const parts = fks.filter((f) => f.id === id);
        shape.references.push(
          `${t} (${parts.map((f) => f.from).join(',')}) → ${parts[0]!.table} (${parts.map((f) => f.to).join(',')}) on delete ${parts[0]!.on_delete.toLowerCase()}`,
        );
      }
    }
    for (const key of ['columns', 'primaryKeys', 'indexes', 'references'] as const) shape[key].sort();
    return shape;
  } finally {
    await handle.close();
  }
}

describe('the schema in Postgres', () => {
  it('has a Postgres table for every table of schema.ts, with the same columns, keys, indexes and checks', () => {
    const pgTables = (Object.values(pgSchema) as unknown[]).filter((v): v is PgTable => is(v, PgTable));
    expect(pgTables.map((t) => getPgTableConfig(t).name).sort()).toEqual(
      sqliteTables.map((t) => getTableConfig(t).name).sort(),
    );
    for (const table of sqliteTables) {
      const lite = getTableConfig(table);
      const derived = getPgTableConfig(pgSchema.pgTableOf(table));
      expect(derived.columns.map((c) => c.name)).toEqual(lite.columns.map((c) => c.name));
      expect(derived.checks.map((c) => c.name)).toEqual(lite.checks.map((c) => c.name));
    }
  });

  it('has migrations that match the schema (drizzle-kit would generate nothing new)', () => {
    expectNoMigrationDrift({
      folder: DEFAULT_PG_MIGRATIONS_FOLDER,
      root: join(DEFAULT_PG_MIGRATIONS_FOLDER, '..', '..'),
      dialect: 'postgresql',
      schema: './server/lib/db/schema-pg.ts',
      scratch: dir,
    });
  });

  it('migrates a fresh local Postgres to the latest schema, the same as a fresh SQLite store', async () => {
    await migratePostgres(server.url);
    const applied = await pgRows<{ n: number }>(
      server.url,
      'select count(*)::int as n from drizzle.__drizzle_migrations',
    );
    expect(applied[0]!.n).toBe(journal.entries.length);
    const [postgres, sqlite] = await Promise.all([postgresShape(server.url), sqliteShape()]);
    expect(postgres).toEqual(sqlite);
    // Not two empty lists agreeing: the shape holds every table and its keys, indexes and references.
    expect(postgres.tables).toHaveLength(sqliteTables.length);
    expect(postgres.primaryKeys).toHaveLength(postgres.tables.length);
    expect(postgres.indexes.length).toBeGreaterThan(10);
    expect(postgres.references.length).toBeGreaterThan(20);

    // Again: nothing to apply, nothing changed.
    await migratePostgres(server.url);
    expect(await postgresShape(server.url)).toEqual(postgres);
  });

  it('holds rows as the SQLite store does: defaults, JSON, timestamps, and the checks', async () => {
    await migratePostgres(server.url);
    const pool = new pg.Pool({ connectionString: server.url, max: 1 });
    try {
      const db = drizzle(pool);
      const sidecar = { inputSize: 256 };
      const before = Date.now();
      const [row] = await db
        .insert(pgSchema.models)
        .values({
          name: 'unet',
          runtime: 'onnx',
          path: '/m.onnx',
          sha256: 'ab',
          inputSize: 256,
          layer: 'b',
          sidecar,
        })
        .returning();
      expect(row!.id).toBeGreaterThan(0);
      expect(row!.sidecar).toEqual(sidecar);
      expect(row!.createdAt).toBeInstanceOf(Date);
      expect((row!.createdAt as Date).getTime()).toBeGreaterThanOrEqual(before - 1000);
      await expect(
        db.insert(pgSchema.models).values({
          name: 'x',
          // A value the type refuses too: the check must hold for writers that bypass it.
          runtime: 'bogus' as 'onnx',
          path: '/x',
          sha256: 'cd',
          inputSize: 1,
          layer: 'b',
          sidecar,
        }),
      ).rejects.toMatchObject({ cause: { constraint: 'models_runtime_check' } });
    } finally {
      await pool.end();
    }
  });

  it('refuses a folder without migrations, and names the database without its password', async () => {
    const error = await migratePostgres(server.url, { migrationsFolder: join(dir, 'nothing') }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain('no drizzle migration journal');
    expect((error as Error).message).not.toContain(new URL(server.url).password);

    const broken = join(dir, 'broken');
    cpSync(DEFAULT_PG_MIGRATIONS_FOLDER, broken, { recursive: true });
    const fresh = server.url.replace(/\/tilelens$/, '/postgres');
    const sqlFile = readdirSync(broken).find((f) => f.endsWith('.sql'))!;
    rmSync(join(broken, sqlFile));
    await expect(migratePostgres(fresh, { migrationsFolder: broken })).rejects.toThrow(MigrationError);
  });
});
