/**
 * The overlays as volunteers' tools take them: MapSwipe's overlay settings schema (valid and invalid
 * settings), the JOSM / iD / XYZ templates of a project, the COMPLETENESS drafts, read without the token while
 * a change still needs it, and the confidence scale of a region that is doubtful as a whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSyntheticProject,
  syntheticServer,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';
import { mapswipeOverlaySchema } from '../../server/lib/exports/mapswipe-overlay.ts';
import { mapswipeCompletenessDraftSchema } from '../../server/lib/exports/mapswipe-completeness.ts';
import { colourAt, CONFIDENCE_SCALE } from '../../server/lib/overlays/colour-scales.ts';
import { confidenceSpread, regionConfidenceScale } from '../../server/lib/overlays/confidence-spread.ts';
import type { OverlayCell } from '../../server/lib/overlays/layers.ts';
import { toolTemplates } from '../../server/lib/overlays/tool-templates.ts';

const raster = {
  type: 'RASTER_TILE',
  raster: {
    opacity: 0.8,
    tileServer: {
      name: 'CUSTOM',
      custom: { url: 'https://t.example/{z}/{x}/{y}.png', credits: 'c', minZoom: 0, maxZoom: 18 },
    },
  },
};
const vector = {
  type: 'VECTOR_TILE',
  vector: {
    tileServer: {
      name: 'CUSTOM',
      custom: {
        url: 'https://t.example/{z}/{x}/{y}.mvt',
        credits: 'c',
        minZoom: 15,
        maxZoom: 18,
        sourceLayer: 'footprints',
      },
    },
    fillColor: '#fb0',
    fillOpacity: 0.1,
    lineColor: '#ffbb00',
    lineOpacity: 1,
    lineWidth: 2,
    circleColor: 'transparent',
    circleOpacity: 0,
    circleRadius: 0,
  },
};

describe('MapSwipe overlay settings schema', () => {
  it('takes raster and vector overlays as the backend declares them', () => {
    expect(mapswipeOverlaySchema.safeParse(raster).success).toBe(true);
    expect(mapswipeOverlaySchema.safeParse(vector).success).toBe(true);
    const dashed = structuredClone(vector);
    (dashed.vector as Record<string, unknown>).lineDasharray = [2, 1];
    expect(mapswipeOverlaySchema.safeParse(dashed).success).toBe(true);
  });

  const bad: [string, (o: any) => void, object][] = [
    ['an opacity above 1', (o) => (o.raster.opacity = 1.2), raster],
    ['a zoom past 22', (o) => (o.raster.tileServer.custom.maxZoom = 23), raster],
    ['minZoom above maxZoom', (o) => (o.raster.tileServer.custom.minZoom = 19), raster],
    ['a built-in tile server name', (o) => (o.raster.tileServer.name = 'BING'), raster],
    ['a URL without {x}', (o) => (o.raster.tileServer.custom.url = 'https://t.example/{z}/{y}.png'), raster],
    ['a non-http URL', (o) => (o.raster.tileServer.custom.url = 'file:///{z}/{x}/{y}.png'), raster],
    ['a colour name', (o) => (o.vector.fillColor = 'red'), vector],
    ['a 4-digit colour', (o) => (o.vector.lineColor = '#ffff'), vector],
    ['no source layer', (o) => delete o.vector.tileServer.custom.sourceLayer, vector],
    ['a vector type with raster settings', (o) => (o.type = 'RASTER_TILE'), vector],
    ['an unknown field', (o) => (o.vector.fillColour = '#fff'), vector],
    ['another type', (o) => (o.type = 'GEOJSON'), raster],
  ];
  it.each(bad)('refuses %s', (_, change, base) => {
    const o = structuredClone(base);
    change(o);
    expect(mapswipeOverlaySchema.safeParse(o).success).toBe(false);
  });
});

describe('tool templates', () => {
  const t = toolTemplates('https://tl.example.org/', { id: 7, zoom: 18 }, 's2-j3-900-done', 'tilelens');
  it('lists footprints as vector tiles and confidence / priority as PNG tiles with their zooms', () => {
    expect(t.map((l) => [l.id, l.kind, l.minZoom, l.maxZoom])).toEqual([
      ['footprints', 'vector', 15, 18],
      ['confidence', 'raster', 0, 18],
      ['priority', 'raster', 0, 18],
    ]);
    const [fp, conf] = t;
    expect(fp.xyz).toBe('https://tl.example.org/api/projects/7/vector/{z}/{x}/{y}.mvt?v=s2-j3-900-done');
    expect(fp.sourceLayer).toBe('footprints');
    expect(fp.josm).toBeNull();
    expect(conf.josm).toBe(
      'tms[0,18]:https://tl.example.org/api/projects/7/overlay/confidence/{zoom}/{x}/{y}.png?v=s2-j3-900-done',
    );
    expect(conf.iD).toBe(
      'https://tl.example.org/api/projects/7/overlay/confidence/{z}/{x}/{y}.png?v=s2-j3-900-done',
    );
  });
  it('MapSwipe settings pass the schema and repeat the template and zooms', () => {
    for (const l of t) {
      expect(mapswipeOverlaySchema.safeParse(l.mapswipe).success).toBe(true);
      const custom =
        l.mapswipe.type === 'RASTER_TILE'
          ? l.mapswipe.raster.tileServer.custom
          : l.mapswipe.vector.tileServer.custom;
      expect(custom).toMatchObject({ url: l.xyz, minZoom: l.minZoom, maxZoom: l.maxZoom });
    }
    expect(t[0].mapswipe).toMatchObject({
      type: 'VECTOR_TILE',
      vector: { tileServer: { custom: { sourceLayer: 'footprints' } } },
    });
  });
});

describe('over the API, without the token', () => {
  let s: SyntheticServer;
  let id: number;
  beforeAll(async () => {
    s = await syntheticServer();
    id = (await createSyntheticProject(s.db, { side: 30, origin: { x: 32 * 4000, y: 32 * 3000 } })).projectId;
  });
  afterAll(() => s.close());

  it('lists the templates and serves each at its declared zooms, cacheable by ETag', async () => {
    const res = await s.app.request(`/api/projects/${id}/overlays/tools`);
    expect(res.status).toBe(200);
    const { layers } = (await res.json()) as { layers: ReturnType<typeof toolTemplates> };
    expect(layers.map((l) => l.id)).toEqual(['footprints', 'confidence', 'priority']);
    for (const l of layers) {
      for (const z of [l.minZoom, l.maxZoom]) {
        const n = 2 ** (18 - z);
        const url = l.xyz
          .replace('{z}', String(z))
          .replace('{x}', String(Math.floor((32 * 4000 + 5) / n)))
          .replace('{y}', String(Math.floor((32 * 3000 + 5) / n)));
        const tile = await s.app.request(url.replace(/^https?:\/\/[^/]+/, ''));
        expect(tile.status, `${l.id} z${z}`).toBe(200);
        expect(tile.headers.get('etag')).toBeTruthy();
        // A finished project's versioned URL: tools may keep the tile for a day.
        expect(tile.headers.get('cache-control')).toContain('max-age=86400');
        expect(Number(tile.headers.get('x-tilelens-cells')), `${l.id} z${z}`).toBeGreaterThan(0);
      }
    }
  });

  it('hands out COMPLETENESS drafts per tier that pass the schema and carry the footprint overlay', async () => {
    const res = await s.app.request(`/api/projects/${id}/exports/mapswipe-completeness.json`);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename=".*completeness\.json"/);
    const { drafts } = await res.json();
    expect(drafts.length).toBeGreaterThan(0);
    for (const d of drafts) {
      expect(mapswipeCompletenessDraftSchema.safeParse(d.draft).success).toBe(true);
      expect(d.draft.completeness.overlayTileServerProperty.type).toBe('VECTOR_TILE');
      expect(d.draft.completeness.zoomLevel).toBe(18);
    }
  });

  it('a change still needs the token', async () => {
    const write = await s.app.request(`/api/projects/${id}/score`, { method: 'POST' });
    expect(write.status).toBe(401);
  });
});

describe('confidence over a region doubtful as a whole', () => {
  const cell = (width: number, i: number): OverlayCell =>
    ({
      x: i,
      y: 0,
      status: 'scored',
      priority: 0.5,
      iouHat: 0.5,
      novelty: 50,
      buildingProbLow: 0.1,
      buildingProbHigh: 0.1 + width,
    }) as OverlayCell;
  // Every tile's interval is wide (0.7 to 0.9): on the fixed scale all of them are the same red.
  const doubtful = Array.from({ length: 500 }, (_, i) => cell(0.7 + (0.2 * i) / 499, i));

  it('says so once and spreads the colours over the region', async () => {
    const spread = await confidenceSpread(doubtful);
    expect(spread.doubtful).toBe(true);
    expect(spread.stretched).toBe(true);
    expect(spread.note).toMatch(/whole region/);
    expect(spread.p05!).toBeCloseTo(0.11, 1);
    expect(spread.p95!).toBeCloseTo(0.29, 1);
    const scale = regionConfidenceScale(CONFIDENCE_SCALE, spread);
    // The least and the most trusted tiles of the region get the scale's two ends, not one flat red.
    expect(colourAt(scale, spread.p05!)).toEqual(colourAt(CONFIDENCE_SCALE, 0));
    expect(colourAt(scale, spread.p95!)).toEqual(colourAt(CONFIDENCE_SCALE, 1));
    expect(
      colourAt(CONFIDENCE_SCALE, spread.p05!)[0] - colourAt(CONFIDENCE_SCALE, spread.p95!)[0],
    ).toBeLessThan(10);
  });

  it('never says half the tiles lie below 0 % confidence', async () => {
    // Every tile's interval runs from 0 to 1: nothing is known anywhere.
    const none = await confidenceSpread(
      Array.from({ length: 50 }, (_, i) => ({ ...cell(0.9, i), buildingProbLow: 0, buildingProbHigh: 1 })),
    );
    expect(none.note).toMatch(/below 1 % confidence/);
    expect(none.note).not.toMatch(/below 0 %/);
  });

  it('keeps the fixed scale where the region is mostly trusted', async () => {
    const trusted = Array.from({ length: 200 }, (_, i) => cell(0.05 + (0.3 * i) / 199, i));
    const spread = await confidenceSpread(trusted);
    expect(spread).toMatchObject({ doubtful: false, stretched: false, note: null });
    expect(regionConfidenceScale(CONFIDENCE_SCALE, spread)).toBe(CONFIDENCE_SCALE);
  });
});
