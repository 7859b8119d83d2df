/**
 * Insights on a freshly built small demo world over the API: label-error scores find the planted
 * construction sites, the review queue stores and exports marks, families and intervals are served, scoring
 * stores intervals, and two projects of one region compare tile by tile.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeDataset } from '../../server/lib/analysis/analyze-dataset.ts';
import { openDemoWorldDataset } from '../../server/lib/datasets/demo-world.ts';
import { averagePrecision, precisionAtK } from '../../server/lib/insights/label-errors.ts';
import { runInsights, type InsightsSummary } from '../../server/lib/insights/run-insights.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { demoModelPath } from '../../server/lib/paths.ts';
import { bboxPolygon, demoNewRegionBBox } from '../../server/demo-server.ts';
import { json, post, serverFixture, until, type ServerFixture } from './server-fixture.ts';
import { sqlAll, sqlColumn, sqlGet } from '../../server/lib/db/store-probe.ts';

let f: ServerFixture;
let runId: number;
let summary: InsightsSummary;

beforeAll(async () => {
  f = await serverFixture({ world: true });
  runId = f.runId!;
  summary = await runInsights(f.db, runId);
}, 120_000);
afterAll(async () => f?.close());

const planted = async () =>
  new Set(
    (
      await sqlAll<{ idx: number; phenomena: string }>(
        f.db,
        'select idx, phenomena from patches where run_id = ?',
        runId,
      )
    )
      .filter((r) => JSON.parse(r.phenomena ?? '[]').includes('construction_site'))
      .map((r) => r.idx),
  );

describe('label errors and the review queue', () => {
  it('ranks the planted construction sites high', async () => {
    const positives = await planted();
    expect(positives.size).toBeGreaterThan(0);
    const ranked = await sqlColumn<number>(
      f.db,
      'select idx from label_error_scores where run_id = ? order by rank',
      runId,
    );
    expect(ranked).toHaveLength(summary.labelErrors.patches);
    const base = positives.size / ranked.length;
    const p10 = precisionAtK(ranked, (i) => positives.has(i), 10);
    expect(p10).toBeGreaterThanOrEqual(Math.min(1, 5 * base));
    expect(averagePrecision(ranked, (i) => positives.has(i))).toBeGreaterThan(0.5);
    expect(summary.labelErrors.usedEvidence).toBe(true);
  });

  it('steps through the queue, stores marks with the manager token only, and exports them', async () => {
    const first = await json(await f.app.request(`/api/runs/${runId}/review?rank=1`));
    expect(first).toMatchObject({ rank: 1, previous: null, next: 2, mark: null });
    expect(first.images.image).toBe(`/api/runs/${runId}/patches/${first.idx}/image.png`);
    expect(first.tile).not.toBeNull();

    expect(
      (await post(f.app, `/api/runs/${runId}/review/${first.idx}`, { mark: 'label_wrong' }, {})).status,
    ).toBe(401);
    expect((await post(f.app, `/api/runs/${runId}/review/${first.idx}`, { mark: 'wrong' })).status).toBe(400);
    const ok = await post(f.app, `/api/runs/${runId}/review/${first.idx}`, {
      mark: 'label_wrong',
      note: 'site, no houses yet',
    });
    expect(ok.status).toBe(200);
    const again = await json(await f.app.request(`/api/runs/${runId}/review?rank=1&unmarked=true`));
    expect(again.mark).toBe('label_wrong');
    expect(again.next).toBe(2);
    const second = await json(await f.app.request(`/api/runs/${runId}/review?rank=2`));
    await post(f.app, `/api/runs/${runId}/review/${second.idx}`, { mark: 'model_wrong' });
    const third = await json(await f.app.request(`/api/runs/${runId}/review?rank=3&unmarked=true`));
    expect(third.previous).toBeNull();

    const gj = await json(await f.app.request(`/api/runs/${runId}/review.geojson?top=0&marks=label_wrong`));
    expect(gj.features).toHaveLength(1);
    expect(gj.features[0].properties).toMatchObject({
      mark: 'label_wrong',
      note: 'site, no houses yet',
      rank: 1,
    });
    expect(gj.features[0].geometry.type).toBe('Polygon');
    const csv = await (await f.app.request(`/api/runs/${runId}/review.csv?top=5`)).text();
    const lines = csv.trim().split('\n');
    expect(lines[0]).toMatch(/^rank,task_id,/);
    expect(lines).toHaveLength(6);
    expect(lines[1]).toContain('label_wrong');
    expect(lines[1]).toContain('"site, no houses yet"');
    expect(lines[2]).toContain('model_wrong');
    const beyond = await f.app.request(`/api/runs/${runId}/review?rank=100000`);
    expect(beyond.status).toBe(404);
    expect((await json(beyond)).error).toMatchObject({
      code: 'not-found',
      hint: expect.stringMatching(/ranks 1\.\./),
    });
    expect((await f.app.request(`/api/runs/9999/review`)).status).toBe(404);
  });
});

describe('label errors per object', () => {
  it('keeps kinds apart: the construction sites come first in the phantom queue, each with its fix', async () => {
    expect(summary.skipped).toEqual([]);
    const counts = await json(await f.app.request(`/api/runs/${runId}/label-objects`));
    expect(Object.keys(counts)).toEqual(['phantom', 'missing', 'offset', 'area_offset']);
    expect(counts.phantom).toBeGreaterThan(0);
    const positives = await planted();
    const page = await json(
      await f.app.request(`/api/runs/${runId}/label-objects/list?kind=phantom&limit=10`),
    );
    expect(page.kind).toBe('phantom');
    expect(page.items.length).toBeGreaterThan(0);
    const onSites = page.items.filter((o: { idx: number }) => positives.has(o.idx)).length;
    // Construction sites are a few per cent of the tiles; the rest of the top holds footprints the model misses.
    const base = positives.size / summary.labelErrors.patches;
    expect(onSites / page.items.length).toBeGreaterThanOrEqual(Math.min(0.5, 5 * base));
    const top = page.items[0];
    expect(top).toMatchObject({ kind: 'phantom', fix: 'delete', rank: 1 });
    expect(top.outline.length).toBeGreaterThanOrEqual(4);
    expect(top.tile).not.toBeNull();
    for (let i = 1; i < page.items.length; i++)
      expect(page.items[i].score).toBeLessThanOrEqual(page.items[i - 1].score);
    expect((await f.app.request(`/api/runs/${runId}/label-objects/list?kind=wrong`)).status).toBe(400);
  });

  it('exports GeoJSON with a JOSM link per object and a MapRoulette challenge, one task per line', async () => {
    const gj = await json(
      await f.app.request(`/api/runs/${runId}/label-objects.geojson?kinds=phantom&limit=5`),
    );
    expect(gj.features.length).toBeGreaterThan(0);
    expect(gj.features.length).toBeLessThanOrEqual(5);
    const p = gj.features[0].properties;
    expect(p).toMatchObject({ kind: 'phantom', fix: 'delete', rank: 1 });
    expect(p.josm).toMatch(/^http:\/\/127\.0\.0\.1:8111\/load_and_zoom\?left=-?\d/);
    const ring = gj.features[0].geometry.coordinates[0];
    expect(ring[0]).toEqual(ring[ring.length - 1]);

    const mr = await (
      await f.app.request(`/api/runs/${runId}/label-objects.maproulette.geojson?minScore=0.5`)
    ).text();
    const lines = mr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.startsWith('\x1e')).toBe(true);
      const task = JSON.parse(line.slice(1));
      expect(task.type).toBe('FeatureCollection');
      expect(task.features).toHaveLength(1);
      expect(['high', 'medium', 'low']).toContain(task.features[0].properties.priority);
      expect(task.features[0].properties.confidence).toBeGreaterThanOrEqual(0.5);
    }
  });
});

describe('families and confidence', () => {
  it('serves families, with a self-contained HTML export', async () => {
    const fam = await json(await f.app.request(`/api/runs/${runId}/families`));
    expect(fam.families.length).toBeGreaterThanOrEqual(2);
    expect(fam.assignment).toHaveLength(summary.labelErrors.patches);
    for (const x of fam.families) {
      expect(['false_alarms', 'missed_buildings', 'boundary', 'none']).toContain(x.dominantError);
      expect(x.prototypes.length).toBeGreaterThan(0);
    }
    const html = await (await f.app.request(`/api/runs/${runId}/families.html`)).text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('data:image/jpeg;base64,');
    expect(html).not.toMatch(/src="\/|src="http/);
  });

  it('reports held-out coverage beside the nominal level and serves per-patch intervals', async () => {
    const rec = await json(await f.app.request(`/api/runs/${runId}/confidence`));
    expect(rec.nominal).toBeCloseTo(0.9);
    expect(rec.methods.mlpMondrian.coverage).toBeGreaterThan(0.75);
    expect(Object.keys(rec.methods)).toEqual(['mlpMondrian', 'mlpGlobal', 'knnMondrian', 'meanMondrian']);
    const iv = await json(await f.app.request(`/api/runs/${runId}/intervals`));
    expect(iv.idx.length).toBe(summary.labelErrors.patches);
    iv.iouLow.forEach((lo: number, i: number) => expect(lo).toBeLessThanOrEqual(iv.iouHigh[i]));
  });
});

describe('scoring with intervals, and two projects side by side', () => {
  it('stores intervals on scored tiles and compares two reference runs tile by tile', async () => {
    // A second reference run of the same model, max-pooled: another latent space, so other priorities.
    const model = await loadModel(demoModelPath);
    const source = openDemoWorldDataset(f.worldDir, 'train');
    let runB: number;
    try {
      runB = (
        await analyzeDataset({
          db: f.db,
          model,
          modelPath: demoModelPath,
          source,
          runsDir: join(f.dir, 'runs'),
          options: { pooling: 'max' },
        })
      ).runId;
    } finally {
      await source.close();
      await model.dispose();
    }
    const imagery = await json(
      await post(f.app, '/api/imagery', {
        name: 'demo',
        spec: { kind: 'pmtiles', path: `${f.worldDir}/imagery.pmtiles` },
      }),
    );
    const area = bboxPolygon(demoNewRegionBBox(f.worldDir));
    const ids: number[] = [];
    for (const r of [runId, runB]) {
      const p = await json(
        await post(f.app, '/api/projects', { name: `run ${r}`, area, imageryId: imagery.id, runId: r }),
      );
      const job = await json(await post(f.app, `/api/projects/${p.id}/score`, {}));
      const done = await until('the job', async () => {
        const j = await json(await f.app.request(`/api/jobs/${job.id}`));
        return j.status === 'done' || j.status === 'failed' ? j : undefined;
      });
      expect(done.status).toBe('done');
      ids.push(p.id);
    }
    const withInterval = (await sqlGet<{ n: number }>(
      f.db,
      "select count(*) as n from tile_scores where project_id = ? and status = 'scored' and iou_low <= iou_hat and iou_hat <= iou_high",
      ids[0],
    ))!;
    const scored = (await sqlGet<{ n: number }>(
      f.db,
      "select count(*) as n from tile_scores where project_id = ? and status = 'scored'",
      ids[0],
    ))!;
    expect(withInterval.n).toBe(scored.n);

    const cmp = await json(await f.app.request(`/api/projects/${ids[0]}/compare/${ids[1]}`));
    expect(cmp.matched).toBe(cmp.a.tiles);
    expect(cmp.a.run).toBe(runId);
    expect(cmp.b.run).toBe(runB);
    expect(cmp.meanAbsDPriority).toBeGreaterThan(0);
    expect(cmp.prioritySpearman).toBeGreaterThan(0);
    expect(cmp.largestChanges[0].dPriority).toBeCloseTo(
      cmp.largestChanges[0].priorityB - cmp.largestChanges[0].priorityA,
    );
    const layer = await json(await f.app.request(`/api/projects/${ids[0]}/compare/${ids[1]}/layer.geojson`));
    expect(layer.features).toHaveLength(cmp.matched);
    expect(layer.features[0].properties).toHaveProperty('d_priority');
    expect((await f.app.request(`/api/projects/${ids[0]}/compare/9999`)).status).toBe(404);
  }, 180_000);
});
