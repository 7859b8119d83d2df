import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, splitOf } from '../../scripts/eval-real.ts';
import { demoModelPath, repoRoot } from '../../server/lib/paths.ts';

const realdata = process.env.REALDATA ?? join(repoRoot, '../shared/realdata');

describe('eval-real splits', () => {
  it('splits by source image, unseen datasets apart', () => {
    const s = (image: string, group: string) => splitOf({ image, mask: '', group });
    expect(s('/x/rio/images/a.tif', 'rio')).toBe('unseen');
    const splits = Array.from({ length: 200 }, (_, i) => s(`/x/accra/images/${i}.jpg`, 'accra'));
    const train = splits.filter((v) => v === 'train').length;
    expect(train).toBeGreaterThan(120);
    expect(train).toBeLessThan(160);
    expect(new Set(splits)).toEqual(new Set(['train', 'val', 'test']));
  });
});

describe.skipIf(!existsSync(join(realdata, 'manifest.csv')))('eval-real on a small real subset', () => {
  it('fits the reference on train and val patches only and reports every figure on the held-out ones', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'tilelens-evalreal-'));
    try {
      const ev = await evaluate({
        realdata,
        modelPath: demoModelPath,
        outDir,
        limitPerGroup: 6,
        sheets: false,
      });
      expect(Object.keys(ev.iouByDataset)).toEqual(['accra', 'dubai', 'rio', 'kitsap']);
      expect(ev.iouByDataset.kitsap.patches).toBe(16);
      expect(ev.iouByDataset.rio.patches).toBe(24);
      expect(ev.novelty.auroc).toBeGreaterThanOrEqual(0);
      expect(ev.novelty.auroc).toBeLessThanOrEqual(1);
      expect(ev.clusterVsDataset.adjustedRand).not.toBeNull();
      expect(ev.unseen.patches).toBe(40);
      expect(ev.unseen.spearmanTrainOnlySurface).not.toBeNull();
      // No test-split, Rio or Kitsap patch enters the reference run: its patch count is the train + val patches.
      expect(ev.summary.patchesAnalysed).toBe(ev.reference.patches);
      expect(ev.reference.heldOutPatches).toBe(
        ev.unseen.patches + ev.iouByDataset.accra.patches + ev.iouByDataset.dubai.patches,
      );
      expect(ev.reference.patches + ev.reference.heldOutPatches).toBe(ev.patches);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
