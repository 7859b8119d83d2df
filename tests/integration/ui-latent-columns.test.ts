import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeColumns, dequantise, type DecodedColumns } from '../../map-ui/src/data/columns.ts';
import { getStoredColumns } from '../../server/lib/db/latent-repo.ts';
import { RUN_COLUMNS_VERSION } from '../../server/lib/latent/run-columns.ts';
import {
  createSyntheticProject,
  syntheticServer,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';
import { sqlRun } from '../../server/lib/db/store-probe.ts';

let s: SyntheticServer;
let runId: number;
const N = 3000;

async function columns(path: string): Promise<DecodedColumns> {
  const res = await s.app.request(path);
  expect(res.status).toBe(200);
  const buf = await res.arrayBuffer();
  expect(Number(res.headers.get('content-length'))).toBe(buf.byteLength);
  return decodeColumns(buf);
}

async function patchJson(cols: string): Promise<Record<string, Array<number | string | null>>> {
  const res = await s.app.request(`/api/runs/${runId}/patches?columns=${cols}`);
  return ((await res.json()) as { columns: Record<string, Array<number | string | null>> }).columns;
}

beforeAll(async () => {
  s = await syntheticServer();
  runId = (await createSyntheticProject(s.db, { side: 2, runPatches: N })).runId;
});
afterAll(async () => {
  await s?.close();
  if (s?.dir) rmSync(s.dir, { recursive: true, force: true });
});

describe('run latent columns from one pass', () => {
  it('positions: quantised over the exact range of the components, in idx order', async () => {
    const d = await columns(`/api/runs/${runId}/latent?x=3&y=1`);
    const want = await patchJson('idx,pc3,pc1');
    expect(d.rows).toBe(N);
    const x = dequantise(d.columns.x);
    const y = dequantise(d.columns.y);
    const span = (a: Array<number | string | null>) =>
      Math.max(...(a as number[])) - Math.min(...(a as number[]));
    for (const i of [0, 1, 1234, N - 1]) {
      expect(Math.abs(x[i] - (want.pc3[i] as number))).toBeLessThanOrEqual(span(want.pc3) / 65534 + 1e-6);
      expect(Math.abs(y[i] - (want.pc1[i] as number))).toBeLessThanOrEqual(span(want.pc1) / 65534 + 1e-6);
    }
    expect(d.columns.x.header.min).toBeCloseTo(Math.min(...(want.pc3 as number[])), 5);
    // The same component on both axes is the same stored column twice.
    const same = await columns(`/api/runs/${runId}/latent?x=2&y=2`);
    expect(Array.from(same.columns.y.codes)).toEqual(Array.from(same.columns.x.codes));
  });

  it('attributes: scores, sorted categories and tile offsets match the patches', async () => {
    const d = await columns(`/api/runs/${runId}/latent/attributes`);
    const want = await patchJson('idx,iou,iouHat,cluster,groupName,split,x,y');
    expect(d.meta.idxContiguous).toBe(true);
    const groups = d.columns.group.header.categories!;
    expect(groups).toEqual([...groups].sort());
    const origin = d.meta.tileOrigin as { x: number; y: number };
    const iou = dequantise(d.columns.iou);
    for (let i = 0; i < N; i += 97) {
      if (want.iou[i] === null) expect(Number.isNaN(iou[i])).toBe(true);
      else expect(Math.abs(iou[i] - (want.iou[i] as number))).toBeLessThanOrEqual(0.5 / 254 + 1e-6);
      expect(d.columns.cluster.codes[i]).toBe(want.cluster[i]);
      expect(groups[d.columns.group.codes[i]] ?? null).toBe(want.groupName[i]);
      expect(d.columns.split.header.categories![d.columns.split.codes[i]]).toBe(want.split[i]);
      expect(d.columns.tileX.codes[i]).toBe((want.x[i] as number) - origin.x);
      expect(d.columns.tileY.codes[i]).toBe((want.y[i] as number) - origin.y);
    }
  });

  it('answers from the columns stored with the run, and a run stored without them the same, byte for byte', async () => {
    const stored = await getStoredColumns(s.db, runId, ['pc1', 'pc3', 'attributes'], RUN_COLUMNS_VERSION);
    expect([...stored.keys()].sort()).toEqual(['attributes', 'pc1', 'pc3']);
    const lazyRun = (await createSyntheticProject(s.db, { side: 2, runPatches: N, latentColumns: 'lazy' }))
      .runId;
    expect((await getStoredColumns(s.db, lazyRun, ['attributes'], RUN_COLUMNS_VERSION)).size).toBe(0);
    const answer = async (id: number, path: string) => {
      const d = await columns(`/api/runs/${id}/${path}`);
      return {
        meta: { ...d.meta, runId: 0 },
        columns: Object.values(d.columns).map((c) => [c.header, Array.from(c.codes)]),
      };
    };
    for (const path of ['latent?x=3&y=1', 'latent/attributes'])
      expect(await answer(lazyRun, path)).toEqual(await answer(runId, path));
    // The first request stored them.
    expect((await getStoredColumns(s.db, lazyRun, ['attributes', 'pc3'], RUN_COLUMNS_VERSION)).size).toBe(2);
  });

  it('a run whose idx have a gap gets an idx column', async () => {
    await sqlRun(s.db, 'delete from patches where run_id = ? and idx = 5', runId);
    const d = await columns(`/api/runs/${runId}/latent/attributes`);
    expect(d.rows).toBe(N - 1);
    expect(d.meta.idxContiguous).toBe(false);
    expect(Array.from(d.columns.idx.codes.subarray(3, 7))).toEqual([3, 4, 6, 7]);
  });
});
