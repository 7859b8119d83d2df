/**
 * Publishing end to end against stand-ins for MapSwipe's backend and the Tasking Manager on loopback
 * (tests/support/): the dry run's exact documents validate against MapSwipe's schema, each Find area
 * arrives as a GraphQL multipart upload, a Validate project fetches the objects tilelens serves (most
 * urgent first), a failure half-way — the call refused before it did anything, or done and its answer
 * lost — is resumed without a duplicate, statuses are polled, and no credential reaches the database,
 * the log or an answer. A calibration sample is published through the same path.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticProject } from '../fixtures/synthetic-project.ts';
import { createApp, type TilelensApp } from '../../server/app.ts';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { closeImagerySources } from '../../server/lib/scoring/imagery-registry.ts';
import { resolveSettings } from '../../server/settings.ts';
import { serveOnLoopback, type LoopbackServer } from '../support/loopback.ts';
import { startMapswipeStandIn, type MapswipeStandIn } from '../support/mapswipe-stand-in.ts';
import {
  startTaskingManagerStandIn,
  type TaskingManagerStandIn,
} from '../support/tasking-manager-stand-in.ts';
import { pragmaRows, sqlGet } from '../../server/lib/db/store-probe.ts';

const TOKEN = 'publish-test-manager-token-0123456789';
const PASSWORD = 'correct horse battery staple';
const TM_TOKEN = 'tm-token-0123456789';
const FIREBASE = 'firebase-id-token-abcdef0123456789';
const SCHEMA = buildSchema(
  readFileSync(new URL('../support/mapswipe-schema.graphql', import.meta.url), 'utf8'),
);

let dir: string;
let db: DatabaseHandle;
let scoring: ScoringContext;
let app: TilelensApp;
let server: LoopbackServer;
let base: string;
let ms: MapswipeStandIn;
let tm: TaskingManagerStandIn;
let projectId: number;
const logs: string[] = [];

beforeAll(async () => {
  ms = await startMapswipeStandIn({
    users: { manager: PASSWORD },
    firebaseTokens: { [FIREBASE]: 'manager' },
  });
  tm = await startTaskingManagerStandIn({ tokens: { [TM_TOKEN]: 'manager' }, organisations: [7] });
  dir = mkdtempSync(join(tmpdir(), 'tilelens-publish-'));
  db = await openDatabase(join(dir, 'tilelens.db'));
  scoring = { db, dataDir: dir, log: (m) => logs.push(m) };
  // 30 × 30 synthetic tiles with a town in the middle: every tier, footprints on the likely tiles.
  projectId = (
    await createSyntheticProject(db, {
      side: 30,
      origin: { x: 150_100, y: 120_100 },
      name: 'Flood response',
    })
  ).projectId;
  // The app is served on a real port: the MapSwipe stand-in fetches the Validate objects from it.
  let handler: (req: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503 });
  server = await serveOnLoopback((req) => handler(req));
  base = server.base;
  const settings = resolveSettings({
    'data-dir': dir,
    db: join(dir, 'tilelens.db'),
    'public-url': base,
    'mapswipe-url': ms.url,
    'tasking-manager-url': tm.url,
  });
  app = createApp({ db, settings, scoring, token: TOKEN, log: (m) => logs.push(m) });
  handler = (req) => app.fetch(req);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await ms?.close();
  await tm?.close();
  await app?.close();
  if (scoring) await closeImagerySources(scoring);
  await db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const post = (path: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

const MS_REQUEST = {
  organisation: '1',
  region: 'Lilongwe',
  projectNumber: 3,
  find: { tiers: ['high', 'medium'], groupSize: 120, verificationNumber: 3 },
  validate: { objects: 'model', groupSize: 25, verificationNumber: 3 },
};

/** Everything that persists: the database file and its WAL, and every log line. */
function persisted(): string {
  const files = readdirSync(dir).filter((f) => f.startsWith('tilelens.db'));
  return files.map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n') + logs.join('\n');
}

async function storedCount(table: string): Promise<number> {
  return (await sqlGet<{ n: number }>(db, `select count(*) as n from ${table}`))!.n;
}

describe('publish to MapSwipe', () => {
  let plan: any;

  it('plans without credentials in a dry run: exact documents and variables, nothing sent or stored', async () => {
    const res = await post(`/api/projects/${projectId}/publish/mapswipe`, { ...MS_REQUEST, dryRun: true });
    expect(res.status).toBe(200);
    plan = await res.json();
    expect(plan.target).toBe('mapswipe');
    expect(plan.baseUrl).toBe(ms.url);
    expect(plan.projects.map((p: any) => p.key)).toEqual(['find:high', 'find:medium', 'validate']);
    for (const p of plan.projects) {
      const ops = p.steps.map((s: any) => s.operation);
      expect(ops).toEqual(
        p.kind === 'FIND'
          ? ['createProject', 'createProjectAsset', 'updateProject', 'updateProjectStatus']
          : ['createProject', 'updateProject', 'updateProjectStatus'],
      );
      for (const s of p.steps) expect(validate(SCHEMA, parse(s.query))).toEqual([]);
      expect(p.steps[0].variables.data.clientId).toBe(p.clientId);
    }
    const find = plan.projects[0];
    const upload = find.steps[1].upload;
    expect(upload.path).toBe('variables.data.file');
    expect(find.steps[1].variables.data.file).toBeNull();
    const aoi = JSON.parse(upload.content);
    expect(aoi.type).toBe('FeatureCollection');
    expect(aoi.features.length).toBeGreaterThan(0);
    expect(aoi.features.length).toBeLessThanOrEqual(20);
    const specifics = find.steps[2].variables.data.projectTypeSpecifics;
    expect(Object.keys(specifics)).toEqual(['find']);
    expect(specifics.find.tileServerProperty).toMatchObject({
      name: 'CUSTOM',
      custom: {
        url: expect.stringMatching(new RegExp(`^${base}/imagery/\\d+/\\{z\\}/\\{x\\}/\\{y\\}\\.jpg$`)),
      },
    });
    expect(specifics.find.zoomLevel).toBe(18);
    // The published project says what its figures rest on, as the downloaded drafts do.
    const drafts = await (await app.request(`/api/projects/${projectId}/exports/mapswipe-find`)).json();
    const promise = drafts.drafts[0].draft.projectDetails.match(/Figures [^.]+\./)?.[0];
    expect(promise).toBeTruthy();
    expect(find.steps[0].variables.data.description).toContain(promise);
    const validateSpecifics = plan.projects[2].steps[1].variables.data.projectTypeSpecifics.validate;
    expect(validateSpecifics.objectSource).toEqual({
      sourceType: 'OBJECT_GEOJSON_URL',
      objectGeojsonUrl: `${base}/api/projects/${projectId}/exports/mapswipe-validate.geojson`,
    });
    expect(plan.projects[2].summary.objects).toBeGreaterThan(0);
    expect(ms.calls).toHaveLength(0);
    expect(await storedCount('publications')).toBe(0);
  });

  it('refuses to publish without credentials, and records a refused login as failed with nothing made', async () => {
    expect((await post(`/api/projects/${projectId}/publish/mapswipe`, MS_REQUEST)).status).toBe(400);
    const res = await post(`/api/projects/${projectId}/publish/mapswipe`, {
      ...MS_REQUEST,
      credentials: { username: 'manager', password: 'wrong password' },
    });
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.error.code).toBe('remote-auth');
    expect(JSON.stringify(body)).not.toContain('wrong password');
    expect(ms.projects).toHaveLength(0);
    const pubs = await (await fetch(`${base}/api/projects/${projectId}/publications`)).json();
    expect(pubs.publications).toHaveLength(1);
    expect(pubs.publications[0]).toMatchObject({ status: 'failed', target: 'mapswipe' });
    expect(
      pubs.publications[0].projects.every((p: any) => p.stage === 'planned' && p.remoteId === null),
    ).toBe(true);
  });

  it('will not start a second publication while one is unfinished', async () => {
    const res = await post(`/api/projects/${projectId}/publish/mapswipe`, {
      ...MS_REQUEST,
      credentials: { username: 'manager', password: PASSWORD },
    });
    expect(res.status).toBe(409);
    expect((await res.json()).error.code).toBe('unfinished-publication');
  });

  it('resumes after an answer lost half-way and after a refused call, making nothing twice', async () => {
    const pubId = (await (await fetch(`${base}/api/projects/${projectId}/publications`)).json())
      .publications[0].id;
    const creds = { username: 'manager', password: PASSWORD };
    // find:high's updateProject is done by the backend but its answer is lost.
    const before = ms.calls.length;
    ms.failOn = { call: 1, operation: 'UpdateProject', mode: 'after' };
    let res = await post(`/api/publications/${pubId}/resume`, { credentials: creds });
    expect(res.status).toBe(502);
    let view = await (await fetch(`${base}/api/publications/${pubId}`)).json();
    expect(view.status).toBe('failed');
    expect(view.projects[0]).toMatchObject({ key: 'find:high', stage: 'asset-uploaded' });
    expect(view.projects[0].remoteId).toBeTruthy();
    // Login, then (resuming) a look-up before each creation: topic, create, assets, upload, update.
    expect(ms.calls.slice(before).map((c) => c.operation)).toEqual([
      'Login',
      'ProjectsByTopic',
      'CreateProject',
      'ProjectAssets',
      'CreateProjectAsset',
      'UpdateProject',
    ]);

    // The next one: updateProjectStatus of find:high refused before the backend did anything.
    ms.failOn = { call: 1, operation: 'UpdateProjectStatus', mode: 'before' };
    res = await post(`/api/publications/${pubId}/resume`, { credentials: creds });
    expect(res.status).toBe(502);
    view = await (await fetch(`${base}/api/publications/${pubId}`)).json();
    expect(view.projects[0].stage).toBe('configured');

    ms.failOn = undefined;
    res = await post(`/api/publications/${pubId}/resume`, { credentials: creds });
    expect(res.status).toBe(201);
    view = await res.json();
    expect(view.status).toBe('done');
    expect(
      view.projects.every((p: any) => p.stage === 'submitted' && p.remoteStatus === 'READY_TO_PROCESS'),
    ).toBe(true);

    // Exactly one remote project per planned one, each with the clientId planned for it; one area per Find.
    expect(ms.projects.map((p) => p.clientId).sort()).toEqual(
      view.projects.map((p: any) => p.clientId).sort(),
    );
    expect(ms.assets).toHaveLength(2);
    expect(new Set(ms.assets.map((a) => a.clientId)).size).toBe(2);
    for (const p of view.projects) {
      const remote = ms.projects.find((r) => r.id === p.remoteId)!;
      expect(remote.clientId).toBe(p.clientId);
      if (remote.projectType === 'FIND') {
        const asset = ms.assets.find((a) => a.projectId === remote.id)!;
        expect(remote.specifics!.find.aoiGeometry).toBe(asset.id);
        expect(asset.contentType).toBe('application/geo+json');
        // The area arrived byte for byte as the dry run showed it.
        const planned = plan.projects.find((x: any) => x.key === p.key).steps[1].upload.content;
        expect(asset.content).toBe(planned);
      }
    }
    expect(ms.calls.filter((c) => c.operation === 'CreateProjectAsset').every((c) => c.multipart)).toBe(true);
  });

  it('lets MapSwipe process the projects: the Validate objects come from tilelens, most urgent first', async () => {
    await ms.settled();
    for (const p of ms.projects)
      expect([p.projectType, p.status, p.statusMessage]).toEqual([p.projectType, 'PROCESSED', null]);
    const validate = ms.projects.find((p) => p.projectType === 'VALIDATE')!;
    const served = await (
      await fetch(`${base}/api/projects/${projectId}/exports/mapswipe-validate.geojson`)
    ).json();
    expect(validate.tasks).toBe(served.features.length);
    const priorityOf = new Map<string, number>();
    const tiles = await (await fetch(`${base}/api/projects/${projectId}/tiles?limit=5000`)).json();
    for (const f of tiles.features) priorityOf.set(f.properties.task_id, f.properties.priority);
    const order = validate.firstTaskIds!.map((t) => priorityOf.get(t)!);
    expect(order.length).toBeGreaterThan(5);
    for (let i = 1; i < order.length; i++) expect(order[i]).toBeLessThanOrEqual(order[i - 1]);
  });

  it('polls the statuses back (signing in with a Firebase token this time)', async () => {
    const pubId = (await (await fetch(`${base}/api/projects/${projectId}/publications`)).json())
      .publications[0].id;
    const res = await post(`/api/publications/${pubId}/poll`, { credentials: { firebaseToken: FIREBASE } });
    expect(res.status).toBe(200);
    const view = await res.json();
    expect(view.projects.map((p: any) => p.remoteStatus)).toEqual(['PROCESSED', 'PROCESSED', 'PROCESSED']);
    expect(view.projects.every((p: any) => p.polledAt)).toBe(true);
    expect(
      (await post(`/api/publications/${pubId}/resume`, { credentials: { firebaseToken: FIREBASE } })).status,
    ).toBe(409);
  });

  it('publishes a calibration sample as Find projects through the same path', async () => {
    const sample = await (
      await post(`/api/projects/${projectId}/calibration-samples`, { size: 40, seed: 3 })
    ).json();
    const res = await post(`/api/projects/${projectId}/publish/mapswipe`, {
      organisation: '1',
      region: 'Lilongwe',
      projectNumber: 4,
      find: false,
      sample: { sampleId: sample.id },
      credentials: { username: 'manager', password: PASSWORD },
    });
    expect(res.status).toBe(201);
    const view = await res.json();
    expect(view.projects.length).toBeGreaterThan(0);
    expect(
      view.projects.every((p: any) => p.key.startsWith(`sample:${sample.id}:`) && p.stage === 'submitted'),
    ).toBe(true);
    const tilesInAreas = view.projects.reduce((s: number, p: any) => s + p.summary.tiles, 0);
    expect(tilesInAreas).toBeGreaterThanOrEqual(40);
  });

  it('never stores, logs or answers with a credential', async () => {
    const sessionIds = ms.received.flatMap((r) =>
      [...r.matchAll(/sessionid=([0-9a-f]{32})/g)].map((m) => m[1]),
    );
    const csrf = ms.received.flatMap((r) => [...r.matchAll(/x-csrftoken: (\S+)/g)].map((m) => m[1]));
    expect(sessionIds.length).toBeGreaterThan(0);
    expect(csrf.length).toBeGreaterThan(0);
    await pragmaRows(db, 'wal_checkpoint(PASSIVE)');
    const text = persisted();
    for (const secret of [PASSWORD, 'wrong password', FIREBASE, ...new Set(sessionIds), ...new Set(csrf)]) {
      expect(text).not.toContain(secret);
    }
    const answers = JSON.stringify(
      await (await fetch(`${base}/api/projects/${projectId}/publications`)).json(),
    );
    expect(answers).not.toContain(PASSWORD);
    expect(answers).not.toContain(FIREBASE);
  });
});

describe('publish to the Tasking Manager', () => {
  const REQUEST = { organisation: 7, mode: 'clustered', tiers: ['high', 'medium', 'low'] };
  let plan: any;

  it('plans a draft with arbitrary tasks carrying priority and confidence, priority areas, annotations', async () => {
    const res = await post(`/api/projects/${projectId}/publish/tasking-manager`, {
      ...REQUEST,
      dryRun: true,
    });
    expect(res.status).toBe(200);
    plan = await res.json();
    const steps = plan.projects[0].steps;
    expect(steps.map((s: any) => `${s.method} ${s.path}`)).toEqual([
      'POST /api/v2/projects/',
      'PATCH /api/v2/projects/{projectId from createDraft}/',
      'POST /api/v2/projects/{projectId from createDraft}/annotations/tilelens/',
    ]);
    const draft = steps[0].body;
    expect(draft.arbitraryTasks).toBe(true);
    expect(draft.organisation).toBe(7);
    for (const f of draft.areaOfInterest.features) {
      expect(f.properties.extra_properties).toMatchObject({
        tilelens_priority: expect.any(Number),
        tilelens_confidence: expect.any(Number),
      });
    }
    expect(steps[1].body.priorityAreas.every((g: any) => g.type === 'Polygon')).toBe(true);
    expect(tm.calls).toHaveLength(0);
  });

  it('adopts the draft whose answer was lost instead of making another, then finishes', async () => {
    tm.failOn = { call: 1, mode: 'after' };
    let res = await post(`/api/projects/${projectId}/publish/tasking-manager`, {
      ...REQUEST,
      credentials: { token: TM_TOKEN },
    });
    expect(res.status).toBe(502);
    expect(tm.projects).toHaveLength(1);
    const pubId = (
      await (await fetch(`${base}/api/projects/${projectId}/publications`)).json()
    ).publications.find((p: any) => p.target === 'tasking-manager').id;
    // The annotations call is refused before it does anything.
    // Resuming: the search that finds the draft, the priority areas, then the annotations.
    tm.failOn = { call: 3, mode: 'before' };
    res = await post(`/api/publications/${pubId}/resume`, { credentials: { token: TM_TOKEN } });
    expect(res.status).toBe(502);
    tm.failOn = undefined;
    res = await post(`/api/publications/${pubId}/resume`, { credentials: { token: TM_TOKEN } });
    expect(res.status).toBe(201);
    const view = await res.json();
    expect(view.projects[0]).toMatchObject({
      stage: 'annotated',
      remoteId: String(tm.projects[0].projectId),
    });
    expect(tm.projects).toHaveLength(1);
    const remote = tm.projects[0];
    expect(remote.arbitraryTasks).toBe(true);
    const planned = plan.projects[0].steps[0].body.areaOfInterest.features;
    expect(remote.tasks).toHaveLength(planned.length);
    expect(remote.priorityAreas.length).toBeGreaterThan(0);
    // Each task keeps its scores and carries one annotation with the same priority.
    for (const t of remote.tasks) {
      const a = t.annotations.tilelens;
      expect(a).toBeDefined();
      expect((a.properties as any).priority).toBe((t.properties.extra_properties as any).tilelens_priority);
    }
    // Tasks are numbered most urgent first.
    const priorities = remote.tasks.map((t) => (t.properties.extra_properties as any).tilelens_priority);
    for (let i = 1; i < priorities.length; i++) expect(priorities[i]).toBeLessThanOrEqual(priorities[i - 1]);
  });

  it('refuses a wrong token and never stores the right one', async () => {
    const res = await post(`/api/projects/${projectId}/publish/tasking-manager`, {
      ...REQUEST,
      credentials: { token: 'not-a-token' },
    });
    expect(res.status).toBe(422);
    await pragmaRows(db, 'wal_checkpoint(PASSIVE)');
    expect(persisted()).not.toContain(TM_TOKEN);
  });
});

describe('fAIr predictions over the API', () => {
  it('takes a prediction file larger than an ordinary request body, read under the upload limit', async () => {
    // One polygon in the middle of each of 600 project tiles: well past max-body-bytes (64 KiB by default).
    const features = [];
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 20; j++) {
        const [w, s, e, n] = tileBounds(18, 150_100 + i, 120_100 + j);
        const [dx, dy] = [(e - w) / 4, (n - s) / 4];
        const ring = [
          [w + dx, s + dy],
          [e - dx, s + dy],
          [e - dx, n - dy],
          [w + dx, n - dy],
          [w + dx, s + dy],
        ];
        features.push({
          type: 'Feature',
          properties: { confidence: 0.5 + ((i + j) % 5) / 10 },
          geometry: { type: 'Polygon', coordinates: [ring] },
        });
      }
    }
    const body = JSON.stringify({ type: 'FeatureCollection', features });
    expect(body.length).toBeGreaterThan(65_536);
    const res = await fetch(`${base}/api/projects/${projectId}/fair?name=large`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/geo+json' },
      body,
    });
    expect(res.status).toBe(201);
    const summary = await res.json();
    expect([summary.features, summary.stored, summary.outside, summary.tiles]).toEqual([600, 600, 0, 600]);
  });
});

describe('ids in publishing paths', () => {
  it('are read strictly: another spelling of an id names nothing', async () => {
    for (const path of [
      '/api/publications/0x1',
      '/api/publications/01',
      `/api/projects/${projectId}e0/publications`,
      `/api/projects/+${projectId}/fair`,
      `/api/projects/${projectId}/fair/1e0/tiles`,
    ]) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status]).toEqual([path, 400]);
    }
    expect((await fetch(`${base}/api/projects/${projectId}/publications`)).status).toBe(200);
  });
});
