import { bboxPolygon } from '../../server/lib/geo/tiles.ts';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../server/middleware/errors.ts';
import { json, post, serverFixture, type ServerFixture } from './server-fixture.ts';

let f: ServerFixture;
beforeAll(async () => {
  f = await serverFixture({ world: false });
});
afterAll(async () => f?.close());

const square = (w: number, s: number, e: number, n: number) => bboxPolygon([w, s, e, n]);

describe('auth', () => {
  it('leaves reads open', async () => {
    expect((await f.app.request('/api/health')).status).toBe(200);
    expect((await f.app.request('/api/runs')).status).toBe(200);
    expect((await f.app.request('/api/projects')).status).toBe(200);
    expect((await f.app.request('/api/imagery')).status).toBe(200);
  });

  it('refuses changes without the manager token', async () => {
    for (const path of ['/api/projects', '/api/imagery', '/api/projects/1/score', '/api/jobs/1/cancel']) {
      const res = await post(f.app, path, {}, {});
      expect(res.status, path).toBe(401);
      const body = await json(res);
      expect(body.error.code).toBe('unauthorised');
      expect(body.error.hint).toMatch(/Authorization: Bearer/);
    }
    const wrong = await post(f.app, '/api/projects', {}, { Authorization: 'Bearer not-the-token-at-all' });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).error.message).toMatch(/wrong/);
  });

  it('lets the token through to validation', async () => {
    expect((await post(f.app, '/api/projects', {})).status).toBe(400);
  });
});

describe('validation', () => {
  const base = { name: 'Area check', imageryId: 1, runId: 1 };

  it('says which field is wrong', async () => {
    const res = await post(f.app, '/api/projects', { name: '', area: square(0, 0, 0.01, 0.01) });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe('invalid-request');
    const paths = body.error.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'imageryId', 'runId']));
  });

  it('answers malformed JSON with a hint', async () => {
    const res = await post(f.app, '/api/projects', '{"name": ');
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.message).toMatch(/JSON/i);
  });

  it('refuses an area that is not GeoJSON', async () => {
    const res = await post(f.app, '/api/projects', { ...base, area: { type: 'Circle', radius: 3 } });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toMatch(/^area-/);
  });

  it('refuses a self-crossing area', async () => {
    const bowtie = {
      type: 'Polygon',
      coordinates: [
        [
          [0, 0],
          [0.01, 0.01],
          [0.01, 0],
          [0, 0.01],
          [0, 0],
        ],
      ],
    };
    const res = await post(f.app, '/api/projects', { ...base, area: bowtie });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe('area-self-intersection');
    expect(body.error.message.length).toBeGreaterThan(20);
  });

  it('refuses an area larger than MapSwipe takes', async () => {
    const res = await post(f.app, '/api/projects', { ...base, area: square(30, -5, 31.5, -3.5) });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe('area-too-large');
    expect(body.error.message).toMatch(/km²/);
  });

  it('checks query strings and ids', async () => {
    expect((await f.app.request('/api/runs/abc')).status).toBe(400);
    expect((await f.app.request('/api/runs?limit=0')).status).toBe(400);
    expect((await f.app.request('/api/projects/1/tiles?bbox=1,2,3')).status).toBe(400);
    const missing = await f.app.request('/api/runs/999');
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.hint).toMatch(/GET \/api\/runs/);
  });

  it('keeps relative imagery paths inside the data dir', async () => {
    const res = await post(f.app, '/api/imagery', {
      name: 'escape',
      spec: { kind: 'pmtiles', path: '../../etc/passwd' },
    });
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toMatch(/"..\/..\/etc\/passwd" is not usable/);
  });

  it('answers unknown routes with JSON and unexpected failures without internals', async () => {
    const res = await f.app.request('/api/nothing-here');
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe('not-found');
    const logs: string[] = [];
    const probe = new Hono();
    probe.onError(errorHandler((m) => logs.push(m)));
    probe.get('/explode', () => {
      throw new Error(`cannot open ${f.dir}/secret.db`);
    });
    const boom = await probe.request('/explode');
    expect(boom.status).toBe(500);
    const text = await boom.text();
    expect(text).not.toContain(f.dir);
    expect(text).not.toMatch(/at .*\.ts:\d+/);
    expect(logs.some((l) => l.includes('secret.db'))).toBe(true);
  });
});
