/**
 * The labelled side over the API on a synthetic scored project of 40 × 40 tiles whose truth is known:
 * draw a calibration sample (reproducible by seed), its CSV and MapSwipe drafts, import MapSwipe's
 * aggregated results in its real layout (CSV and GeoJSON), refuse each bad file with its reason and
 * nothing stored, labels set in tilelens, the region's figures and the after-mapping report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSyntheticProject,
  syntheticServer,
  type SyntheticProject,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';
import { createApp } from '../../server/app.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { resolveSettings } from '../../server/settings.ts';
import {
  aggResultsCsv,
  aggResultsGeoJson,
  answersFor,
  type Answers,
} from '../fixtures/mapswipe-agg-results.ts';
import { sqlGet } from '../../server/lib/db/store-probe.ts';

let s: SyntheticServer;
let p: SyntheticProject;
let other: SyntheticProject;
const MS = '-NtilelensSample01';
let auth: Record<string, string>;
/** Truth per task id: a building with the tile's own model probability, drawn once. */
const truth = new Map<string, boolean>();
let tiles: Array<{ taskId: string; priority: number; status: string }> = [];

beforeAll(async () => {
  s = await syntheticServer();
  auth = { Authorization: `Bearer ${s.token}` };
  p = await createSyntheticProject(s.db, { side: 40, origin: { x: 150_000, y: 120_000 } });
  other = await createSyntheticProject(s.db, { side: 10, origin: { x: 160_000, y: 120_000 } });
  const rng = createRng(17);
  const fc = await (await s.app.request(`/api/projects/${p.projectId}/tiles?limit=5000`)).json();
  for (const f of fc.features) truth.set(f.properties.task_id, rng.next() < f.properties.building_prob);
  tiles = fc.features.map((f: any) => ({
    taskId: f.properties.task_id,
    priority: f.properties.priority,
    status: f.properties.status,
  }));
});
afterAll(() => s.close());

const url = (path: string) => `/api/projects/${p.projectId}${path}`;
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  s.app.request(url(path), {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', ...headers },
    body:
      typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
const stored = () =>
  sqlGet(
    s.db,
    'select (select count(*) from tile_labels) as labels, (select count(*) from label_imports) as imports',
  );

let sample: {
  id: number;
  tiles: Array<{ taskId: string; stratum: number; inclusionProb: number }>;
  design: any;
};

describe('calibration samples', () => {
  it('needs the manager token to draw', async () => {
    const res = await s.app.request(url('/calibration-samples'), { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });

  it('draws a stratified sample, the same tiles for the same seed and others for another', async () => {
    const res = await post('/calibration-samples', { size: 120, seed: 7 });
    expect(res.status).toBe(201);
    sample = await res.json();
    expect(sample.tiles).toHaveLength(120);
    expect(res.headers.get('location')).toBe(url(`/calibration-samples/${sample.id}`));
    const again = await (await post('/calibration-samples', { size: 120, seed: 7 })).json();
    expect(again.id).not.toBe(sample.id);
    expect(again.tiles.map((t: any) => t.taskId).sort()).toEqual(sample.tiles.map((t) => t.taskId).sort());
    const otherSeed = await (await post('/calibration-samples', { size: 120, seed: 8 })).json();
    const shared = otherSeed.tiles.filter((t: any) => sample.tiles.some((u) => u.taskId === t.taskId)).length;
    expect(shared).toBeLessThan(40);
    // Tiles without imagery are kept apart.
    const missing = new Set(tiles.filter((t) => t.status !== 'scored').map((t) => t.taskId));
    expect(missing.size).toBeGreaterThan(0);
    expect(sample.tiles.some((t) => missing.has(t.taskId))).toBe(false);
    const list = await (await s.app.request(url('/calibration-samples'))).json();
    expect(list.samples.map((x: any) => x.id)).toContain(sample.id);
    const bad = await post('/calibration-samples', { size: 1 });
    expect(bad.status).toBe(400);
  });

  it('exports the CSV and MapSwipe Find drafts of at most 20 polygons', async () => {
    const csv = await (await s.app.request(url(`/calibration-samples/${sample.id}/tiles.csv`))).text();
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('task_id,quadkey,lon,lat,stratum,inclusion_probability,priority,building_prob');
    expect(lines).toHaveLength(121);
    const find = await (await s.app.request(url(`/calibration-samples/${sample.id}/mapswipe-find`))).json();
    expect(find.sampleTiles).toBe(120);
    for (const d of find.drafts) {
      expect(d.draft.projectType).toBe(1);
      expect(d.draft.geometry.features.length).toBeLessThanOrEqual(20);
      expect(d.draft.tileServer.url).toMatch(/\/imagery\/\d+\/\{z\}\/\{x\}\/\{y\}\.jpg$/);
    }
    expect(find.extraTaskIds).toHaveLength(find.extraTiles);
  });
});

/** The sample tiles and the extra tiles of its drafts, answered as truth says. */
function sampleAnswers(extra: string[]): Answers[] {
  return [...sample.tiles.map((t) => t.taskId), ...extra].map((id) => answersFor(id, truth.get(id) ?? false));
}

describe('importing MapSwipe results', () => {
  let extra: string[];
  beforeAll(async () => {
    extra = (await (await s.app.request(url(`/calibration-samples/${sample.id}/mapswipe-find`))).json())
      .extraTaskIds;
  });

  const refusedWith = async (
    body: string | Uint8Array,
    reason: RegExp,
    query = `purpose=sample&mapswipeProject=${MS}`,
  ) => {
    const before = await stored();
    const res = await post(`/labels/mapswipe?${query}`, body, { 'Content-Type': 'text/csv' });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(422);
    expect(json.error.code).toBe('results-refused');
    expect(json.error.message).toMatch(/nothing was stored/);
    expect(json.error.message).toMatch(reason);
    expect(await stored()).toEqual(before);
  };

  it('refuses a file of another MapSwipe project than the one named', async () => {
    await refusedWith(
      aggResultsCsv(sampleAnswers(extra), '-Nsomebody'),
      /holds MapSwipe project -Nsomebody's results, not -NtilelensSample01's/,
    );
  });

  it("refuses a file whose tasks are not this project's tiles", async () => {
    const elsewhere = Array.from({ length: 10 }, (_, i) =>
      answersFor(`18-${other.minX + i}-${other.minY}`, false),
    );
    await refusedWith(aggResultsCsv(elsewhere, MS), /10 of 10 tasks are not tiles of project/);
  });

  it('refuses unknown or duplicated task ids, missing columns, negative counts and shares that do not add up', async () => {
    const answers = sampleAnswers(extra);
    await refusedWith(
      aggResultsCsv([...answers, answersFor('18-1-1', true)], MS),
      /1 of \d+ tasks are not tiles of project/,
    );
    await refusedWith(aggResultsCsv([...answers, answers[3]], MS), /appears twice/);
    await refusedWith(
      aggResultsCsv(answers, MS, { columns: ['idx', 'project_id', 'task_id', '0_count', '1_count'] }),
      /missing column/,
    );
    await refusedWith(
      aggResultsCsv(answers, MS, { edit: (r, i) => i === 5 && (r['1_count'] = -2) }),
      /counts are whole numbers ≥ 0/,
    );
    await refusedWith(
      aggResultsCsv(answers, MS, { edit: (r, i) => i === 5 && (r['1_share'] = 0.9) }),
      /do not add up to 1/,
    );
    await refusedWith(
      aggResultsCsv(answers, MS, { edit: (r, i) => i === 5 && (r.total_count = 9) }),
      /do not add up to total_count 9/,
    );
  });

  it('refuses an upload beyond the stated size with 413, nothing stored', async () => {
    const small = createApp({
      db: s.db,
      scoring: s.scoring,
      token: s.token,
      settings: resolveSettings({ 'data-dir': s.dir, 'max-upload-bytes': 2048 }),
      log: () => {},
    });
    const before = await stored();
    const res = await small.request(url(`/labels/mapswipe?purpose=sample`), {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'text/csv' },
      body: aggResultsCsv(sampleAnswers(extra), MS),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('upload-too-large');
    expect(await stored()).toEqual(before);
    await small.close();
  });

  it('stores the answers of the real layout, extra tiles outside the project read and left out', async () => {
    const res = await post(
      `/labels/mapswipe?purpose=sample&mapswipeProject=${MS}`,
      aggResultsCsv(sampleAnswers(extra), MS, { metadataLine: true }),
      {
        'Content-Type': 'text/csv',
      },
    );
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(201);
    expect(json.rows).toBe(120 + extra.length);
    expect(json.stored + json.outside).toBe(json.rows);
    expect(json.samples.find((x: any) => x.id === sample.id).labelled).toBe(120);
    const positives = sample.tiles.filter((t) => truth.get(t.taskId)).length;
    expect(json.labels.building).toBeGreaterThanOrEqual(positives);
  });

  it('takes the GeoJSON twin too, and labels set in tilelens', async () => {
    const some = sample.tiles.slice(0, 10).map((t) => answersFor(t.taskId, truth.get(t.taskId)!));
    const res = await post(`/labels/mapswipe?purpose=sample`, aggResultsGeoJson(some, MS), {
      'Content-Type': 'application/geo+json',
    });
    expect(res.status).toBe(201);
    const put = await s.app.request(url(`/labels/${sample.tiles[0].taskId}`), {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ label: truth.get(sample.tiles[0].taskId) ? 'building' : 'no_building' }),
    });
    expect(put.status).toBe(200);
    const before = await stored();
    const bad = await post('/labels', {
      labels: [
        { taskId: sample.tiles[1].taskId, label: 'maybe' },
        { taskId: '18-1-1', label: 'building' },
      ],
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/nothing was stored/);
    expect(await stored()).toEqual(before);
  });
});

function trueRecall(threshold: number): number {
  let all = 0;
  let sent = 0;
  for (const t of tiles) {
    if (t.status !== 'scored' || !truth.get(t.taskId)) continue;
    all++;
    if (t.priority >= threshold) sent++;
  }
  return sent / all;
}

describe('the region from its labels', () => {
  it('gives the building count, recall with its interval and the guarantee, on the labels it names', async () => {
    const res = await s.app.request(url(`/trust?sampleId=${sample.id}&threshold=0.3&steps=11`));
    const r = await res.json();
    expect(res.status, JSON.stringify(r)).toBe(200);
    expect(r.basis.labels).toBe(120);
    const T = tiles.filter((t) => t.status === 'scored' && truth.get(t.taskId)).length;
    expect(r.buildingTiles.low).toBeLessThanOrEqual(T);
    expect(r.buildingTiles.high).toBeGreaterThanOrEqual(T);
    expect(r.recall.low).toBeLessThanOrEqual(trueRecall(0.3));
    expect(r.recall.high).toBeGreaterThanOrEqual(trueRecall(0.3));
    expect(r.recall.promise).toMatch(/^on 120 labels from this region/);
    expect(r.curve).toHaveLength(11);
    expect(r.guarantee).toMatchObject({ target: 0.95, delta: 0.1 });
    expect(r.labelRule).toMatch(/bad imagery/);
  });

  it('says when there is nothing to estimate from', async () => {
    const res = await s.app.request(`/api/projects/${other.projectId}/trust`);
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('sample-not-found');
  });
});

describe('after the mapping', () => {
  it('reports achieved recall and skip precision, disagreements and bad imagery apart', async () => {
    const threshold = 0.3;
    const sent = tiles.filter((t) => t.status === 'scored' && t.priority >= threshold);
    const answers = sent.map((t, i) =>
      i === 0
        ? { taskId: t.taskId, no: 0, yes: 0, maybe: 0, bad: 3 }
        : answersFor(t.taskId, truth.get(t.taskId)!),
    );
    const imp = await post(
      `/labels/mapswipe?purpose=mapping&mapswipeProject=-Nmapping`,
      aggResultsCsv(answers, '-Nmapping'),
    );
    expect(imp.status).toBe(201);
    const res = await s.app.request(url(`/trust/after-mapping?sampleId=${sample.id}&top=10`));
    const r = await res.json();
    expect(res.status, JSON.stringify(r)).toBe(200);
    expect(r.sent).toBe(sent.length);
    expect(r.badImagery.tiles).toBe(1);
    expect(r.badImagery.taskIds).toEqual([sent[0].taskId]);
    const found = sent.slice(1).filter((t) => truth.get(t.taskId)).length;
    const missed = tiles.filter(
      (t) => t.status === 'scored' && t.priority < threshold && truth.get(t.taskId),
    ).length;
    expect(r.sentWithBuilding).toBe(found);
    expect(r.missedBuildingTiles.low).toBeLessThanOrEqual(missed);
    expect(r.missedBuildingTiles.high).toBeGreaterThanOrEqual(missed);
    const achieved = found / (found + missed);
    expect(r.achievedRecall.low).toBeLessThanOrEqual(achieved);
    expect(r.achievedRecall.high).toBeGreaterThanOrEqual(achieved);
    expect(r.disagreements.length).toBeLessThanOrEqual(10);
    for (let i = 1; i < r.disagreements.length; i++)
      expect(r.disagreements[i - 1].surprise).toBeGreaterThanOrEqual(r.disagreements[i].surprise);
    expect(r.promise).toMatch(/achieved recall/);
  });
});
