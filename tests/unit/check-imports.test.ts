import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkImports } from '../../scripts/check-imports.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tilelens-imports-'));
  write(
    'tsconfig.json',
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        allowImportingTsExtensions: true,
        noEmit: true,
      },
    }),
  );
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

const check = (exceptions: Record<string, string> = {}) =>
  checkImports(root, ['server', 'scripts'], exceptions);

describe('checkImports', () => {
  it('passes a layered tree', () => {
    write('server/lib/geo/tiles.ts', 'export const z = 18;\n');
    write('server/lib/scoring/score.ts', "import { z } from '../geo/tiles.ts';\nexport const s = z;\n");
    write('server/lib/db/repo.ts', "import { sql } from 'drizzle-orm';\nexport const q = sql;\n");
    write('server/routes/a.ts', "import { s } from '../lib/scoring/score.ts';\nexport const a = s;\n");
    expect(check()).toEqual([]);
  });

  it('finds a module cycle through a dynamic import and names its path', () => {
    write('server/lib/imagery/source.ts', "export async function open() { return import('./xyz.ts'); }\n");
    write(
      'server/lib/imagery/xyz.ts',
      "import type { open } from './source.ts';\nexport type O = typeof open;\n",
    );
    const problems = check();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      rule: 'cycle',
      files: ['server/lib/imagery/source.ts', 'server/lib/imagery/xyz.ts', 'server/lib/imagery/source.ts'],
    });
  });

  it('finds folders of the library that import each other without a module cycle', () => {
    write('server/lib/exports/find.ts', "import type { T } from '../scoring/tile.ts';\nexport type F = T;\n");
    write('server/lib/scoring/tile.ts', 'export type T = number;\n');
    write(
      'server/lib/scoring/region.ts',
      "import type { F } from '../exports/find.ts';\nexport type R = F;\n",
    );
    const problems = check();
    expect(problems.map((p) => p.rule)).toEqual(['folder-cycle']);
    expect(problems[0].message).toMatch(/server\/lib\/exports → server\/lib\/scoring → server\/lib\/exports/);
  });

  it('refuses the library importing routes and a route importing a route', () => {
    write('server/routes/a.ts', 'export const a = 1;\n');
    write('server/routes/b.ts', "import { a } from './a.ts';\nexport const b = a;\n");
    write('server/lib/x/y.ts', "import { b } from '../../routes/b.ts';\nexport const y = b;\n");
    expect(
      check()
        .map((p) => `${p.rule} ${p.files.join(' ')}`)
        .sort(),
    ).toEqual([
      'library-imports-http server/lib/x/y.ts server/routes/b.ts',
      'route-imports-route server/routes/b.ts server/routes/a.ts',
    ]);
  });

  it('keeps SQL in server/lib/db, and reports an exception that is no longer needed', () => {
    write('server/lib/insights/q.ts', "export const n = (h: any) => h.sqlite.prepare('select 1').get();\n");
    write('scripts/bench.ts', "import Database from 'better-sqlite3';\nexport const D = Database;\n");
    write('server/routes/clean.ts', 'export const c = 1;\n');
    const problems = check({ 'server/routes/clean.ts': 'was moved' });
    expect(problems.map((p) => `${p.rule} ${p.files[0]}`).sort()).toEqual([
      'sql-outside-db scripts/bench.ts',
      'sql-outside-db server/lib/insights/q.ts',
      'stale-exception server/routes/clean.ts',
    ]);
  });
});
