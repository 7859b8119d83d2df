/**
 * The failed-tiles count and its "Retry failed tiles" button in headless Chromium: a project scored
 * through a tile server that was down for some tiles shows how many failed; once the server is back, the
 * button scores them again and the count goes. No console error and no failed request along the way.
 * Screenshots go to screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bboxPolygon, tileRangeBBox } from '../../server/lib/geo/tiles.ts';
import { openPMTilesSource, type PMTilesSource } from '../../server/lib/imagery/pmtiles-source.ts';
import { runInsights } from '../../server/lib/insights/run-insights.ts';
import { latestJob, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { countScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import {
  ensureUiBuilt,
  freshChromium,
  serveOnLoopback,
  type FreshChromium,
  type LoopbackServer,
} from '../fixtures/ui-browser.ts';
import { json, post, serverFixture, TOKEN, type ServerFixture } from '../integration/server-fixture.ts';

const SHOTS = join(process.cwd(), 'screenshots');

let fx: ServerFixture;
let pm: PMTilesSource;
let upstream: Server;
let server: LoopbackServer;
let base: string;
let projectId: number;
let failing: number;
let down = true;
let browser: FreshChromium;
let page: Page;
const consoleErrors: string[] = [];
const failedRequests: string[] = [];

beforeAll(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  fx = await serverFixture({ world: true, settings: { 'imagery-allow-hosts': '127.0.0.2' } });
  // The review queue and families panels read what the insights pass stores, as in a real setup.
  await runInsights(fx.db, fx.runId!);
  pm = await openPMTilesSource({ kind: 'pmtiles', path: join(fx.worldDir, 'imagery.pmtiles') });
  // Like a real service, the tile server covers the whole map (grey where the world has no tile), and it is
  // down for every third column of tiles until `down` turns false.
  const grey = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#888' } })
    .jpeg()
    .toBuffer();
  upstream = createServer(async (req, res) => {
    const m = /^\/(\d+)\/(\d+)\/(\d+)\.jpg$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    if (down && Number(m[2]) % 3 === 0) return void res.writeHead(503).end('maintenance');
    const tile = await pm.getTile(Number(m[1]), Number(m[2]), Number(m[3]));
    res
      .writeHead(200, { 'content-type': 'image/jpeg' })
      .end(tile.status === 'ok' ? Buffer.from(tile.bytes) : grey);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.2', r));
  const port = (upstream.address() as AddressInfo).port;

  const imagery = await json(
    await post(fx.app, '/api/imagery', {
      name: 'sometimes down',
      // The zoom the archive behind it holds, so the map asks for no other.
      spec: {
        kind: 'xyz',
        url: `http://127.0.0.2:${port}/{z}/{x}/{y}.jpg`,
        retries: 1,
        retryBaseMs: 5,
        minZoom: 18,
        maxZoom: 18,
      },
    }),
  );
  const t = JSON.parse(await readFile(join(fx.worldDir, 'world.json'), 'utf8')).regions.new.tiles;
  const area = bboxPolygon(
    tileRangeBBox(18, { minX: t.minX, minY: t.minY, maxX: t.minX + 5, maxY: t.minY + 4 }, 0.01),
  );
  const project = await json(
    await post(fx.app, '/api/projects', {
      name: 'Half the tiles failed',
      area,
      imageryId: imagery.id,
      runId: fx.runId,
    }),
  );
  projectId = project.id;
  const job = await json(await post(fx.app, `/api/projects/${projectId}/score`, {}));
  await waitForJob(fx.scoring, job.id);
  const counts = await countScoredTiles(fx.scoring, projectId);
  failing = counts.failed + counts.undecodable;
  expect(failing).toBeGreaterThan(0);
  // Back up before the browser opens: the map's own imagery requests then all succeed.
  down = false;

  server = await serveOnLoopback(fx.app.fetch);
  base = server.base;
  browser = await freshChromium({ token: TOKEN });
  page = await browser.context.newPage();
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${m.text()} ${m.location().url}`));
  page.on('requestfailed', (r) => failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => r.status() >= 400 && failedRequests.push(`${r.url()} ${r.status()}`));
  await page.goto(`${base}/?project=${projectId}`);
  await page.waitForFunction(() => (window as any).__tilelens?.ready === true, null, { timeout: 60_000 });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  await pm?.close();
  await fx?.close();
});

describe('failed tiles in the map UI', () => {
  it('shows how many tiles failed, beside a button that scores them again', async () => {
    const box = page.locator('#failed-tiles');
    await expect(box.textContent()).resolves.toMatch(new RegExp(`^${failing} tiles? failed`));
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(SHOTS, 'ui-failed-tiles-before.png') });
    await page.click('#failed-tiles button');
    await page.waitForSelector('#failed-tiles', { state: 'detached', timeout: 60_000 });
    expect(await countScoredTiles(fx.scoring, projectId)).toMatchObject({ failed: 0, undecodable: 0 });
    // The overlays follow the retry job: their tile URLs carry its finished version.
    const retried = (await latestJob(fx.scoring, projectId))!;
    expect(retried).toMatchObject({ mode: 'retry', status: 'done' });
    await page.waitForFunction(
      (version) =>
        Object.values(
          (window as any).__tilelens.map.getStyle().sources as Record<string, { tiles?: string[] }>,
        ).some((src) => src.tiles?.some((t) => t.includes(version))),
      `j${retried.id}-${retried.done}-done`,
      { timeout: 30_000 },
    );
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(SHOTS, 'ui-failed-tiles-after.png') });
    console.log(JSON.stringify(failedRequests.map((r) => r.replace(base, ''))));
    expect(consoleErrors).toEqual([]);
    expect(failedRequests).toEqual([]);
  });
});
