/**
 * Overlay pan benchmark: a synthetic 200k-tile project (448 × 448 z18 tiles) served in-process, the plugin
 * demo page in headless Chromium, and a scripted sequence of pans at zoom 12, 14 and 16. Reports per pan
 * the overlay / vector requests, bytes, and the server's time per overlay tile (cold render vs cache),
 * against what one GeoJSON of the whole grid would cost (measured per feature on the tiles route).
 *
 *   npx tsx scripts/bench/ui-overlay.ts [--side 448] [--json]
 *
 * Software WebGL (no GPU here) inflates frame times; request counts and bytes do not depend on it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type Page } from 'playwright-core';
import { createSyntheticProject, syntheticServer } from '../../tests/fixtures/synthetic-project.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../lib/headless-chromium.ts';

const { values } = parseArgs({
  options: { side: { type: 'string', default: '448' }, json: { type: 'boolean', default: false } },
});
const side = Number(values.side);
const CHROMIUM = CHROMIUM_PATH;
if (!existsSync(CHROMIUM)) {
  console.error(
    'ui-overlay: /usr/bin/chromium is missing; install it (scripts/setup.sh --browser) and rerun',
  );
  process.exit(2);
}

const s = await syntheticServer();
let t = performance.now();
const project = await createSyntheticProject(s.db, { side, name: `bench ${side}²` });
const createSeconds = (performance.now() - t) / 1000;

interface Served {
  path: string;
  ms: number;
  bytes: number;
  cache: string | null;
}
let served: Served[] = [];
const fetchTimed = async (req: Request): Promise<Response> => {
  const started = performance.now();
  const res = await s.app.fetch(req);
  const path = new URL(req.url).pathname;
  if (path.includes('/overlay/') || path.includes('/vector/')) {
    const body = res.body ? new Uint8Array(await res.arrayBuffer()) : new Uint8Array();
    served.push({
      path,
      ms: performance.now() - started,
      bytes: body.length,
      cache: res.headers.get('x-tilelens-cache'),
    });
    return new Response(res.status === 304 ? null : body, { status: res.status, headers: res.headers });
  }
  return res;
};
const http = await new Promise<ServerType>((resolve) => {
  const srv = serve({ fetch: fetchTimed, hostname: '127.0.0.1', port: 0 }, () => resolve(srv));
});
const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

// What loading the whole grid as GeoJSON would cost: bytes per feature from the capped tiles route.
const sample = await s.app.request(`/api/projects/${project.projectId}/tiles?limit=2000`);
const sampleBytes = (await sample.arrayBuffer()).byteLength;
const wholeGridBytes = Math.round((sampleBytes / 2000) * project.tiles);

const profile = mkdtempSync(join(tmpdir(), 'tilelens-bench-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  viewport: { width: 1280, height: 800 },
  args: CHROMIUM_ARGS,
});
const page: Page = browser.pages()[0] ?? (await browser.newPage());

// A string, not a function: tsx's transform names inner functions with a helper the page lacks.
const IDLE = `new Promise((resolve) => {
  const started = performance.now();
  const map = window.tilelensDemo.map;
  const finish = () => resolve(performance.now() - started);
  if (map.loaded() && map.areTilesLoaded()) setTimeout(() => (map.loaded() ? finish() : map.once('idle', finish)), 50);
  else map.once('idle', finish);
})`;
const idle = () => page.evaluate(IDLE) as Promise<number>;

const summarise = (rows: Served[]) => {
  const overlay = rows.filter((r) => r.path.includes('/overlay/'));
  const vector = rows.filter((r) => r.path.includes('/vector/'));
  const cold = overlay
    .filter((r) => r.cache === 'miss')
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  const pct = (a: number[], q: number) =>
    a.length ? a[Math.min(a.length - 1, Math.floor(q * a.length))] : 0;
  return {
    overlayRequests: overlay.length,
    vectorRequests: vector.length,
    bytes: rows.reduce((n, r) => n + r.bytes, 0),
    msPerOverlayTileMedian: +pct(cold, 0.5).toFixed(1),
    msPerOverlayTileP95: +pct(cold, 0.95).toFixed(1),
  };
};

await page.goto(`${base}/plugin-demo?project=${project.projectId}&layers=priority,footprints,grid`);
await page.waitForFunction(() => (window as any).tilelensDemo, null, { timeout: 120_000 });
await page.evaluate(() => (window as any).tilelensDemo.control.ready);
await idle();

const centre: [number, number] = [
  (project.bbox[0] + project.bbox[2]) / 2,
  (project.bbox[1] + project.bbox[3]) / 2,
];
const results: Array<Record<string, unknown>> = [];
for (const zoom of [12, 14, 16]) {
  served = [];
  await page.evaluate(([c, z]) => (window as any).tilelensDemo.map.jumpTo({ center: c, zoom: z }), [
    centre,
    zoom,
  ] as const);
  await idle();
  const arrive = summarise(served);
  const pans: Array<ReturnType<typeof summarise> & { wallMs: number }> = [];
  for (let i = 0; i < 6; i++) {
    served = [];
    // Half a screen each way, in a square: later pans come back over ground already seen.
    const [dx, dy] = [
      [640, 0],
      [0, 400],
      [-640, 0],
      [0, -400],
      [640, 0],
      [0, 400],
    ][i];
    const started = performance.now();
    await page.evaluate(
      ([x, y]) => (window as any).tilelensDemo.map.panBy([x, y], { duration: 0 }),
      [dx, dy],
    );
    await idle();
    pans.push({ ...summarise(served), wallMs: Math.round(performance.now() - started) });
  }
  results.push({ zoom, arrive, pans });
}

await browser.close();
await new Promise((resolve) => http.close(resolve));
await s.close();
rmSync(profile, { recursive: true, force: true });

const report = {
  bench: 'ui-overlay',
  tiles: project.tiles,
  createSeconds: +createSeconds.toFixed(1),
  wholeGridGeoJsonBytes: wholeGridBytes,
  viewport: '1280x800',
  note: 'headless Chromium with software WebGL; wallMs includes rendering, request counts and bytes do not depend on it',
  results,
};
if (values.json) console.log(JSON.stringify(report));
else {
  console.log(
    `ui-overlay: ${project.tiles} tiles (project written in ${report.createSeconds} s); whole grid as GeoJSON ≈ ${(wholeGridBytes / 1e6).toFixed(1)} MB`,
  );
  for (const r of results as Array<{
    zoom: number;
    arrive: ReturnType<typeof summarise>;
    pans: Array<ReturnType<typeof summarise> & { wallMs: number }>;
  }>) {
    console.log(
      `  z${r.zoom} arrive: ${r.arrive.overlayRequests} overlay + ${r.arrive.vectorRequests} vector requests, ${(r.arrive.bytes / 1024).toFixed(0)} KB, tile ${r.arrive.msPerOverlayTileMedian} ms median / ${r.arrive.msPerOverlayTileP95} ms p95`,
    );
    for (const p of r.pans) {
      console.log(
        `    pan: ${p.overlayRequests} overlay + ${p.vectorRequests} vector requests, ${(p.bytes / 1024).toFixed(0)} KB, tile ${p.msPerOverlayTileMedian} ms median, ${p.wallMs} ms to idle`,
      );
    }
  }
}
