/**
 * The nearest-patch search behind the inspector's evidence: exact against a sort of every distance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import { nearestPatches } from '../../server/lib/latent/nearest-patches.ts';
import {
  registerSampleModelAndDataset,
  sampleClusters,
  samplePatch,
  samplePatches,
  sampleRun,
} from '../fixtures/db-sample-run.ts';

const N = 2000;
let db: DatabaseHandle;
let runId: number;

beforeAll(async () => {
  db = await openDatabase(':memory:');
  runId = await saveAnalysisRun(
    db,
    sampleRun(await registerSampleModelAndDataset(db), N),
    samplePatches(N),
    sampleClusters(N),
  );
});
afterAll(async () => await db?.close());

describe('nearest patches', () => {
  it('returns the k patches nearest in the 9 components, nearest first, with their scores', async () => {
    const query = Array.from({ length: 9 }, (_, i) => Math.sin(0.3 * (i + 1)));
    const distance = (idx: number) => {
      const p = samplePatch(idx) as unknown as Record<string, number>;
      return Math.sqrt(query.reduce((s, q, i) => s + (p[`pc${i + 1}`] - q) ** 2, 0));
    };
    const want = Array.from({ length: N }, (_, idx) => ({ idx, d: distance(idx) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, 6);
    const got = await nearestPatches(db, runId, query, 6);
    expect(got.map((g) => g.idx)).toEqual(want.map((w) => w.idx));
    got.forEach((g, k) => expect(g.distance).toBeCloseTo(want[k].d, 9));
    const first = samplePatch(got[0].idx);
    expect(got[0]).toMatchObject({
      patchKey: first.patchKey,
      group: first.groupName,
      cluster: first.cluster,
    });
  });

  it('uses only the components given, and never more than the run holds', async () => {
    expect((await nearestPatches(db, runId, [Math.sin(5)], 1))[0].idx).toBe(5);
    expect(await nearestPatches(db, runId, Array(12).fill(0), 3)).toHaveLength(3);
  });
});
