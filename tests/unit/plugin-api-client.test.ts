/** The typed API client against the real app in-process (its fetch calls `app.request`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, TilelensApiError, type ApiClient } from '../../plugin/src/api-client.ts';
import {
  createSyntheticProject,
  syntheticServer,
  type SyntheticProject,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';

let s: SyntheticServer;
let p: SyntheticProject;
let api: ApiClient;
let manager: ApiClient;
const BASE = 'http://tilelens.test';

beforeAll(() => {
  s = syntheticServer();
  p = createSyntheticProject(s.db, { side: 24, origin: { x: 150_000, y: 120_000 } });
  const inProcess = ((input: RequestInfo | URL, init?: RequestInit) =>
    s.app.request(String(input), init)) as typeof fetch;
  api = createApiClient({ server: `${BASE}/`, fetch: inProcess });
  manager = createApiClient({ server: BASE, token: s.token, fetch: inProcess });
});
afterAll(() => s.close());

describe('createApiClient', () => {
  it('reads projects, a project with its job and counts, tiles in a bbox, one tile', async () => {
    expect((await api.health()).status).toBe('ok');
    const projects = await api.projects();
    expect(projects.map((x) => x.id)).toContain(p.projectId);
    const detail = await api.project(p.projectId);
    expect(detail.counts.total).toBe(24 * 24);
    expect(detail.job?.status).toBe('done');
    const tiles = await api.tiles(p.projectId, { bbox: p.bbox, limit: 10 });
    expect(tiles.features).toHaveLength(10);
    expect(tiles.tilelens.truncated).toBe(true);
    const one = await api.tile(p.projectId, `18-${p.minX + 3}-${p.minY + 4}`);
    expect(one).toMatchObject({ z: 18, x: p.minX + 3, y: p.minY + 4 });
  });

  it('reads runs, clusters and the overlay manifest', async () => {
    expect((await api.runs()).map((r) => r.id)).toContain(p.runId);
    expect((await api.clusters(p.runId)).clusters.length).toBeGreaterThan(0);
    const m = await api.overlays(p.projectId);
    expect(m.raster[0].tiles[0].startsWith(`${BASE}/api/projects/${p.projectId}/overlay/priority/`)).toBe(
      true,
    );
  });

  it('turns error answers into TilelensApiError with the server’s code, message and hint', async () => {
    const err = await api.project(9999).catch((e) => e);
    expect(err).toBeInstanceOf(TilelensApiError);
    // The server's own code (whichever layer answered), not a generic http-404.
    expect(err.status).toBe(404);
    expect(err.code).not.toBe('http-404');
    expect(err.message).toMatch(/9999/);
  });

  it('changes need the token: refused locally without one, sent as a bearer with one', async () => {
    const local = await api.cancelJob(p.jobId).catch((e) => e);
    expect(local).toMatchObject({ status: 401, code: 'no-token' });
    const bad = await manager
      .createProject({
        name: 'x',
        area: { type: 'Point', coordinates: [0, 0] },
        imageryId: p.imageryId,
        runId: p.runId,
      })
      .catch((e) => e);
    // Past auth (a 401 would mean the token was not sent): the area is refused on its merits.
    expect(bad).toBeInstanceOf(TilelensApiError);
    expect(bad.status).toBe(400);
  });

  it('export links are absolute URLs of the streamed exports', () => {
    expect(api.exports.links(7).tilesCsv).toBe(`${BASE}/api/projects/7/exports/tiles.csv`);
  });
});
