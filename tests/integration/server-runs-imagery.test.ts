import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDemoTiles } from '../../server/lib/datasets/demo-world.ts';
import { json, post, serverFixture, type ServerFixture } from './server-fixture.ts';

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

describe('imagery', () => {
  let imageryId: number;
  it('registers a source under the data dir and lists it', async () => {
    const res = await post(f.app, '/api/imagery', {
      name: 'demo',
      spec: { kind: 'pmtiles', path: 'world/imagery.pmtiles' },
    });
    expect(res.status).toBe(201);
    const row = await json(res);
    imageryId = row.id;
    expect(row).toMatchObject({ name: 'demo', kind: 'pmtiles' });
    expect(JSON.stringify(row)).not.toContain('imagery.pmtiles');
    const list = await json(await f.app.request('/api/imagery'));
    expect(list.imagery.map((r: { id: number }) => r.id)).toContain(imageryId);
    const again = await post(f.app, '/api/imagery', {
      name: 'demo',
      spec: { kind: 'pmtiles', path: 'world/imagery.pmtiles' },
    });
    expect(again.status).toBe(409);
    const nothing = await post(f.app, '/api/imagery', {
      name: 'nothing',
      spec: { kind: 'pmtiles', path: 'no/such.pmtiles' },
    });
    expect(nothing.status).toBe(400);
  });

  it('serves its tiles as XYZ JPEGs with cache headers', async () => {
    const tile = readDemoTiles(f.worldDir).find((t) => t.region === 'new')!;
    const res = await f.app.request(`/imagery/${imageryId}/${tile.z}/${tile.x}/${tile.y}.jpg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toBe(`public, max-age=${f.settings.imageryMaxAge}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect((await sharp(Buffer.from(bytes)).metadata()).width).toBe(256);
    // Far from the world: no tile there.
    expect((await f.app.request(`/imagery/${imageryId}/18/10/10.jpg`)).status).toBe(404);
    expect((await f.app.request(`/imagery/${imageryId}/3/9/1.jpg`)).status).toBe(400);
    expect((await f.app.request(`/imagery/999/18/10/10.jpg`)).status).toBe(404);
    expect(readFileSync(join(f.worldDir, 'world.json'), 'utf8')).toContain('"new"');
  });
});
