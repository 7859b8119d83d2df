import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import {
  deleteRun,
  getClusters,
  getPatches,
  getRun,
  InvalidPatchError,
  InvalidQueryError,
  InvalidStoredJsonError,
  latestRunFor,
  listRuns,
  PATCH_BATCH_ROWS,
  RunCountMismatchError,
  saveAnalysisRun,
  UnknownReferenceError,
  upsertDataset,
  upsertModel,
} from '../../server/lib/db/analysis-repo.ts';
import type { NewPatch } from '../../server/lib/db/schema.ts';
import {
  registerSampleModelAndDataset,
  sampleClusters,
  samplePatch,
  samplePatches,
  sampleRun,
  SAMPLE_K,
} from '../fixtures/db-sample-run.ts';
import { sqlGet, sqlRun } from '../../server/lib/db/store-probe.ts';

let handle: DatabaseHandle;
let ids: { modelId: number; datasetId: number };

beforeEach(async () => {
  handle = await openDatabase(':memory:');
  ids = await registerSampleModelAndDataset(handle);
});
afterEach(async () => await handle.close());

const count = async (table: string): Promise<number> =>
  (await sqlGet<{ n: number }>(handle, `select count(*) as n from ${table}`))!.n;

// One more than a whole number of batches, so the remainder statement is exercised too.
const N = PATCH_BATCH_ROWS * 3 + 17;

describe('models and datasets', () => {
  it('upserts a model by name and sha256', async () => {
    const first = await upsertModel(handle, {
      name: 'm',
      runtime: 'onnx',
      path: '/a.onnx',
      sha256: '1'.repeat(64),
      inputSize: 128,
      layer: 'enc4',
      sidecar: {},
    });
    const same = await upsertModel(handle, { ...first, id: undefined, path: '/moved/a.onnx', layer: 'enc5' });
    expect(same.id).toBe(first.id);
    expect(same.path).toBe('/moved/a.onnx');
    expect(same.layer).toBe('enc5');
    const retrained = await upsertModel(handle, { ...first, id: undefined, sha256: '2'.repeat(64) });
    expect(retrained.id).not.toBe(first.id);
  });

  it('upserts a dataset by name', async () => {
    const again = await upsertDataset(handle, {
      name: 'demo-world',
      kind: 'folder',
      source: { dir: 'x' },
      patchCount: 12,
    });
    expect(again.id).toBe(ids.datasetId);
    expect(again).toMatchObject({ kind: 'folder', source: { dir: 'x' }, patchCount: 12 });
    expect(await count('datasets')).toBe(1);
  });
});

describe('saveAnalysisRun', () => {
  it('saves a run, its patches and clusters, and reads them back as written', async () => {
    const runId = await saveAnalysisRun(handle, sampleRun(ids, N), samplePatches(N), sampleClusters(N));

    const run = (await getRun(handle, runId))!;
    expect(run).toMatchObject({ ...sampleRun(ids, N), id: runId, status: 'complete' });
    expect(run.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(run.createdAt.getTime() - Date.now())).toBeLessThan(60_000);

    const all = await getPatches(handle, runId, { limit: N });
    expect(all).toHaveLength(N);
    all.forEach((p, i) => expect(p).toEqual({ runId, ...samplePatch(i) }));
    // Null JSON stays SQL NULL rather than the string 'null'.
    const nullPhenomena = (await sqlGet<{ n: number }>(
      handle,
      'select count(*) as n from patches where phenomena is null',
    ))!;
    expect(nullPhenomena.n).toBe(all.filter((p) => p.phenomena === null).length);

    expect(await getClusters(handle, runId)).toEqual(sampleClusters(N).map((c) => ({ runId, ...c })));
  });

  it('pages, filters by cluster and projects columns', async () => {
    const runId = await saveAnalysisRun(handle, sampleRun(ids, N), samplePatches(N), sampleClusters(N));
    const page = await getPatches(handle, runId, {
      cluster: 1,
      limit: 5,
      offset: 2,
      columns: ['idx', 'cluster', 'iou'],
    });
    expect(page.map((p) => p.idx)).toEqual([7, 10, 13, 16, 19]);
    expect(Object.keys(page[0]!).sort()).toEqual(['cluster', 'idx', 'iou']);
    expect(page.every((p) => p.cluster === 1)).toBe(true);
    const clusterSizes: number[] = [];
    for (let k = 0; k < SAMPLE_K; k++)
      clusterSizes.push((await getPatches(handle, runId, { cluster: k, limit: N, columns: ['idx'] })).length);
    expect(clusterSizes).toEqual(sampleClusters(N).map((c) => c.size));
  });

  it('rolls everything back when the patch stream throws part-way', async () => {
    function* failingAfter1000(): Generator<NewPatch> {
      for (let i = 0; i < 1000; i++) yield samplePatch(i);
      throw new Error('activation file truncated');
    }
    await expect(
      (async () =>
        await saveAnalysisRun(handle, sampleRun(ids, 5000), failingAfter1000(), sampleClusters(5000)))(),
    ).rejects.toThrow('activation file truncated');
    expect([await count('analysis_runs'), await count('patches'), await count('clusters')]).toEqual([
      0, 0, 0,
    ]);
    // The connection is still usable: no transaction was left open.
    const runId = await saveAnalysisRun(handle, sampleRun(ids, 10), samplePatches(10), sampleClusters(10));
    expect(await getPatches(handle, runId, { limit: 100 })).toHaveLength(10);
  });

  it('rolls back when the declared counts disagree with the patches written', async () => {
    await expect(
      (async () =>
        await saveAnalysisRun(handle, sampleRun(ids, N + 1), samplePatches(N), sampleClusters(N)))(),
    ).rejects.toThrow(RunCountMismatchError);
    const run = { ...sampleRun(ids, N), emptyCount: 0 };
    await expect(
      (async () => await saveAnalysisRun(handle, run, samplePatches(N), sampleClusters(N)))(),
    ).rejects.toThrow(/emptyCount = 0/);
    expect([await count('analysis_runs'), await count('patches')]).toEqual([0, 0]);
  });

  it('names the patch and column that is missing a required value', async () => {
    function* withHole(): Generator<NewPatch> {
      yield samplePatch(0);
      const { tp: _tp, ...noTp } = samplePatch(1);
      yield noTp as NewPatch;
    }
    await expect(
      (async () => await saveAnalysisRun(handle, sampleRun(ids, 2), withHole(), []))(),
    ).rejects.toThrow(new InvalidPatchError(1, "has no value for 'tp', which is required"));
    expect(await count('patches')).toBe(0);
  });

  it('rejects a duplicate patch idx and leaves nothing behind', async () => {
    const twice = [samplePatch(0), samplePatch(1), samplePatch(1)];
    await expect((async () => await saveAnalysisRun(handle, sampleRun(ids, 3), twice, []))()).rejects.toThrow(
      /UNIQUE constraint failed/,
    );
    expect([await count('analysis_runs'), await count('patches')]).toEqual([0, 0]);
  });

  it('refuses runs for unknown models and malformed blobs before writing', async () => {
    await expect(
      (async () =>
        await saveAnalysisRun(handle, sampleRun({ ...ids, modelId: 99 }, 1), samplePatches(1), []))(),
    ).rejects.toThrow(UnknownReferenceError);
    const badPca = sampleRun(ids, 1);
    badPca.pca = { ...badPca.pca, mean: [1, 2] };
    await expect((async () => await saveAnalysisRun(handle, badPca, samplePatches(1), []))()).rejects.toThrow(
      /pca\.components\.0: component 0 has 16 values/,
    );
    const badKmeans = sampleRun(ids, 1);
    badKmeans.kmeans = { ...badKmeans.kmeans, chosenK: 5 };
    await expect(
      (async () => await saveAnalysisRun(handle, badKmeans, samplePatches(1), []))(),
    ).rejects.toThrow(InvalidStoredJsonError);
    expect(await count('analysis_runs')).toBe(0);
  });
});

describe('reading runs', () => {
  it('finds the latest run of a model over a dataset and lists runs newest first', async () => {
    const other = await registerSampleModelAndDataset(handle, '-b');
    const first = await saveAnalysisRun(handle, sampleRun(ids, 3), samplePatches(3), []);
    const second = await saveAnalysisRun(handle, sampleRun(ids, 4), samplePatches(4), []);
    const elsewhere = await saveAnalysisRun(handle, sampleRun(other, 2), samplePatches(2), []);
    expect((await latestRunFor(handle, ids.modelId, ids.datasetId))?.id).toBe(second);
    expect(await latestRunFor(handle, ids.modelId, other.datasetId)).toBeUndefined();
    expect((await listRuns(handle)).map((r) => r.id)).toEqual([elsewhere, second, first]);
    const mine = await listRuns(handle, { modelId: ids.modelId });
    expect(mine.map((r) => r.id)).toEqual([second, first]);
    expect(mine[0]).toMatchObject({
      modelName: 'unet-w16',
      datasetName: 'demo-world',
      heldOutR2: 0.61,
      chosenK: 3,
    });
    expect(await getRun(handle, 12345)).toBeUndefined();
  });

  it('refuses a stored run whose blobs were damaged', async () => {
    const runId = await saveAnalysisRun(handle, sampleRun(ids, 1), samplePatches(1), []);
    await sqlRun(handle, `update analysis_runs set estimator = '{"heldOut":{}}' where id = ?`, runId);
    await expect((async () => await getRun(handle, runId))()).rejects.toThrow(
      new RegExp(`analysis run ${runId} has an invalid 'estimator'`),
    );
  });

  it('rejects bad pages and unknown columns with a message naming them', async () => {
    const runId = await saveAnalysisRun(handle, sampleRun(ids, 1), samplePatches(1), []);
    await expect((async () => await getPatches(handle, runId, { limit: 0 }))()).rejects.toThrow(
      InvalidQueryError,
    );
    await expect((async () => await getPatches(handle, runId, { limit: 10, offset: -1 }))()).rejects.toThrow(
      /offset/,
    );
    await expect(
      (async () => await getPatches(handle, runId, { limit: 10, columns: ['idx', 'path' as 'idx'] }))(),
    ).rejects.toThrow(/unknown column 'path'/);
  });

  it('deletes a run with its patches and clusters', async () => {
    const runId = await saveAnalysisRun(handle, sampleRun(ids, 5), samplePatches(5), sampleClusters(5));
    expect(await deleteRun(handle, runId)).toBe(true);
    expect([await count('analysis_runs'), await count('patches'), await count('clusters')]).toEqual([
      0, 0, 0,
    ]);
    expect(await deleteRun(handle, runId)).toBe(false);
  });
});
