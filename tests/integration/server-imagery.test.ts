import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDemoTiles } from '../../server/lib/datasets/demo-world.ts';
import { json, post, serverFixture, type ServerFixture } from './server-fixture.ts';

let f: ServerFixture;
beforeAll(async () => {
  f = await serverFixture({ world: true, analyse: false });
});
afterAll(async () => f?.close());

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
