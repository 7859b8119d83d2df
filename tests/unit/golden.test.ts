import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { golden, REGENERATE } from '../fixtures/golden.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilelens-golden-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => pathToFileURL(join(dir, name));

describe.skipIf(REGENERATE)('golden fixtures outside REGEN', () => {
  it('fail when the fixture is missing, and do not write it', async () => {
    await expect(golden(file('missing.json'), { a: 1 })).rejects.toThrow(/missing; write it with REGEN=1/);
    await expect(golden(file('missing.json'), { a: 1 })).rejects.toThrow(/missing/);
  });

  it('fail when the output differs, as data for JSON and byte for byte for text', async () => {
    writeFileSync(join(dir, 'data.geojson'), '{ "b": [1, 2],\n  "a": 1 }\n');
    await golden(file('data.geojson'), { a: 1, b: [1, 2] });
    await expect(golden(file('data.geojson'), { a: 1, b: [2, 1] })).rejects.toThrow(/differs/);
    writeFileSync(join(dir, 'table.csv'), 'a,b\n1,2\n');
    await golden(file('table.csv'), 'a,b\n1,2\n');
    await expect(golden(file('table.csv'), 'a,b\n1,2')).rejects.toThrow(/differs/);
  });
});
