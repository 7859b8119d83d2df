/**
 * The server on a Postgres store: the same demo world analysed, its insight passes run and the same project
 * scored through the API on a local Postgres and on SQLite, then overlay tiles, exports, the latent view's
 * pages, the label-error queue with marks, label fixes, families, intervals and the trust summary over a
 * labelled calibration sample read through HTTP from both, and the project published to a Tasking Manager
 * stand-in — byte for byte or value for value the same.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld } from '../../scripts/demo-world/generate.ts';
import { bboxPolygon, demoNewRegionBBox } from '../../server/demo-server.ts';
import { startLocalPostgres, type LocalPostgres } from '../../server/lib/db/local-postgres.ts';
import { runInsights } from '../../server/lib/insights/run-insights.ts';
import { lonLatToTile } from '../../server/lib/geo/tiles.ts';
import { startServer } from '../../server/main.ts';
import { resolveSettings } from '../../server/settings.ts';
import {
  startTaskingManagerStandIn,
  type TaskingManagerStandIn,
} from '../support/tasking-manager-stand-in.ts';
import { json, post, serverFixture, TOKEN, until, type ServerFixture } from './server-fixture.ts';

const TM_TOKEN = 'tm-token-0123456789';
/** Each fixture's own Tasking Manager stand-in, so both give their draft the same remote id. */
const standIns = new Map<ServerFixture, TaskingManagerStandIn>();
let dir: string;
let server: LocalPostgres | undefined;
/** The Postgres database the SQLite-compared fixture runs on. */
let pgUrl: string;
const fixtures: ServerFixture[] = [];
/** One snapshot time for both stores' latent pages (their headers carry it): after every tile either scores. */
const asOf = Date.now() + 86_400_000;
/** What each store answered, by store. */
const answers: Record<string, Awaited<ReturnType<typeof scoreAndRead>>> = {};

/** Runs the insight passes on the run, marks two patches of its review queue, and reads what an ML lead sees. */
async function insightsOf(f: ServerFixture) {
  const { app } = f;
  const run = `/api/runs/${f.runId}`;
  const summary = await runInsights(f.db, f.runId!);
  const ok = async (path: string) => {
    const res = await app.request(path);
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
    return res;
  };
  const first = (await json(await ok(`${run}/review/list?offset=0&limit=5`))).items;
  for (const [i, mark] of [
    [0, 'label_wrong'],
    [2, 'unsure'],
  ] as const) {
    const res = await post(app, `${run}/review/${first[i].idx}`, { mark, note: `mark ${i}` });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
  }
  return {
    // Less the time each pass took.
    insights: {
      ...summary,
      seconds: undefined,
      evidence: { ...summary.evidence, seconds: undefined },
      labelErrors: { ...summary.labelErrors, seconds: undefined },
    },
    review: await json(await ok(`${run}/review/list?offset=0&limit=50`)),
    reviewItem: await json(await ok(`${run}/review?rank=1&unmarked=true`)),
    reviewCsv: await (await ok(`${run}/review.csv?top=10`)).text(),
    labelObjects: await json(await ok(`${run}/label-objects`)),
    labelFixes: await (await ok(`${run}/label-objects.geojson`)).text(),
    confidence: await json(await ok(`${run}/confidence`)),
    intervals: await json(await ok(`${run}/intervals`)),
    families: await json(await ok(`${run}/families`)),
  };
}

/** Draws a calibration sample, labels its tiles (a fixed pattern) and reads the region's trust summary. */
async function trustOf(app: ServerFixture['app'], base: string) {
  const drawn = await post(app, `${base}/calibration-samples`, { size: 30, seed: 7 });
  expect(drawn.status, await drawn.clone().text()).toBe(201);
  const sample = await json(drawn);
  const labels = sample.tiles.map((t: { taskId: string }, i: number) => ({
    taskId: t.taskId,
    label: i % 3 === 0 ? 'building' : 'no_building',
  }));
  const labelled = await post(app, `${base}/labels`, { labels, purpose: 'sample' });
  expect(labelled.status, await labelled.clone().text()).toBe(201);
  const res = await app.request(`${base}/trust`);
  expect(res.status, await res.clone().text()).toBe(200);
  return { sample: { ...sample, createdAt: undefined }, trust: await json(res) };
}

/** Publishes the project to a Tasking Manager stand-in of its own and reads the publication back. */
async function publishOf(f: ServerFixture, projectId: number) {
  const tm = standIns.get(f)!;
  const res = await post(f.app, `/api/projects/${projectId}/publish/tasking-manager`, {
    organisation: 7,
    mode: 'clustered',
    tiers: ['high', 'medium', 'low'],
    credentials: { token: TM_TOKEN },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  expect(tm.projects).toHaveLength(1);
  const { publications } = await json(await f.app.request(`/api/projects/${projectId}/publications`));
  // Less what differs by construction: the clock's times, the stand-in's port and the client ids drawn
  // from the clock and chance (ULIDs, whose tail also names the remote project).
  const clientIds = new Set<string>(
    publications.flatMap((p: { projects: Array<{ clientId: string }> }) =>
      p.projects.map((q) => q.clientId.slice(-6).toLowerCase()),
    ),
  );
  return JSON.parse(
    JSON.stringify({ publications, remote: tm.projects }, (key, value) => {
      if (/At$/.test(key) || key === 'clientId' || key === 'baseUrl') return undefined;
      if (typeof value !== 'string') return value;
      let v = value;
      for (const id of clientIds) v = v.replaceAll(id, '<client id>');
      return v;
    }),
  );
}

/** Registers the world's imagery, scores the new region through the API, and reads back what a manager sees. */
async function scoreAndRead(f: ServerFixture, worldDir: string) {
  const { app } = f;
  const registered = await post(app, '/api/imagery', {
    name: 'demo',
    spec: { kind: 'pmtiles', path: `${worldDir}/imagery.pmtiles` },
  });
  expect(registered.status, await registered.clone().text()).toBe(201);
  const imagery = await json(registered);
  const bbox = demoNewRegionBBox(worldDir);
  const created = await post(app, '/api/projects', {
    name: 'new region',
    area: bboxPolygon(bbox),
    imageryId: imagery.id,
    runId: f.runId,
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const project = await json(created);
  const started = await post(app, `/api/projects/${project.id}/score`, {});
  expect(started.status).toBe(202);
  const job = await json(started);
  const done = await until('the scoring job', async () => {
    const j = await json(await app.request(`/api/jobs/${job.id}`));
    return j.status === 'done' || j.status === 'failed' ? j : undefined;
  });
  expect(done).toMatchObject({ status: 'done', done: project.tileCount });

  const bytes = async (path: string) => {
    const res = await app.request(path);
    expect(res.status, path).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };
  const text = async (path: string) => {
    const res = await app.request(path);
    expect(res.status, path).toBe(200);
    return res.text();
  };
  const base = `/api/projects/${project.id}`;
  // The z16 map tile over the region's centre: a few hundred of its z18 tiles.
  const centre = lonLatToTile((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, 16);
  return {
    project: { id: project.id, tileCount: project.tileCount },
    runs: (await json(await app.request('/api/runs'))).runs?.map((r: { createdAt?: string }) => ({
      ...r,
      createdAt: undefined,
    })),
    overlay: await bytes(`${base}/overlay/priority/16/${centre.x}/${centre.y}.png`),
    confidenceTile: await bytes(`${base}/overlay/confidence/16/${centre.x}/${centre.y}.png`),
    csv: await text(`${base}/exports/tiles.csv`),
    find: await json(await app.request(`${base}/exports/mapswipe-find`)),
    runLatent: await bytes(`/api/runs/${f.runId}/latent?x=1&y=2`),
    runAttributes: await bytes(`/api/runs/${f.runId}/latent/attributes`),
    projectLatent: await bytes(`${base}/latent?x=1&y=3&asOf=${asOf}`),
    projectAttributes: await bytes(`${base}/latent/attributes?asOf=${asOf}`),
    ...(await insightsOf(f)),
    trust: await trustOf(app, base),
    publication: await publishOf(f, project.id),
  };
}

/** A latent page's header (JSON after its 4-byte length) and body. */
function columns(page: Buffer): { header: unknown; body: Buffer } {
  const length = page.readUInt32LE(0);
  return { header: JSON.parse(page.subarray(4, 4 + length).toString()), body: page.subarray(4 + length) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-server-pg-'));
  chmodSync(dir, 0o755); // run as root, the server runs as the `postgres` user
  const worldDir = join(dir, 'world');
  await generateDemoWorld({ seed: 7, outDir: worldDir, scale: 'small' });
  server = await startLocalPostgres({ folder: join(dir, 'cluster') });
  pgUrl = await server.createDatabase('tilelens_http');
  for (const [store, db] of [
    ['sqlite', undefined],
    ['postgres', pgUrl],
  ] as const) {
    const tm = await startTaskingManagerStandIn({ tokens: { [TM_TOKEN]: 'manager' }, organisations: [7] });
    // The world's folder is the data folder both servers read imagery under.
    const f = await serverFixture({
      world: true,
      worldDir,
      db,
      settings: { 'data-dir': dir, 'tasking-manager-url': tm.url },
    });
    fixtures.push(f);
    standIns.set(f, tm);
    answers[store] = await scoreAndRead(f, worldDir);
  }
}, 600_000);

afterAll(async () => {
  for (const f of fixtures) await f.close();
  for (const tm of standIns.values()) await tm.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the server on a Postgres store', () => {
  it('runs on Postgres: the fixture opened a postgres:// store', () => {
    expect(fixtures[1].db.dialect).toBe('postgres');
    expect(fixtures[0].db.dialect).toBe('sqlite');
  });

  it('scores the project and serves the same overlay tiles, byte for byte', () => {
    const { sqlite, postgres } = answers;
    expect(postgres.project).toEqual(sqlite.project);
    expect(sqlite.project.tileCount).toBeGreaterThan(20);
    // A drawn tile, not an empty one.
    expect(sqlite.overlay.length).toBeGreaterThan(200);
    expect(postgres.overlay.equals(sqlite.overlay)).toBe(true);
    expect(postgres.confidenceTile.equals(sqlite.confidenceTile)).toBe(true);
  });

  it('exports the same task lists', () => {
    const { sqlite, postgres } = answers;
    expect(sqlite.csv.trimEnd().split('\r\n')).toHaveLength(sqlite.project.tileCount + 1);
    expect(postgres.csv).toBe(sqlite.csv);
    expect(sqlite.find.drafts.length).toBeGreaterThan(0);
    expect(postgres.find).toEqual(sqlite.find);
  });

  it("serves the same latent view: the run's patches and the project's tiles", () => {
    const { sqlite, postgres } = answers;
    expect(sqlite.runLatent.length).toBeGreaterThan(1000);
    expect(sqlite.projectLatent.length).toBeGreaterThan(sqlite.project.tileCount * 4);
    for (const key of ['runLatent', 'runAttributes', 'projectLatent', 'projectAttributes'] as const) {
      const [a, b] = [columns(sqlite[key]), columns(postgres[key])];
      expect(b.header, key).toEqual(a.header);
      expect(b.body.equals(a.body), key).toBe(true);
    }
    expect(postgres.runs).toEqual(sqlite.runs);
  });

  it('runs the insight passes and serves the same label-error queue, marks, label fixes and families', () => {
    const { sqlite, postgres } = answers;
    expect(sqlite.insights.evidence.patches).toBeGreaterThan(100);
    expect(sqlite.review.items.length).toBe(50);
    expect(sqlite.review.items[0].mark).toBe('label_wrong');
    expect(sqlite.reviewItem.next).toBe(2);
    for (const key of [
      'insights',
      'review',
      'reviewItem',
      'reviewCsv',
      'labelObjects',
      'labelFixes',
      'confidence',
      'intervals',
      'families',
    ] as const) {
      expect({ [key]: postgres[key] }).toEqual({ [key]: sqlite[key] });
    }
  });

  it('serves the same trust summary', () => {
    const { sqlite, postgres } = answers;
    expect(sqlite.trust.trust).toMatchObject({ projectId: sqlite.project.id });
    expect(postgres.trust).toEqual(sqlite.trust);
  });

  it('starts the server itself on a postgres:// --db, serving what the store holds', async () => {
    const settings = resolveSettings({ db: pgUrl, 'data-dir': dir, port: 0 });
    const running = await startServer({ settings, env: { TILELENS_TOKEN: TOKEN }, log: () => {} });
    try {
      expect(running.db.dialect).toBe('postgres');
      expect(await (await fetch(`${running.url}/api/health`)).json()).toMatchObject({ status: 'ok' });
      const project = await (
        await fetch(`${running.url}/api/projects/${answers.postgres.project.id}`)
      ).json();
      expect(project.counts.total).toBe(answers.postgres.project.tileCount);
    } finally {
      await running.close();
    }
  });

  it('publishes to the Tasking Manager and keeps the same record of it', () => {
    const { sqlite, postgres } = answers;
    expect(sqlite.publication.publications).toHaveLength(1);
    expect(sqlite.publication.publications[0]).toMatchObject({ target: 'tasking-manager', status: 'done' });
    expect(postgres.publication).toEqual(sqlite.publication);
  });
});
