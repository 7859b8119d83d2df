/** The typed API client against the real app in-process (its fetch calls `app.request`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TilelensApiError } from '../../plugin/src/api-client.ts';
import { syntheticApi, type SyntheticApi } from '../fixtures/synthetic-project.ts';

const BASE = 'http://tilelens.test';
let t: SyntheticApi;
beforeAll(async () => {
  t = await syntheticApi(BASE);
});
afterAll(() => t.close());

describe('createApiClient', () => {
  it('reads projects, a project with its job and counts, tiles in a bbox, one tile', async () => {
    expect((await t.api.health()).status).toBe('ok');
    const projects = await t.api.projects();
    expect(projects.map((x) => x.id)).toContain(t.project.projectId);
    const detail = await t.api.project(t.project.projectId);
    expect(detail.counts.total).toBe(24 * 24);
    expect(detail.job?.status).toBe('done');
    const tiles = await t.api.tiles(t.project.projectId, { bbox: t.project.bbox, limit: 10 });
    expect(tiles.features).toHaveLength(10);
    expect(tiles.tilelens.truncated).toBe(true);
    const one = await t.api.tile(t.project.projectId, `18-${t.project.minX + 3}-${t.project.minY + 4}`);
    expect(one).toMatchObject({ z: 18, x: t.project.minX + 3, y: t.project.minY + 4 });
  });

  it('reads runs, clusters and the overlay manifest', async () => {
    expect((await t.api.runs()).map((r) => r.id)).toContain(t.project.runId);
    expect((await t.api.clusters(t.project.runId)).clusters.length).toBeGreaterThan(0);
    const m = await t.api.overlays(t.project.projectId);
    expect(
      m.raster[0].tiles[0].startsWith(`${BASE}/api/projects/${t.project.projectId}/overlay/priority/`),
    ).toBe(true);
  });

  it('turns error answers into TilelensApiError with the server’s code, message and hint', async () => {
    const err = await t.api.project(9999).catch((e) => e);
    expect(err).toBeInstanceOf(TilelensApiError);
    // The server's own code (whichever layer answered), not a generic http-404.
    expect(err.status).toBe(404);
    expect(err.code).not.toBe('http-404');
    expect(err.message).toMatch(/9999/);
  });

  it('changes need the token: refused locally without one, sent as a bearer with one', async () => {
    const local = await t.api.cancelJob(t.project.jobId).catch((e) => e);
    expect(local).toMatchObject({ status: 401, code: 'no-token' });
    const bad = await t.manager
      .createProject({
        name: 'x',
        area: { type: 'Point', coordinates: [0, 0] },
        imageryId: t.project.imageryId,
        runId: t.project.runId,
      })
      .catch((e) => e);
    // Past auth (a 401 would mean the token was not sent): the area is refused on its merits.
    expect(bad).toBeInstanceOf(TilelensApiError);
    expect(bad.status).toBe(400);
  });

  it('export links are absolute URLs of the streamed exports', () => {
    expect(t.api.exports.links(7).tilesCsv).toBe(`${BASE}/api/projects/7/exports/tiles.csv`);
  });
});
