import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { FeatureCollection, Polygon } from 'geojson';
import { lonLatToWorldPixel, tileToQuadkey } from '../../server/lib/geo/tiles.ts';
import { scoredTileSchema, type ScoredTile } from '../../server/lib/scored-tiles/scored-tile.ts';
import { mapswipeFindDrafts } from '../../server/lib/exports/mapswipe-find.ts';
import {
  mapswipeValidateChunks,
  mapswipeValidateDraft,
  emptyValidateSummary,
  writeMapswipeValidate,
} from '../../server/lib/exports/mapswipe-validate.ts';
import { taskingManagerExport } from '../../server/lib/exports/tasking-manager.ts';
import {
  csvField,
  tileTableCsv,
  tileTableGeoJson,
  TILE_TABLE_COLUMNS,
} from '../../server/lib/exports/tile-table.ts';
import { collectText } from '../../server/lib/exports/stream.ts';
import { planRectangles } from '../../server/lib/exports/tile-rectangles.ts';
import { ExportError, type ExportProject } from '../../server/lib/exports/project-info.ts';
import { tierFor } from '../../server/lib/scored-tiles/tiers.ts';
import { tileTrust } from '../../server/lib/analysis/doubt.ts';
import { golden as goldenFile } from '../fixtures/golden.ts';

const dir = new URL('../fixtures/exports/', import.meta.url);
const input = JSON.parse(readFileSync(new URL('scored-tiles.geojson', dir), 'utf8')) as FeatureCollection;
// The fixture predates the tile's interval: give each tile the band doubt would give it at a novelty ratio of
// urban distance / 3 (far tiles doubtful), so the exports show the columns filled.
const tiles: ScoredTile[] = input.features.map((f) => {
  const t = scoredTileSchema.parse(f.properties);
  const noveltyRatio = Math.round((t.urbanDistance / 3) * 1000) / 1000;
  const band = tileTrust(t.buildingProb, noveltyRatio);
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    ...t,
    noveltyRatio,
    buildingProbLow: round(band.buildingProbLow),
    buildingProbHigh: round(band.buildingProbHigh),
  };
});
const project: ExportProject = {
  name: 'Kampala outskirts',
  imagery: {
    name: 'Demo imagery',
    url: 'https://tiles.example.org/demo/{z}/{x}/{y}.png',
    credits: '© demo imagery contributors',
  },
  model: { id: 'demo-unet-w16', name: 'demo U-Net', version: '1.0.0' },
  runId: 7,
  lookFor: 'buildings',
  zoom: 18,
  figures: {
    basis: 'reference',
    verified: false,
    labels: 0,
    promise: 'rest on the reference run alone: unverified here until volunteers label a calibration sample',
  },
};

const golden = (name: string, output: string | object) => goldenFile(new URL(name, dir), output);

/**
 * MapSwipe's grouping (tile_grouping_functions.extent_to_groups) replayed on a draft's geometry: 3-row
 * stripes from the extent's top tile row, each stripe piece's x-extent by floor(), groups of even width,
 * one-column pieces dropped, overlapping groups merged. Returns the tiles MapSwipe would create.
 */
function mapswipeTiles(fc: FeatureCollection<Polygon>, zoom: number, groupSize: number): Set<string> {
  const rects = fc.features.map((f) => {
    const ring = f.geometry.coordinates[0];
    const px = ring.map(([lon, lat]) => lonLatToWorldPixel(lon, lat, zoom, 1));
    return {
      x0: Math.min(...px.map((p) => p[0])),
      x1: Math.max(...px.map((p) => p[0])),
      y0: Math.min(...px.map((p) => p[1])),
      y1: Math.max(...px.map((p) => p[1])),
    };
  });
  const top = Math.floor(Math.min(...rects.map((r) => r.y0)));
  const bottom = Math.floor(Math.max(...rects.map((r) => r.y1)));
  const groups: Array<{ x0: number; x1: number; y0: number; y1: number }> = [];
  for (const r of rects) {
    for (let ty = top; ty <= bottom; ty += 3) {
      const s0 = Math.max(r.y0, ty);
      const s1 = Math.min(r.y1, ty + 3);
      if (!(s1 > s0)) continue;
      const left = Math.floor(r.x0);
      const right = Math.floor(r.x1);
      const width = right - left;
      const cols = Math.ceil(width / groupSize);
      if (cols < 1) continue;
      let step = Math.ceil(width / cols);
      step += step % 2;
      let x = left;
      for (let i = 0; i < cols; i++) {
        if (i === cols - 1) step = right - x + 1 + ((right - x + 1) % 2);
        groups.push({ x0: x, x1: x + step - 1, y0: ty, y1: ty + 2 });
        x += step;
      }
    }
  }
  const out = new Set<string>();
  for (const g of groups)
    for (let y = g.y0; y <= g.y1; y++) for (let x = g.x0; x <= g.x1; x++) out.add(`${x}/${y}`);
  return out;
}

describe('mapswipe-find', async () => {
  const exports = await mapswipeFindDrafts(tiles, project);

  it('writes one draft per tier with MapSwipe Build Area fields (golden)', async () => {
    expect(exports.map((e) => e.tier)).toEqual(['high', 'medium', 'low']);
    for (const e of exports) {
      await golden(`mapswipe-find.${e.tier}.draft.json`, e.draft);
      await golden(`mapswipe-find.${e.tier}.area.geojson`, e.draft.geometry);
      expect(e.draft).toMatchObject({
        projectType: 1,
        zoomLevel: 18,
        groupSize: 120,
        verificationNumber: 3,
        lookFor: 'buildings',
      });
      expect(e.draft.tileServer).toEqual({
        name: 'custom',
        url: project.imagery.url,
        credits: project.imagery.credits,
      });
      expect(e.draft.geometry.features.length).toBeLessThanOrEqual(20);
      expect(e.draft.projectDetails).toMatch(/demo U-Net 1\.0\.0/);
    }
  });

  it('gives areas from which MapSwipe builds exactly the rectangles: every tier tile and the reported extra ones', () => {
    expect(exports.length).toBeGreaterThan(0);
    for (const e of exports) {
      const want = tiles.filter((t) => tierFor(t) === e.tier).map((t) => `${t.x}/${t.y}`);
      expect(want.length, e.tier).toBeGreaterThan(0);
      const got = mapswipeTiles(e.draft.geometry, 18, e.draft.groupSize);
      for (const k of want) expect(got.has(k), `${e.tier} ${k}`).toBe(true);
      expect(got.size).toBe(want.length + e.extraTiles);
      const rectTiles = e.draft.geometry.features.reduce((s, f) => s + (f.properties!.tiles as number), 0);
      expect(got.size).toBe(rectTiles);
    }
  });

  it('merges scattered tiles into at most 20 polygons and says so', async () => {
    // A checkerboard of lone tiles: every tile its own run until bridged.
    const scattered: ScoredTile[] = [];
    for (let j = 0; j < 90; j += 2)
      for (let i = 0; i < 60; i += 5)
        scattered.push({
          ...tiles[0],
          x: 154000 + i + (j % 4),
          y: 130000 + j,
          taskId: `18-${154000 + i + (j % 4)}-${130000 + j}`,
          quadkey: tileToQuadkey(18, 154000 + i + (j % 4), 130000 + j),
          tier: 'high',
        });
    const [e] = await mapswipeFindDrafts(scattered, project, { tiers: ['high'] });
    expect(e.polygons).toBeLessThanOrEqual(20);
    expect(e.simplification).not.toBe('exact');
    expect(e.draft.projectDetails).toMatch(/To stay within 20 polygons/);
    const got = mapswipeTiles(e.draft.geometry, 18, 120);
    for (const t of scattered) expect(got.has(`${t.x}/${t.y}`)).toBe(true);
    expect(got.size).toBe(scattered.length + e.extraTiles);
    const tight = (await mapswipeFindDrafts(scattered, project, { tiers: ['high'], maxPolygons: 3 }))[0];
    expect(tight.polygons).toBeLessThanOrEqual(3);
    expect(tight.simplification).toBe('merged-bands');
    expect(mapswipeTiles(tight.draft.geometry, 18, 120).size).toBe(scattered.length + tight.extraTiles);
  });

  it('pads one-column runs, which MapSwipe would otherwise drop', () => {
    const plan = planRectangles([
      { x: 10, y: 5 },
      { x: 10, y: 6 },
    ]);
    expect(plan.rects).toEqual([{ x0: 10, x1: 11, y0: 5, y1: 7 }]);
    expect(plan.extraTiles).toBe(4);
  });

  it('refuses tiles at another zoom and incomplete project info', async () => {
    await expect((async () => await mapswipeFindDrafts([{ ...tiles[0], z: 17 }], project))()).rejects.toThrow(
      /zoom 17/,
    );
    await expect(
      (async () => await mapswipeFindDrafts(tiles, { ...project, lookFor: '' }))(),
    ).rejects.toThrow(ExportError);
  });
});

describe('the region look in the exports', () => {
  const look = "Imagery read dehazed: it looked hazier than the model's training imagery.";
  const withLook: ExportProject = { ...project, figures: { ...project.figures!, look } };

  it('closes every Find draft description with it, after what the figures rest on', async () => {
    for (const e of await mapswipeFindDrafts(tiles, withLook)) {
      expect(e.draft.projectDetails).toContain(`Figures ${project.figures!.promise}. ${look}`);
    }
    // Without a stored look the description says nothing of one.
    for (const e of await mapswipeFindDrafts(tiles, project))
      expect(e.draft.projectDetails).not.toContain('Imagery read');
  });

  it('travels with the figures in Tasking Manager and Validate', async () => {
    expect((await taskingManagerExport(tiles, withLook)).figures?.look).toBe(look);
    const text = await collectText(mapswipeValidateChunks(tiles, withLook));
    expect(JSON.parse(text).tilelens.figures.look).toBe(look);
  });
});

describe('mapswipe-validate', () => {
  it('streams predicted footprints of the tiles to check, with task_id, priority and confidence (golden)', async () => {
    const summary = emptyValidateSummary();
    const text = await collectText(mapswipeValidateChunks(tiles, project, {}, summary));
    await golden('mapswipe-validate.geojson', text);
    const fc = JSON.parse(text);
    expect(fc.features.length).toBe(summary.written);
    expect(summary.written).toBeGreaterThan(0);
    expect(summary.truncated).toBe(false);
    for (const f of fc.features) {
      expect(f.geometry.type).toBe('Polygon');
      expect(Object.keys(f.properties)).toEqual(
        expect.arrayContaining(['task_id', 'priority', 'confidence']),
      );
      expect(['high', 'medium']).toContain(f.properties.tier);
    }
    const draft = mapswipeValidateDraft(project, {
      inputGeometriesUrl: 'https://example.org/objects.geojson',
      summary,
    });
    await golden('mapswipe-validate.draft.json', draft);
    expect(draft).toMatchObject({ projectType: 2, inputType: 'link' });
    expect(() => mapswipeValidateDraft(project, { inputGeometriesUrl: '/tmp/x.geojson' })).toThrow(/http/);
  });

  it('caps the polygons with a note, to a Writable', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    const summary = await writeMapswipeValidate(tiles, project, out, { cap: 5 });
    out.end();
    expect(summary.written).toBe(5);
    expect(summary.truncated).toBe(true);
    expect(summary.leftOut).toBeGreaterThan(0);
    const fc = JSON.parse(text);
    expect(fc.features).toHaveLength(5);
    expect(fc.tilelens.note).toMatch(/capped at 5/);
  });
});

describe('tasking-manager', () => {
  it('builds a square task grid in TMS order with annotations per task (golden)', async () => {
    const tm = await taskingManagerExport(tiles, project, { taskZoom: 16, tmProjectId: 1234 });
    await golden('tasking-manager.squares.draft.json', tm.draft);
    await golden('tasking-manager.squares.annotations.json', tm.annotations);
    await golden('tasking-manager.priority-areas.geojson', {
      type: 'FeatureCollection',
      features: tm.priorityAreas.map((g) => ({ type: 'Feature', properties: {}, geometry: g })),
    });
    expect(tm.annotations.path).toBe('/api/v2/projects/1234/annotations/tilelens/');
    expect(tm.draft.arbitraryTasks).toBe(false);
    const feats = tm.draft.tasks.features;
    expect(feats.length).toBeGreaterThan(0);
    for (const f of feats) {
      expect(f.geometry.type).toBe('MultiPolygon');
      expect(f.properties).toMatchObject({ zoom: 16, isSquare: true });
      // TMS: y counted from the south.
      const yXyz = 2 ** 16 - 1 - f.properties.y;
      const tileYs = tiles.filter((t) => t.y >> 2 === yXyz && t.x >> 2 === f.properties.x);
      expect(tileYs.length).toBeGreaterThan(0);
    }
    const ann = tm.annotations.body.tasks;
    expect(ann.map((a) => a.taskId)).toEqual(feats.map((_, i) => i + 1));
    for (let i = 1; i < ann.length; i++)
      expect(ann[i].properties.priority).toBeLessThanOrEqual(ann[i - 1].properties.priority);
    expect(ann[0].properties).toMatchObject({ modelVersion: '1.0.0', runId: '7' });
    expect(ann[0].properties.predictedBuildingShare).toBeGreaterThan(0);
  });

  it('clusters chosen tiles into arbitrary tasks whose outline is their union', async () => {
    const tm = await taskingManagerExport(tiles, project, {
      mode: 'clustered',
      taskZoom: 16,
      tiers: ['high'],
    });
    await golden('tasking-manager.clustered.tasks.geojson', tm.draft.tasks);
    expect(tm.draft.arbitraryTasks).toBe(true);
    const high = tiles.filter((t) => tierFor(t) === 'high').length;
    expect(
      tm.draft.tasks.features.reduce((s, f) => s + f.properties.extra_properties.tilelens_tiles, 0),
    ).toBe(high);
    for (const f of tm.draft.tasks.features) expect(f.properties.isSquare).toBe(false);
    // With arbitrary tasks TM makes each area feature a task, so the area carries the scores.
    expect(tm.draft.areaOfInterest.features.map((f) => f.properties)).toEqual(
      tm.draft.tasks.features.map((f) => f.properties),
    );
    for (const f of tm.draft.tasks.features) {
      expect(f.properties.extra_properties.tilelens_confidence).toBeGreaterThanOrEqual(0);
    }
    await expect((async () => await taskingManagerExport(tiles, project, { tiers: [] }))()).rejects.toThrow(
      /no tile falls/,
    );
  });
});

describe('tile-table', () => {
  it('writes RFC 4180 CSV with MapSwipe task ids (golden)', async () => {
    const csv = await collectText(tileTableCsv(tiles));
    await golden('tiles.csv', csv);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(TILE_TABLE_COLUMNS.join(','));
    expect(lines).toHaveLength(tiles.length + 2);
    expect(lines[1].startsWith('18-154790-130830,')).toBe(true);
    expect(csv).toMatch(/failed/);
  });

  it('quotes what needs quoting', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(0.5)).toBe('0.5');
  });

  it('writes a GeoJSON FeatureCollection of tiles or footprints (golden)', async () => {
    const text = await collectText(tileTableGeoJson(tiles));
    await golden('tiles.geojson', text);
    const fc = JSON.parse(text);
    expect(fc.features).toHaveLength(tiles.length);
    expect(fc.features[0].properties.task_id).toBe('18-154790-130830');
    const fp = JSON.parse(await collectText(tileTableGeoJson(tiles.slice(0, 3), { geometry: 'footprints' })));
    expect(fp.features[0].geometry).toBeNull();
  });
});
