/**
 * The overlay routes in-process (`app.request`) over a synthetic scored project of 40 × 40 tiles: pixels
 * match the scores computed independently, tiles outside the area are transparent, ETags follow the job's
 * progress, vector and GeoJSON tiles hold the right tiles.
 */
import { VectorTile } from '@mapbox/vector-tile';
import { eq } from 'drizzle-orm';
import { PbfReader as Pbf } from 'pbf';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSyntheticProject,
  syntheticScores,
  syntheticServer,
  type SyntheticProject,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';
import { scoringJobs } from '../../server/lib/db/schema.ts';
import {
  colourAt,
  CONFIDENCE_SCALE,
  NO_SCORE_RGBA,
  PRIORITY_SCALE,
} from '../../server/lib/overlays/colour-scales.ts';
import { confidenceShown, type OverlayCell } from '../../server/lib/overlays/layers.ts';

let s: SyntheticServer;
let p: SyntheticProject;
const SIDE = 40;

beforeAll(async () => {
  s = await syntheticServer();
  // Aligned to a z13 tile (32 × 32 z18 tiles) so tile maths below stays readable.
  p = await createSyntheticProject(s.db, { side: SIDE, origin: { x: 32 * 4000, y: 32 * 3000 } });
});
afterAll(() => s.close());

async function png(path: string) {
  const res = await s.app.request(path);
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  const { data, info } = await sharp(Buffer.from(await res.arrayBuffer()))
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect(info).toMatchObject({ width: 256, height: 256, channels: 4 });
  return {
    res,
    at: (x: number, y: number) => Array.from(data.subarray((y * 256 + x) * 4, (y * 256 + x) * 4 + 4)),
  };
}

describe('GET /api/projects/:id/overlay/:layer/:z/:x/:y.png', () => {
  it('z15: 32 px per scoring tile, each the colour of its own priority', async () => {
    const { at } = await png(`/api/projects/${p.projectId}/overlay/priority/15/${4000 * 4}/${3000 * 4}.png`);
    // z15 tile 16000/12000 covers z18 columns 128000..128007 — the project's first 8 × 8 tiles.
    for (const [i, j] of [
      [0, 0],
      [3, 5],
      [7, 7],
    ]) {
      const sc = syntheticScores(i, j, SIDE);
      expect(at(i * 32 + 16, j * 32 + 16)).toEqual(colourAt(PRIORITY_SCALE, sc.priority));
    }
  });

  it('confidence: a tile without imagery is grey, a scored one its smoothed-IoU colour', async () => {
    let missing: [number, number] | undefined;
    for (let j = 0; j < 8 && !missing; j++)
      for (let i = 0; i < 8 && !missing; i++)
        if (syntheticScores(i, j, SIDE).status === 'missing') missing = [i, j];
    const { at } = await png(
      `/api/projects/${p.projectId}/overlay/confidence/15/${4000 * 4}/${3000 * 4}.png`,
    );
    const scored = syntheticScores(1, 1, SIDE);
    expect(scored.status).toBe('scored');
    const shown = confidenceShown({ x: 0, y: 0, ...scored, priority: scored.priority ?? 0 } as OverlayCell);
    expect(shown).not.toBeNull();
    expect(at(48, 48)).toEqual(colourAt(CONFIDENCE_SCALE, shown!));
    expect(missing).toBeDefined();
    expect(at(missing![0] * 32 + 5, missing![1] * 32 + 5)).toEqual(NO_SCORE_RGBA);
  });

  it('z10: one pixel per scoring tile, the project in the top-left 40 × 40 px, transparent beyond', async () => {
    const { at, res } = await png(`/api/projects/${p.projectId}/overlay/priority/10/500/375.png`);
    // z10 tile 500/375 covers z18 columns 128000..128255: the 40 × 40 project sits in its top-left corner at 1 px per tile.
    expect(res.headers.get('x-tilelens-cells')).toBe(String(SIDE * SIDE));
    expect(at(0, 0)).toEqual(colourAt(PRIORITY_SCALE, syntheticScores(0, 0, SIDE).priority));
    expect(at(39, 39)).toEqual(colourAt(PRIORITY_SCALE, syntheticScores(39, 39, SIDE).priority));
    expect(at(40, 0)).toEqual([0, 0, 0, 0]);
    expect(at(200, 200)).toEqual([0, 0, 0, 0]);
  });

  it('tiles far from the project are transparent without a query', async () => {
    const res = await s.app.request(`/api/projects/${p.projectId}/overlay/novelty/15/10/10.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tilelens-cells')).toBe('0');
  });

  it('ETag follows the job: 304 while unchanged, a new tag once more tiles are scored', async () => {
    const path = `/api/projects/${p.projectId}/overlay/priority/16/32000/24000.png`;
    const first = await s.app.request(path);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"priority-s\d+-j\d+-\d+-done"$/);
    expect(first.headers.get('cache-control')).toBe('no-cache');
    const again = await s.app.request(path, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('x-tilelens-cache')).toBe('hit');

    const manifest = await (await s.app.request(`/api/projects/${p.projectId}/overlays`)).json();
    const versioned = await s.app.request(`${path}?v=${manifest.version}`);
    expect(versioned.headers.get('cache-control')).toContain('immutable');

    s.db.db.update(scoringJobs).set({ status: 'running', done: 5 }).where(eq(scoringJobs.id, p.jobId)).run();
    const running = await s.app.request(`${path}?v=${manifest.version}`, {
      headers: { 'If-None-Match': etag },
    });
    expect(running.status).toBe(200);
    expect(running.headers.get('etag')).not.toBe(etag);
    expect(running.headers.get('cache-control')).toBe('no-cache');
    s.db.db
      .update(scoringJobs)
      .set({ status: 'done', done: SIDE * SIDE })
      .where(eq(scoringJobs.id, p.jobId))
      .run();
  });

  it('refuses unknown layers, bad tiles and unknown projects with a message that says what exists', async () => {
    const layer = await s.app.request(`/api/projects/${p.projectId}/overlay/heat/15/1/1.png`);
    expect(layer.status).toBe(400);
    expect((await layer.json()).error.message).toMatch(/priority, confidence, novelty/);
    const tile = await s.app.request(`/api/projects/${p.projectId}/overlay/priority/3/9/0.png`);
    expect(tile.status).toBe(400);
    expect((await tile.json()).error.message).toMatch(/tile 3\/9\/0 is not on the slippy-map grid/);
    const project = await s.app.request(`/api/projects/999/overlay/priority/3/1/1.png`);
    expect(project.status).toBe(404);
  });
});

describe('manifest and vector tiles', () => {
  it('the manifest names URL templates, zooms, bounds and legends', async () => {
    const m = await (await s.app.request(`/api/projects/${p.projectId}/overlays`)).json();
    expect(m.raster.map((r: { id: string }) => r.id)).toEqual(['priority', 'confidence', 'novelty']);
    expect(m.raster[0].tiles[0]).toMatch(
      new RegExp(`/api/projects/${p.projectId}/overlay/priority/\\{z\\}/\\{x\\}/\\{y\\}\\.png\\?v=`),
    );
    expect(m.raster[0].maxzoom).toBe(18);
    expect(m.vector).toMatchObject({
      minzoom: 15,
      maxzoom: 18,
      layers: { tiles: 'tiles', footprints: 'footprints' },
    });
    expect(m.bounds).toEqual(p.bbox);
    expect(m.final).toBe(true);
    expect(m.raster[1].legend.stops[0].color).toMatch(/^rgba\(/);
  });

  it('MVT at z16 holds the 16 scoring tiles with ids y·2^18+x and the footprints of the likely ones', async () => {
    const [x, y] = [32000 + 2, 24000 + 2]; // z18 columns 128008..128011, rows 96008..96011
    const res = await s.app.request(`/api/projects/${p.projectId}/vector/16/${x}/${y}.mvt`);
    expect(res.status).toBe(200);
    const tile = new VectorTile(new Pbf(new Uint8Array(await res.arrayBuffer())));
    const grid = tile.layers.tiles;
    expect(grid.length).toBe(16);
    const ids = new Set(Array.from({ length: grid.length }, (_, k) => grid.feature(k).id));
    expect(ids.has(96008 * 2 ** 18 + 128008)).toBe(true);
    const first = Array.from({ length: grid.length }, (_, k) => grid.feature(k)).find(
      (f) => f.properties.taskId === '18-128008-96008',
    )!;
    expect(first.loadGeometry()[0].map((pt) => [pt.x, pt.y])).toEqual([
      [0, 0],
      [1024, 0],
      [1024, 1024],
      [0, 1024],
      [0, 0],
    ]);
    let likely = 0;
    for (let j = 8; j < 12; j++)
      for (let i = 8; i < 12; i++) {
        const sc = syntheticScores(i, j, SIDE);
        if (sc.status === 'scored' && sc.buildingProb > 0.5) likely++;
      }
    expect(tile.layers.footprints?.length ?? 0).toBe(likely);
  });

  it('vector tiles exist from zoom 15 to the scoring zoom only', async () => {
    const res = await s.app.request(`/api/projects/${p.projectId}/vector/14/1/1.mvt`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.hint).toMatch(/raster overlays below zoom 15/);
  });

  it('footprints GeoJSON is capped and says so', async () => {
    const path = `/api/projects/${p.projectId}/footprints/15/${4000 * 4 + 2}/${3000 * 4 + 2}.json`;
    const all = await (await s.app.request(`${path}?tiles=1`)).json();
    expect(all.tilelens.truncated).toBe(false);
    expect(all.features.filter((f: any) => f.properties.layer === 'tiles')).toHaveLength(64);
    const capped = await (await s.app.request(`${path}?tiles=1&limit=10`)).json();
    expect(capped.features.length).toBeLessThanOrEqual(10);
    expect(capped.tilelens.truncated).toBe(true);
  });
});
