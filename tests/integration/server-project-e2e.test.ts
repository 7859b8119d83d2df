import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDemoTiles } from '../../server/lib/datasets/demo-world.ts';
import { startServer } from '../../server/main.ts';
import { resolveSettings } from '../../server/settings.ts';
import { bboxPolygon, demoNewRegionBBox } from '../../server/demo-server.ts';
import { TILE_TABLE_COLUMNS } from '../../server/lib/exports/tile-table.ts';
import { auth, json, post, serverFixture, TOKEN, until, type ServerFixture } from './server-fixture.ts';
import { sqlRun } from '../../server/lib/db/store-probe.ts';

let f: ServerFixture;
beforeAll(async () => {
  f = await serverFixture({ world: true });
});
afterAll(async () => f?.close());

describe('a project scored end to end over the API', () => {
  let projectId: number;
  const newTiles = () => readDemoTiles(f.worldDir).filter((t) => t.region === 'new');

  it('creates the project, scores it and reports progress', async () => {
    const imagery = await json(
      await post(f.app, '/api/imagery', {
        name: 'demo',
        spec: { kind: 'pmtiles', path: `${f.worldDir}/imagery.pmtiles` },
      }),
    );
    const created = await post(f.app, '/api/projects', {
      name: 'New region, "quoted", with commas',
      area: bboxPolygon(demoNewRegionBBox(f.worldDir)),
      imageryId: imagery.id,
      runId: f.runId,
    });
    expect(created.status).toBe(201);
    const project = await json(created);
    projectId = project.id;
    expect(project.tileCount).toBeGreaterThanOrEqual(newTiles().length);

    const started = await post(f.app, `/api/projects/${projectId}/score`, {});
    expect(started.status).toBe(202);
    const job = await json(started);
    expect((await post(f.app, `/api/projects/${projectId}/score`, {})).status).toBe(409);
    const done = await until('the job', async () => {
      const j = await json(await f.app.request(`/api/jobs/${job.id}`));
      return j.status === 'done' || j.status === 'failed' ? j : undefined;
    });
    expect(done.status).toBe('done');
    expect(done.done).toBe(project.tileCount);
    const detail = await json(await f.app.request(`/api/projects/${projectId}`));
    expect(detail.counts.total).toBe(project.tileCount);
    expect(detail.job.id).toBe(job.id);
    // The job decided how to read the imagery and the project keeps it: the demo's new region is clear imagery.
    expect(project.regionLook).toBeNull();
    expect(detail.regionLook).toMatchObject({ look: 'original', jobId: job.id });
    expect(detail.regionLook.sampled).toBeGreaterThan(0);
    expect(detail.regionLook.sentence).toMatch(/^Imagery read as served/);
  });

  it('serves tiles by bbox (capped) and by task id', async () => {
    const t = newTiles()[0];
    const [w, s, e, n] = demoNewRegionBBox(f.worldDir);
    const fc = await json(
      await f.app.request(`/api/projects/${projectId}/tiles?bbox=${w},${s},${e},${n}&limit=5`),
    );
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features).toHaveLength(5);
    expect(fc.tilelens.truncated).toBe(true);
    expect(fc.features[0].geometry.type).toBe('Polygon');
    const tile = await json(await f.app.request(`/api/projects/${projectId}/tiles/${t.taskId}`));
    expect(tile).toMatchObject({ taskId: t.taskId, status: 'scored' });
    expect(tile.priority).toBeGreaterThanOrEqual(0);
    expect((await f.app.request(`/api/projects/${projectId}/tiles/18-1-1`)).status).toBe(404);
  });

  it('serves the effort curve and the evaluation against known truth', async () => {
    const effort = await json(await f.app.request(`/api/projects/${projectId}/effort`));
    expect(effort.points.length).toBeGreaterThan(10);
    expect(effort.regionLook.sentence).toMatch(/^Imagery read as served/);
    expect(effort.points[0].skipped).toBe(0);
    const ev = await json(await f.app.request(`/api/projects/${projectId}/evaluation`));
    expect(ev.tiles).toBe(newTiles().length);
    for (const r of ['0.95', '0.99']) {
      for (const by of ['priority', 'prediction', 'random']) {
        expect(ev.skippedAtRecall[r][by].achievedRecall).toBeGreaterThanOrEqual(Number(r));
      }
    }
  });

  it('downloads every export and each parses', async () => {
    const base = `/api/projects/${projectId}/exports`;
    const find = await json(await f.app.request(`${base}/mapswipe-find`));
    expect(find.drafts.length).toBeGreaterThan(0);
    const { regionLook } = await json(await f.app.request(`/api/projects/${projectId}`));
    for (const d of find.drafts) {
      // Every export that says what its figures rest on also says how the imagery was read.
      expect(d.draft.projectDetails).toContain(regionLook.sentence);
      expect(d.draft.projectType).toBe(1);
      expect(d.draft.geometry.type).toBe('FeatureCollection');
      expect(d.draft.tileServer.url).toMatch(/\/imagery\/\d+\/\{z\}\/\{x\}\/\{y\}\.jpg$/);
    }
    const validate = await f.app.request(`${base}/mapswipe-validate.geojson`);
    expect(validate.headers.get('content-type')).toBe('application/geo+json');
    const vfc = JSON.parse(await validate.text());
    expect(vfc.type).toBe('FeatureCollection');
    expect(vfc.tilelens.written).toBe(vfc.features.length);
    const tm = await json(await f.app.request(`${base}/tasking-manager`));
    expect(tm.draft.tasks.features.length).toBeGreaterThan(0);
    expect(tm.figures.look).toBe(regionLook.sentence);
    expect(vfc.tilelens.figures.look).toBe(regionLook.sentence);
    expect(tm.annotations.body.tasks.length).toBe(tm.draft.tasks.features.length);
    const csv = await (await f.app.request(`${base}/tiles.csv`)).text();
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe(TILE_TABLE_COLUMNS.join(','));
    const project = await json(await f.app.request(`/api/projects/${projectId}`));
    expect(lines.length - 1).toBe(project.tileCount);
    const gj = JSON.parse(await (await f.app.request(`${base}/tiles.geojson`)).text());
    expect(gj.features).toHaveLength(project.tileCount);
    expect(gj.features[0].properties.task_id).toMatch(/^18-\d+-\d+$/);
    expect(gj.tilelens.figures.look).toBe(regionLook.sentence);
  });

  it('streams an export while the shared connection keeps writing', async () => {
    const res = await f.app.request(`/api/projects/${projectId}/exports/tiles.csv`);
    const reader = res.body!.getReader();
    await reader.read();
    // The stream holds its own connection: writes on the app's connection go on meanwhile.
    await expect(sqlRun(f.db, 'create table if not exists export_probe(a)')).resolves.toBeUndefined();
    await sqlRun(f.db, 'drop table export_probe');
    while (!(await reader.read()).done);
  });
});

describe('the server on a port', () => {
  it('binds 127.0.0.1 by default and answers over HTTP', async () => {
    const settings = resolveSettings({ port: 0, db: `${f.dir}/listen.db`, 'data-dir': f.dir });
    const running = await startServer({ settings, env: { TILELENS_TOKEN: TOKEN }, log: () => {} });
    try {
      const address = running.address as AddressInfo;
      expect(address.address).toBe('127.0.0.1');
      expect(address.port).toBeGreaterThan(0);
      const res = await fetch(`${running.url}/api/health`);
      expect(await res.json()).toMatchObject({ status: 'ok' });
      const refused = await fetch(`${running.url}/api/projects`, { method: 'POST', body: '{}' });
      expect(refused.status).toBe(401);
      const page = await (await fetch(`${running.url}/`, { headers: auth })).text();
      // The map UI when it is built (npm test builds it), else the plain home page.
      expect(page).toMatch(/<title>tilelens|<h1>tilelens<\/h1>/);
    } finally {
      await running.close();
    }
  });
});
