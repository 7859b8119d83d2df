/**
 * The server tried as an attacker and as an unlucky manager would: requests that point it at itself or
 * at files it must not read, coordinates and ids written oddly, bodies too large to parse, areas too
 * large to check in one go, and a tile server that fails. Everything runs in-process or on loopback:
 * 127.0.0.2 stands in for a public tile server (the allow-list names it), 127.0.0.1 for the machine's
 * own services, which no request may reach.
 */
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, scoringContextFor } from '../../server/app.ts';
import { bboxPolygon, tileRangeBBox } from '../../server/lib/geo/tiles.ts';
import { openPMTilesSource, type PMTilesSource } from '../../server/lib/imagery/pmtiles-source.ts';
import { MAX_AREA_VERTICES } from '../../server/lib/projects/area.ts';
import { closeImagerySources } from '../../server/lib/scoring/imagery-registry.ts';
import { waitForJob } from '../../server/lib/scoring/jobs.ts';
import { iterateScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { resolveSettings } from '../../server/settings.ts';
import { auth, json, post, serverFixture, TOKEN, type ServerFixture } from './server-fixture.ts';
import { collect } from '../fixtures/collect.ts';

let f: ServerFixture;
let pm: PMTilesSource;
let upstream: Server;
let upstreamPort: number;
/** What the tilelens server itself receives over loopback (it must never be the target of a fetch). */
let self: ServerType;
let selfPort: number;
const selfHits: string[] = [];
let area: ReturnType<typeof bboxPolygon>;
let pmtilesId: number;

/** Per tile path: how many times the upstream was asked. */
const asked = new Map<string, number>();
/** Tiles of /down/ that fail while `down` is true. */
let down = true;
const SECRET = 'internal-admin-password-0451';

type Fault = 'http500' | 'html' | 'truncated' | 'stall';
const FAULTS: Fault[] = ['http500', 'html', 'truncated', 'stall'];
const faultOf = (x: number, y: number): Fault | null =>
  (x * 7 + y * 3) % 3 === 0 ? FAULTS[(x + y) % 4] : null;

async function failWith(fault: Fault, res: ServerResponse, bytes: Uint8Array): Promise<void> {
  switch (fault) {
    case 'http500':
      res.writeHead(500).end('upstream broke');
      return;
    case 'html':
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<html><body>Rate limited. ${SECRET}</body></html>`);
      return;
    case 'truncated':
      res
        .writeHead(200, { 'content-type': 'image/jpeg' })
        .end(Buffer.from(bytes.subarray(0, bytes.length >> 1)));
      return;
    case 'stall':
      // Headers, then nothing: the client's timeout has to end it.
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(Buffer.from(bytes.subarray(0, 100)));
      return;
  }
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const m = /^\/(\w+)\/(\d+)\/(\d+)\/(\d+)\.jpg$/.exec(url.pathname);
  if (url.pathname === '/to-self') {
    res.writeHead(302, { location: `http://127.0.0.1:${selfPort}/api/health` }).end();
    return;
  }
  if (!m) return void res.writeHead(404).end();
  const [kind, z, x, y] = [m[1], Number(m[2]), Number(m[3]), Number(m[4])];
  const n = (asked.get(url.pathname) ?? 0) + 1;
  asked.set(url.pathname, n);
  const tile = await pm.getTile(z, x, y);
  if (tile.status !== 'ok') return void res.writeHead(404).end();
  const fault = faultOf(x, y);
  if (kind === 'faulty' && fault && n === 1) return failWith(fault, res, tile.bytes);
  if (kind === 'down' && fault && down)
    return failWith(fault === 'stall' ? 'http500' : fault, res, tile.bytes);
  if (kind === 'html') return failWith('html', res, tile.bytes);
  if (kind === 'cut') return failWith('truncated', res, tile.bytes);
  res.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.from(tile.bytes));
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port)),
  );
}

const xyz = (kind: string, extra: Record<string, unknown> = {}) => ({
  kind: 'xyz',
  url: `http://127.0.0.2:${upstreamPort}/${kind}/{z}/{x}/{y}.jpg`,
  retries: 3,
  retryBaseMs: 5,
  timeoutMs: 400,
  ...extra,
});

async function register(name: string, spec: unknown): Promise<Response> {
  return post(f.app, '/api/imagery', { name, spec });
}

async function registered(name: string, spec: unknown): Promise<number> {
  const res = await register(name, spec);
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

async function scoreProject(name: string, imageryId: number): Promise<{ projectId: number; jobId: number }> {
  const created = await post(f.app, '/api/projects', { name, area, imageryId, runId: f.runId });
  const project = await json(created);
  expect(created.status, JSON.stringify(project)).toBe(201);
  const started = await post(f.app, `/api/projects/${project.id}/score`, {});
  const job = await json(started);
  await waitForJob(f.scoring, job.id);
  return { projectId: project.id, jobId: job.id };
}

/** No absolute server path in a body: neither the data folder nor anything under / with two parts. */
function expectNoPaths(text: string): void {
  expect(text).not.toContain(f.dir);
  expect(text).not.toMatch(/(^|[\s"'(])\/(tmp|work|home|etc|proc|var|root)\//);
}

beforeAll(async () => {
  f = await serverFixture({
    world: true,
    settings: { 'imagery-allow-hosts': '127.0.0.2', 'max-body-bytes': 4096 },
  });
  pm = await openPMTilesSource({ kind: 'pmtiles', path: join(f.worldDir, 'imagery.pmtiles') });
  upstream = createServer((req, res) => void answer(req, res));
  upstreamPort = await listen(upstream, '127.0.0.2');
  self = serve({
    fetch: (req: Request) => {
      selfHits.push(new URL(req.url).pathname);
      return f.app.fetch(req);
    },
    hostname: '127.0.0.1',
    port: 0,
  });
  await new Promise<void>((resolve) => self.once('listening', () => resolve()));
  selfPort = (self.address() as AddressInfo).port;
  const world = JSON.parse(await readFile(join(f.worldDir, 'world.json'), 'utf8'));
  const t = world.regions.new.tiles;
  // 4 × 3 tiles of the new region: small enough to score many times over.
  area = bboxPolygon(
    tileRangeBBox(18, { minX: t.minX, minY: t.minY, maxX: t.minX + 3, maxY: t.minY + 2 }, 0.01),
  );
  pmtilesId = await registered('demo archive', { kind: 'pmtiles', path: 'world/imagery.pmtiles' });
}, 600_000);

afterAll(async () => {
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
  await new Promise((resolve) => self?.close(resolve));
  await pm?.close();
  await f?.close();
});

describe('outbound requests go only where the manager meant', () => {
  it.each([
    ['http://127.0.0.1:8700/{z}/{x}/{y}.jpg', 'loopback'],
    ['http://localhost:8700/{z}/{x}/{y}.jpg', 'names this machine'],
    ['http://0.0.0.0:8700/{z}/{x}/{y}.jpg', 'unspecified'],
    ['http://2130706433/{z}/{x}/{y}.jpg', 'loopback'],
    ['http://0x7f000001/{z}/{x}/{y}.jpg', 'loopback'],
    ['http://017700000001/{z}/{x}/{y}.jpg', 'loopback'],
    ['http://[::ffff:127.0.0.1]/{z}/{x}/{y}.jpg', 'loopback'],
    ['http://[::1]:8700/{z}/{x}/{y}.jpg', 'loopback'],
    ['http://169.254.169.254/{z}/{x}/{y}', 'link-local'],
    ['http://10.0.0.1/{z}/{x}/{y}.jpg', 'private'],
    ['http://192.168.178.1/{z}/{x}/{y}.jpg', 'private'],
  ])('refuses to register %s (%s)', async (url, why) => {
    const res = await register(`ssrf ${url}`, { kind: 'xyz', url });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect((await json(res)).error.message).toContain(why);
    const list = await json(await f.app.request('/api/imagery'));
    expect(list.imagery.map((i: { name: string }) => i.name)).not.toContain(`ssrf ${url}`);
  });

  it('refuses a redirect back to this server, and the server sees no request', async () => {
    const id = await registered('redirecting', {
      kind: 'xyz',
      url: `http://127.0.0.2:${upstreamPort}/to-self?{z}/{x}/{y}`,
      retries: 0,
    });
    selfHits.length = 0;
    const res = await f.app.request(`/imagery/${id}/18/1/1.jpg`);
    expect(res.status).toBe(502);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await json(res)).error.message).toMatch(/127\.0\.0\.1 is a loopback address/);
    expect(selfHits).toEqual([]);
  });

  it('never hands on what a remote server said: it names the kind of answer', async () => {
    const id = await registered('html answers', xyz('html', { retries: 1 }));
    const res = await f.app.request(`/imagery/${id}/18/${pmTile().x}/${pmTile().y}.jpg`);
    const text = await res.text();
    expect(res.status).toBe(502);
    expect(text).toMatch(/an HTML page \(\d+ bytes\) instead of an image/);
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/Rate limited/);
  });
});

/** A tile of the test area that the archive holds. */
function pmTile(): { x: number; y: number } {
  const [w, , , n] = area.coordinates[0].reduce(
    ([a, b, c, d], [lon, lat]) => [Math.min(a, lon), Math.min(b, lat), Math.max(c, lon), Math.max(d, lat)],
    [Infinity, Infinity, -Infinity, -Infinity],
  );
  const x = Math.floor(((w + 180) / 360) * 2 ** 18) + 1;
  const lat = (n * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * 2 ** 18) + 1;
  return { x, y };
}

describe('local files only under the data folder', () => {
  let outside: string;
  beforeAll(async () => {
    outside = await mkdtemp(join(tmpdir(), 'tilelens-outside-'));
    await copyFile(join(f.worldDir, 'imagery.pmtiles'), join(outside, 'elsewhere.pmtiles'));
    await mkdir(join(f.dir, 'links'), { recursive: true });
    await symlink(join(outside, 'elsewhere.pmtiles'), join(f.dir, 'links', 'out.pmtiles'));
    await symlink(join(f.worldDir, 'imagery.pmtiles'), join(f.dir, 'links', 'in.pmtiles'));
    await symlink('/proc/self', join(f.dir, 'links', 'proc'));
    execFileSync('mkfifo', [join(f.dir, 'links', 'fifo.pmtiles')]);
  });
  afterAll(() => rm(outside, { recursive: true, force: true }));

  it('answers {"kind":"pmtiles","path":"/"} with a 4xx that says why', async () => {
    const res = await register('root', { kind: 'pmtiles', path: '/' });
    const body = await json(res);
    expect(res.status).toBe(400);
    expect(body.error.message).toMatch(/spec\.path "\/" is not usable/);
  });

  it('gives one message for a path outside, missing, a link out, a FIFO or a folder, naming it as given', async () => {
    const paths = [
      '/etc/passwd',
      '/does/not/exist.pmtiles',
      '../../etc/passwd',
      'world/../../../etc/hostname',
      join(outside, 'elsewhere.pmtiles'),
      'links/out.pmtiles',
      'links/fifo.pmtiles',
      'world',
      'nothing-here.pmtiles',
    ];
    const messages = new Set<string>();
    for (const path of paths) {
      const res = await register(`file ${path}`, { kind: 'pmtiles', path });
      expect(res.status, path).toBe(400);
      const message: string = (await json(res)).error.message;
      expect(message).toContain(`"${path}"`);
      messages.add(message.replace(`"${path}"`, '"…"'));
    }
    expect(messages.size).toBe(1);
    for (const kind of ['geotiff', 'geotiff-folder']) {
      const res = await register(`${kind} passwd`, { kind, path: '/etc' });
      expect(res.status).toBe(400);
    }
  });

  it('follows links before checking: a link that stays inside is fine', async () => {
    const id = await registered('linked inside', { kind: 'pmtiles', path: 'links/in.pmtiles' });
    const { x, y } = pmTile();
    expect((await f.app.request(`/imagery/${id}/18/${x}/${y}.jpg`)).status).toBe(200);
  });

  it('keeps tile caches under the data folder; /proc cannot hang a request', async () => {
    for (const cacheDir of [
      '/proc/self/cwd/x',
      '/proc/1',
      'links/proc/x',
      '../cache',
      join(outside, 'cache'),
      '.',
    ]) {
      const res = await register(`cache ${cacheDir}`, xyz('clean', { cacheDir }));
      expect(res.status, cacheDir).toBe(400);
      expect((await json(res)).error.message).toContain(`spec.cacheDir "${cacheDir}" is not usable`);
    }
    const id = await registered('cached', xyz('clean', { cacheDir: 'caches/clean' }));
    const { x, y } = pmTile();
    expect((await f.app.request(`/imagery/${id}/18/${x}/${y}.jpg`)).status).toBe(200);
    expect((await readdir(join(f.dir, 'caches', 'clean'))).length).toBe(1);
  });

  it('opens a folder the imagery-dirs setting names, and no other', async () => {
    const settings = resolveSettings({ ...f.settings, 'imagery-dirs': outside });
    const scoring = scoringContextFor(f.db, settings);
    const app = createApp({ db: f.db, settings, scoring, token: TOKEN });
    try {
      const ok = await post(app, '/api/imagery', {
        name: 'named folder',
        spec: { kind: 'pmtiles', path: join(outside, 'elsewhere.pmtiles') },
      });
      expect(ok.status).toBe(201);
      const row = await json(ok);
      expectNoPaths(JSON.stringify(row));
      const no = await post(app, '/api/imagery', {
        name: 'etc',
        spec: { kind: 'pmtiles', path: '/etc/hosts' },
      });
      expect(no.status).toBe(400);
    } finally {
      await app.close();
      await closeImagerySources(scoring);
      scoring.outbound?.close();
    }
  });
});

describe('client mistakes are 4xx with the reason; server faults 5xx without paths', () => {
  it('answers /imagery/ID/27/0/0.jpg with 400 "zoom out of range", no path', async () => {
    const res = await f.app.request(`/imagery/${pmtilesId}/27/0/0.jpg`);
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).toMatch(/zoom 27 is out of range: tiles run from zoom 0 to 24/);
    expectNoPaths(text);
  });

  it.each([
    ['x past the grid', '/18/262144/1.jpg'],
    ['y past the grid', '/18/1/262144.jpg'],
    ['a negative x', '/18/-1/1.jpg'],
    ['a hex y', '/18/1/0x1.jpg'],
    ['a signed zoom', '/+18/1/1.jpg'],
    ['an exponent', '/1e1/1/1.jpg'],
    ['a blank', '/18/%20/1.jpg'],
    ['a leading zero', '/018/1/1.jpg'],
    ['another extension', '/18/1/1.gif'],
  ])('refuses %s with 400', async (_what, tail) => {
    const res = await f.app.request(`/imagery/${pmtilesId}${tail}`);
    expect(res.status).toBe(400);
    expectNoPaths(await res.text());
  });

  it('answers a zoom the archive does not hold with 404 (tile clients draw nothing)', async () => {
    expect((await f.app.request(`/imagery/${pmtilesId}/5/1/1.jpg`)).status).toBe(404);
    expect((await f.app.request(`/imagery/${pmtilesId}/24/1/1.jpg`)).status).toBe(404);
  });

  it.each(['0x1', '+1', '1e1', '%20', '01', '-1', '1.0', '9007199254740993', '0'])(
    'refuses the id %s everywhere',
    async (id) => {
      for (const path of [
        `/api/projects/${id}`,
        `/api/jobs/${id}`,
        `/api/runs/${id}`,
        `/api/imagery/${id}`,
        `/imagery/${id}/18/1/1.jpg`,
        `/api/projects/${id}/overlays`,
      ]) {
        const res = await f.app.request(path);
        expect(res.status, path).toBe(400);
      }
      expect((await f.app.request(`/api/runs?limit=${id}`)).status).toBe(400);
      expect((await post(f.app, `/api/projects/${id}/retry-failed`, {})).status).toBe(400);
    },
  );

  it('reads task ids as strictly as ids', async () => {
    for (const taskId of ['018-1-1', '18-01-1', '18-1-0x1', '18-+1-1', '18-1-1e1', '18-1']) {
      const res = await f.app.request(`/api/projects/1/tiles/${taskId}`);
      expect(res.status, taskId).toBe(400);
    }
  });

  it('refuses an archive that is not one by its name only; one damaged later is a 5xx without a path', async () => {
    await writeFile(join(f.dir, 'not-an-archive.pmtiles'), 'hello '.repeat(40));
    const bad = await register('not pmtiles', { kind: 'pmtiles', path: 'not-an-archive.pmtiles' });
    const badText = await bad.text();
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    expect(badText).toMatch(/not-an-archive\.pmtiles is not a PMTiles v3 archive/);
    expectNoPaths(badText);

    await copyFile(join(f.worldDir, 'imagery.pmtiles'), join(f.dir, 'fragile.pmtiles'));
    const id = await registered('fragile', { kind: 'pmtiles', path: 'fragile.pmtiles' });
    await truncate(join(f.dir, 'fragile.pmtiles'), 1000);
    const res = await f.app.request(`/imagery/${id}/18/${pmTile().x}/${pmTile().y}.jpg`);
    const text = await res.text();
    expect(res.status).toBe(503);
    expectNoPaths(text);
    expect(f.logs.join('\n')).toMatch(/fragile\.pmtiles is truncated/);
  });
});

describe('bounded work per request', () => {
  it('refuses a body past max-body-bytes with 413 before parsing it, also without a content length', async () => {
    const big = { name: 'x'.repeat(5000), spec: { kind: 'pmtiles', path: 'world/imagery.pmtiles' } };
    const res = await post(f.app, '/api/imagery', big);
    expect(res.status).toBe(413);
    expect((await json(res)).error.message).toMatch(/larger than 4,096 bytes/);
    const chunks = [new TextEncoder().encode('{"name":"'), new Uint8Array(8000).fill(120)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const chunked = await f.app.request('/api/imagery', {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    // Without the token, nothing is read at all.
    expect((await post(f.app, '/api/imagery', big, {})).status).toBe(401);
  });

  it('refuses an imagery URL past 2,048 characters with the reason, and stores nothing', async () => {
    // Within the body limit, so the spec itself must say no: a URL is stored and shown in every export.
    const url = `https://tiles.example.org/${'a'.repeat(2100)}/{z}/{x}/{y}.jpg`;
    const res = await register('long url', { kind: 'xyz', url });
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toMatch(/spec\.url: .*2048/);
    const list = await json(await f.app.request('/api/imagery'));
    expect(list.imagery.map((i: { name: string }) => i.name)).not.toContain('long url');
  });

  it('refuses an area body past max-area-bytes, and an area past the vertex limit with the reason', async () => {
    const huge = `{"name":"huge","imageryId":1,"runId":1,"area":[${' '.repeat(9 * 1024 * 1024)}]}`;
    expect((await post(f.app, '/api/projects', huge)).status).toBe(413);
    const res = await post(f.app, '/api/projects', {
      name: 'many vertices',
      area: circle(MAX_AREA_VERTICES + 1),
      imageryId: pmtilesId,
      runId: f.runId,
    });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ code: 'area-too-many-vertices' });
  });

  it('answers /api/health while a 100,000-vertex project is checked and created', async () => {
    const body = {
      name: 'large boundary',
      area: circle(MAX_AREA_VERTICES - 1),
      imageryId: pmtilesId,
      runId: f.runId,
    };
    let created = false;
    const creating = Promise.resolve(post(f.app, '/api/projects', body)).then((r) => {
      created = true;
      return r;
    });
    let answered = 0;
    let beforeCreated = 0;
    while (!created) {
      // One turn of the event loop per request: the check must hand the thread back for these to run.
      await new Promise((resolve) => setImmediate(resolve));
      const health = await f.app.request('/api/health');
      expect(health.status).toBe(200);
      answered++;
      if (!created) beforeCreated++;
    }
    const res = await creating;
    expect(res.status, JSON.stringify(await json(res.clone()))).toBe(201);
    // Each health answer needed a turn of the event loop while the area was being checked.
    expect(beforeCreated).toBeGreaterThanOrEqual(5);
    expect(answered).toBeGreaterThanOrEqual(beforeCreated);
  });

  it('refuses a zero-area area and takes 60 polygons (MapSwipe’s 20 are its export’s business)', async () => {
    const line = JSON.parse(
      await readFile(new URL('../fixtures/areas/refused/collinear.geojson', import.meta.url), 'utf8'),
    );
    const flat = await post(f.app, '/api/projects', {
      name: 'flat',
      area: line,
      imageryId: pmtilesId,
      runId: f.runId,
    });
    expect(flat.status).toBe(400);
    expect((await json(flat)).error.code).toBe('area-empty');
    const [w, s] = area.coordinates[0][0];
    const parts = Array.from({ length: 60 }, (_, i) => {
      const lon = w + (i % 10) * 0.0002;
      const lat = s + Math.floor(i / 10) * 0.0002;
      return bboxPolygon([lon, lat, lon + 0.0001, lat + 0.0001]).coordinates;
    });
    const many = await post(f.app, '/api/projects', {
      name: 'sixty',
      area: { type: 'MultiPolygon', coordinates: parts },
      imageryId: pmtilesId,
      runId: f.runId,
    });
    expect(many.status, JSON.stringify(await json(many.clone()))).toBe(201);
    const project = await json(many);
    expect(project.area.features).toHaveLength(60);
  });
});

function circle(vertices: number) {
  const n = vertices - 1;
  const ring = Array.from({ length: n }, (_, i) => [
    33.7 + 0.02 * Math.cos((2 * Math.PI * i) / n),
    -13.9 + 0.02 * Math.sin((2 * Math.PI * i) / n),
  ]);
  return { type: 'Polygon', coordinates: [[...ring, ring[0]]] };
}

describe('faults that heal', () => {
  let clean: Map<string, number>;

  beforeAll(async () => {
    const { projectId } = await scoreProject('clean, from the archive', pmtilesId);
    clean = new Map(
      (await collect(iterateScoredTiles(f.scoring, projectId))).map((t) => [t.taskId, t.priority]),
    );
    expect(clean.size).toBe(12);
  }, 300_000);

  it('retries 500s, HTML, truncated JPEGs and stalls: every tile scored, scores equal to a clean run', async () => {
    const id = await registered('faulty upstream', xyz('faulty', { cacheDir: 'caches/faulty' }));
    const { projectId, jobId } = await scoreProject('faulty', id);
    const job = await json(await f.app.request(`/api/jobs/${jobId}`));
    expect(job).toMatchObject({ status: 'done', done: 12, failed: 0 });
    const tiles = await collect(iterateScoredTiles(f.scoring, projectId));
    expect(tiles.map((t) => t.status)).toEqual(new Array(12).fill('scored'));
    for (const t of tiles)
      expect(Math.abs(t.priority - clean.get(t.taskId)!), t.taskId).toBeLessThanOrEqual(2e-6);
    const kinds = new Set(tiles.filter((t) => faultOf(t.x, t.y)).map((t) => faultOf(t.x, t.y)));
    expect(kinds.size).toBeGreaterThanOrEqual(3);
    for (const t of tiles) expect(t.attempts, t.taskId).toBe(faultOf(t.x, t.y) ? 2 : 1);
    // Only whole images reached the cache.
    for (const shard of await readdir(join(f.dir, 'caches', 'faulty'))) {
      for (const file of await readdir(join(f.dir, 'caches', 'faulty', shard))) {
        await expect(
          sharp(join(f.dir, 'caches', 'faulty', shard, file), { failOn: 'error' })
            .raw()
            .toBuffer(),
        ).resolves.toBeDefined();
      }
    }
  });

  it('keeps failures with their reason and attempts, never serves or caches them, and "retry failed" heals them', async () => {
    down = true;
    const id = await registered('down upstream', xyz('down', { retries: 1, cacheDir: 'caches/down' }));
    const { projectId } = await scoreProject('down', id);
    const project = await json(await f.app.request(`/api/projects/${projectId}`));
    const failing = (await collect(iterateScoredTiles(f.scoring, projectId))).filter(
      (t) => t.status !== 'scored',
    );
    expect(failing.length).toBeGreaterThan(0);
    expect(project.counts.failed + project.counts.undecodable).toBe(failing.length);
    for (const t of failing) {
      expect(t.error, t.taskId).toMatch(/gave up after 2 attempts/);
      expect(t.attempts).toBe(2);
      expectNoPaths(t.error!);
      expect(t.error).not.toContain(SECRET);
    }
    const one = failing[0];
    const served = await f.app.request(`/imagery/${id}/18/${one.x}/${one.y}.jpg`);
    expect(served.status).toBe(502);
    expect(served.headers.get('cache-control')).toBe('no-store');

    down = false;
    const retry = await post(f.app, `/api/projects/${projectId}/retry-failed`, {});
    expect(retry.status).toBe(202);
    const queued = await json(retry);
    expect(queued).toMatchObject({ mode: 'retry', total: failing.length });
    const job = await waitForJob(f.scoring, queued.id);
    expect(job).toMatchObject({ status: 'done', done: failing.length, failed: 0 });
    const after = await json(await f.app.request(`/api/projects/${projectId}`));
    expect(after.counts).toMatchObject({ total: 12, scored: 12, failed: 0, undecodable: 0 });
    for await (const t of iterateScoredTiles(f.scoring, projectId)) {
      expect(Math.abs(t.priority - clean.get(t.taskId)!), t.taskId).toBeLessThanOrEqual(2e-6);
      if (failing.some((ft) => ft.taskId === t.taskId)) expect(t.attempts).toBe(3);
    }
    expect((await f.app.request(`/imagery/${id}/18/${one.x}/${one.y}.jpg`)).status).toBe(200);
    const again = await post(f.app, `/api/projects/${projectId}/retry-failed`, {});
    expect(again.status).toBe(409);
    expect((await json(again)).error.code).toBe('nothing-to-retry');
  });

  it('never serves a truncated JPEG, not even once', async () => {
    const id = await registered('cut upstream', xyz('cut', { retries: 1, cacheDir: 'caches/cut' }));
    const { x, y } = pmTile();
    for (let i = 0; i < 2; i++) {
      const res = await f.app.request(`/imagery/${id}/18/${x}/${y}.jpg`);
      expect(res.status).toBe(502);
      expect((await json(res)).error.message).toMatch(/damaged or cut short/);
    }
    await expect(readdir(join(f.dir, 'caches', 'cut'))).resolves.toEqual([]);
  });
});
