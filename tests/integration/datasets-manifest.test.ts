import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, gradient, png, rectMask, useTempDir } from '../fixtures/dataset-files.ts';
import { openManifestDataset } from '../../server/lib/datasets/manifest.ts';
import { openDataset } from '../../server/lib/datasets/open-dataset.ts';

let dir: string;
useTempDir((d) => (dir = d));

describe('manifest', () => {
  it('resolves paths against the CSV, groups by a column and reports a missing column', async () => {
    const root = join(dir, 'man');
    await mkdir(join(root, 'x'), { recursive: true });
    await png(join(root, 'x/i1.png'), gradient(64, 64), 64, 64, 3);
    await png(join(root, 'x/m1.png'), rectMask(64, 64, 255, [0, 0, 8, 8]), 64, 64, 1);
    await png(join(root, 'x/i2.png'), gradient(64, 64), 64, 64, 3);
    await png(join(root, 'x/m2.png'), rectMask(64, 64, 255, [0, 0, 8, 8]), 64, 64, 1);
    const csv = join(root, 'list.csv');
    await writeFile(csv, 'image,mask,city,note\nx/i1.png,x/m1.png,Accra,"a, b"\nx/i2.png,x/m2.png,Rio,\n');
    const patches = await collect(await openManifestDataset(csv, { groupColumn: 'city', patchSize: 64 }));
    expect(patches.map((p) => [p.key, p.group])).toEqual([
      ['x/i1.png#0,0,64,64', 'Accra'],
      ['x/i2.png#0,0,64,64', 'Rio'],
    ]);
    await expect(openManifestDataset(csv, { groupColumn: 'district' })).rejects.toThrow(
      /no column 'district' .*fix --group-column/,
    );
    const viaSpec = await openDataset({ manifest: csv, patchSize: 32 });
    expect(viaSpec.size).toBe(8);
    await expect(openDataset({ manifest: csv, images: root })).rejects.toThrow(/named twice/);
  });
});
