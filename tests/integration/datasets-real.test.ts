import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeDataset } from '../../server/lib/analysis/analyze-dataset.ts';
import { matchPairs, openPairsDataset } from '../../server/lib/datasets/folder.ts';
import { openDatabase } from '../../server/lib/db/client.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { demoModelPath, repoRoot } from '../../server/lib/paths.ts';

const realdata = process.env.REALDATA ?? join(repoRoot, '../shared/realdata');
const dubai = join(realdata, 'dubai');
const present = existsSync(join(dubai, 'classes'));

describe.skipIf(!present)('real data: Dubai 6-class masks through the demo model', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tilelens-real-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const pairs = () => matchPairs(join(dubai, 'images'), join(dubai, 'classes'), 'dubai').slice(0, 3);

  it('refuses the class masks without a target class', async () => {
    const source = await openPairsDataset(
      pairs(),
      { name: 'dubai', kind: 'folder', description: {} },
      { patchSize: 256 },
    );
    const it = source.patches()[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(/holds the values 0, 1, 2, 3, 4, 5.*--target-class N/);
  });

  it('loads and analyses a handful of patches with building = class 1', async () => {
    const source = await openPairsDataset(
      pairs(),
      { name: 'dubai-classes', kind: 'folder', description: {} },
      { patchSize: 256, targetClass: 1 },
    );
    expect(source.size).toBeGreaterThan(20);
    const db = await openDatabase(join(dir, 'real.db'));
    const model = await loadModel(demoModelPath);
    try {
      const summary = await analyzeDataset({
        db,
        model,
        modelPath: demoModelPath,
        source,
        runsDir: join(dir, 'runs'),
      });
      expect(summary.patchesAnalysed).toBe(source.size);
      expect(summary.patchesAnalysed - summary.emptyPatches).toBeGreaterThan(5);
      expect(summary.modelHeldOutIou.pooled).not.toBeNull();
      expect(summary.chosenK).toBeGreaterThanOrEqual(2);
    } finally {
      await model.dispose();
      await db.close();
    }
  });
});
