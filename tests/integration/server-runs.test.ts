import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, serverFixture, type ServerFixture } from './server-fixture.ts';

let f: ServerFixture;
let runId: number;
beforeAll(async () => {
  f = await serverFixture({ world: true });
  runId = f.runId!;
});
afterAll(async () => f?.close());

describe('runs', () => {
  it('lists runs and summarises one', async () => {
    const list = await json((await f.app.request('/api/runs')).clone());
    expect(list.runs.map((r: { id: number }) => r.id)).toContain(runId);
    const run = await json(await f.app.request(`/api/runs/${runId}`));
    expect(run.patchesAnalysed).toBe(144);
    expect(run.estimator).toMatchObject({ r2: expect.any(Number), meanPredictorR2: expect.any(Number) });
    expect(typeof run.estimatorBeatsMean).toBe('boolean');
    expect(run.sweep.length).toBeGreaterThan(1);
    expect(run.clusters).toHaveLength(run.chosenK);
    expect(run.urbanised.reason).toMatch(/cluster/);
    expect(JSON.stringify(run)).not.toContain(f.dir);
  });

  it('serves patches as columns, filtered by cluster', async () => {
    const all = await json(await f.app.request(`/api/runs/${runId}/patches?columns=idx,pc1,iou,cluster`));
    expect(Object.keys(all.columns)).toEqual(['idx', 'pc1', 'iou', 'cluster']);
    expect(all.count).toBe(144);
    expect(all.columns.idx[10]).toBe(10);
    const c = all.columns.cluster[0];
    const one = await json(
      await f.app.request(`/api/runs/${runId}/patches?columns=idx,cluster&cluster=${c}`),
    );
    expect(one.count).toBe(all.columns.cluster.filter((x: number) => x === c).length);
    expect(new Set(one.columns.cluster)).toEqual(new Set([c]));
    const bad = await f.app.request(`/api/runs/${runId}/patches?columns=idx,secret`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.message).toMatch(/unknown column/);
  });

  it('serves clusters', async () => {
    const body = await json(await f.app.request(`/api/runs/${runId}/clusters`));
    expect(body.clusters.length).toBeGreaterThan(1);
    expect(body.clusters[0]).toMatchObject({
      cluster: 0,
      size: expect.any(Number),
      urbanised: expect.any(Boolean),
    });
    expect(body.clusters.reduce((a: number, c: { size: number }) => a + c.size, 0)).toBe(144);
  });

  it('serves patch image, mask and prediction by id', async () => {
    const patches = await json(await f.app.request(`/api/runs/${runId}/patches?columns=idx,gtFraction`));
    const idx = patches.columns.gtFraction.findIndex((g: number) => g > 0.05);
    for (const kind of ['image', 'mask', 'prediction']) {
      const res = await f.app.request(`/api/runs/${runId}/patches/${idx}/${kind}.png`);
      expect(res.status, kind).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).stats();
      // A building tile's mask and prediction are not blank.
      expect(meta.channels[0].max, kind).toBeGreaterThan(0);
    }
    const mask = await sharp(
      Buffer.from(await (await f.app.request(`/api/runs/${runId}/patches/${idx}/mask.png`)).arrayBuffer()),
    )
      .raw()
      .toBuffer();
    let on = 0;
    for (let i = 0; i < mask.length; i += 3) if (mask[i] > 127) on++;
    // The stored share is measured at the model's input size, so only roughly equal to the 256 px mask's.
    expect(on / (mask.length / 3)).toBeCloseTo(patches.columns.gtFraction[idx], 1);
    expect((await f.app.request(`/api/runs/${runId}/patches/144/image.png`)).status).toBe(404);
    expect((await f.app.request(`/api/runs/${runId}/patches/1/secret.png`)).status).toBe(400);
  });
});
