/**
 * Bad input to the reference analysis: each case gives a message naming the thing and what to do, and the
 * database holds no half-written run afterwards.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld } from '../../scripts/demo-world/generate.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { openDemoWorldDataset, readDemoTiles } from '../../server/lib/datasets/demo-world.ts';
import type { PatchSource } from '../../server/lib/datasets/patch-source.ts';
import { loadModel, type SegmentationModel } from '../../server/lib/model/runtime.ts';
import { analyzeDataset } from '../../server/lib/analysis/analyze-dataset.ts';
import { openPMTiles } from '../../server/lib/pmtiles/file-source.ts';
import { PMTilesWriter } from '../../server/lib/pmtiles/writer.ts';
import { demoModelPath } from '../../server/lib/paths.ts';
import { sqlValue } from '../../server/lib/db/store-probe.ts';

let dir: string;
let world: string;
let db: DatabaseHandle;
let model: SegmentationModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-bad-'));
  world = join(dir, 'world');
  await generateDemoWorld({ seed: 3, outDir: world, scale: 'small' });
  db = await openDatabase(join(dir, 'tilelens.db'));
  model = await loadModel(demoModelPath);
});

afterAll(async () => {
  await model?.dispose();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const runCount = () => sqlValue(db, 'select count(*) from analysis_runs');
const patchCount = () => sqlValue(db, 'select count(*) from patches');
const analyze = (source: PatchSource, m: SegmentationModel = model) =>
  analyzeDataset({ db, model: m, modelPath: demoModelPath, source, runsDir: join(dir, 'runs') });

function copyWorld(name: string): string {
  const copy = join(dir, name);
  cpSync(world, copy, { recursive: true });
  return copy;
}

describe('reference analysis on bad input', () => {
  it('names a corrupt tile in the archive and what to do', async () => {
    const copy = copyWorld('corrupt-tile');
    const victim = readDemoTiles(world).find((t) => t.region === 'train')!;
    const original = await openPMTiles(join(world, 'imagery.pmtiles'));
    const writer = new PMTilesWriter(join(copy, 'imagery.pmtiles'), { tileType: 'jpeg' });
    for (const t of readDemoTiles(world)) {
      const bytes = await original.getTile(t.z, t.x, t.y);
      const corrupt = t.taskId === victim.taskId;
      await writer.addTile(
        t.z,
        t.x,
        t.y,
        corrupt ? new TextEncoder().encode('<html>not an image</html>') : bytes!,
      );
    }
    await writer.finish({ minZoom: 18, maxZoom: 18, metadata: {} } as never);
    original.close();
    const source = openDemoWorldDataset(copy);
    await expect(analyze(source)).rejects.toThrow(new RegExp(`tile ${victim.taskId}`));
    await source.close();
    expect(await runCount()).toBe(0);
  });

  it('names a footprint file that is not GeoJSON', async () => {
    const copy = copyWorld('bad-footprints');
    writeFileSync(join(copy, 'footprints.geojson'), '{"hello": "world"}');
    const source = openDemoWorldDataset(copy);
    await expect(analyze(source)).rejects.toThrow(/footprints\.geojson/);
    await source.close();
    expect(await runCount()).toBe(0);
  });

  it('says when a directory is not a demo world', () => {
    expect(() => openDemoWorldDataset(join(dir, 'nowhere'))).toThrow(/not a demo world.*build-demo-world/);
  });

  it('refuses an empty dataset', async () => {
    const empty: PatchSource = {
      name: 'empty',
      kind: 'folder',
      description: {},
      size: 0,
      async *patches() {},
      async close() {},
    };
    await expect(analyze(empty)).rejects.toThrow(/holds no patches/);
    expect(await runCount()).toBe(0);
  });

  it('lists the layers a model has when asked for one it lacks', async () => {
    await expect(loadModel(demoModelPath, { layer: 'encoder.layer4' })).rejects.toThrow(
      /encoder\.layer4[\s\S]*bottleneck/,
    );
  });

  it('stops on NaN activations, naming the patch, and leaves no run behind', async () => {
    // A model whose bottleneck turns NaN part-way: what a broken normalisation or export produces.
    let calls = 0;
    const poisoned: SegmentationModel = {
      info: model.info,
      async predict(batch, n, size) {
        const out = await model.predict(batch, n, size);
        if (++calls === 3) out.activations.fill(Number.NaN, 0, 10);
        return out;
      },
      async dispose() {},
    };
    const source = openDemoWorldDataset(world);
    await expect(analyze(source, poisoned)).rejects.toThrow(/NaN/);
    await source.close();
    expect(await runCount()).toBe(0);
    expect(await patchCount()).toBe(0);
  });

  it('still analyses the intact world afterwards', async () => {
    const source = openDemoWorldDataset(world);
    const summary = await analyze(source);
    await source.close();
    expect(summary.patchesAnalysed).toBe(readDemoTiles(world).filter((t) => t.region === 'train').length);
    expect(await runCount()).toBe(1);
  });
});
