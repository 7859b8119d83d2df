/**
 * The plugin in a real browser: /plugin-demo on an in-process server holding a scored project over the
 * small demo world's new region (imagery from the world's PMTiles, scores synthetic so no model runs).
 * Checks that the control adds its layers, that overlay tiles are requested and decoded, that switching a
 * layer off in the panel (a real click) changes the pixels over the project area and nowhere else, and
 * that removing the control removes every layer and source. Screenshots land in screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld } from '../../scripts/demo-world/generate.ts';
import {
  createSyntheticProject,
  syntheticServer,
  type SyntheticProject,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';
import { lonLatToTile } from '../../server/lib/geo/tiles.ts';
import { repoRoot } from '../../server/lib/paths.ts';
import { registerImagery } from '../../server/lib/scoring/imagery-registry.ts';
import { CHROMIUM_ARGS, requireChromium } from '../../scripts/lib/headless-chromium.ts';

const SHOTS = join(repoRoot, 'screenshots');

describe('plugin demo page in headless Chromium', () => {
  let dir: string;
  let server: SyntheticServer;
  let http: ServerType;
  let base: string;
  let browser: BrowserContext;
  let page: Page;
  let project: SyntheticProject;
  const overlayRequests: string[] = [];
  const failedRequests: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tilelens-plugin-e2e-'));
    const world = await generateDemoWorld({ seed: 7, outDir: join(dir, 'world'), scale: 'small' });
    server = await syntheticServer();
    const imagery = await registerImagery(server.scoring, {
      name: 'demo world',
      spec: { kind: 'pmtiles', path: world.files.imagery },
    });
    const [w, , , n] = world.regions.new.bbox;
    const nw = lonLatToTile(w + 1e-9, n - 1e-9, 18);
    const r = world.regions.new.tiles;
    project = await createSyntheticProject(server.db, {
      side: Math.min(r.maxX - r.minX + 1, r.maxY - r.minY + 1),
      origin: { x: Math.max(nw.x, r.minX), y: Math.max(nw.y, r.minY) },
      imageryId: imagery.id,
      name: 'plugin e2e',
    });

    http = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: server.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

    // A fresh profile per run: nothing cached from an earlier run can make tiles look requested.
    browser = await chromium.launchPersistentContext(join(dir, 'chromium'), {
      executablePath: requireChromium(),
      viewport: { width: 900, height: 700 },
      args: CHROMIUM_ARGS,
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('request', (req) => {
      if (req.url().includes('/overlay/')) overlayRequests.push(req.url());
    });
    page.on('requestfailed', (req) => failedRequests.push(`${req.url()} ${req.failure()?.errorText}`));
    page.on('response', (res) => {
      if (res.status() >= 400) failedRequests.push(`${res.url()} ${res.status()}`);
    });
    mkdirSync(SHOTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const waitIdle = (p: Page) =>
    p.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const { map } = (window as any).tilelensDemo;
          if (map.loaded() && map.areTilesLoaded()) return resolve();
          map.once('idle', () => resolve());
        }),
    );

  /** Mean absolute RGB difference inside and outside a pixel box. */
  async function diffInsideOutside(
    a: Buffer,
    b: Buffer,
    box: { x0: number; y0: number; x1: number; y1: number },
  ) {
    const [ra, rb] = await Promise.all(
      [a, b].map((png) => sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })),
    );
    const { width, height } = ra.info;
    let inside = 0;
    let nIn = 0;
    let outside = 0;
    let nOut = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        const d =
          Math.abs(ra.data[o] - rb.data[o]) +
          Math.abs(ra.data[o + 1] - rb.data[o + 1]) +
          Math.abs(ra.data[o + 2] - rb.data[o + 2]);
        // A margin keeps the control panel and the box's anti-aliased edge out of both sums.
        const inBox = x > box.x0 + 3 && x < box.x1 - 3 && y > box.y0 + 3 && y < box.y1 - 3;
        const outBox =
          (x < box.x0 - 3 || x > box.x1 + 3 || y < box.y0 - 3 || y > box.y1 + 3) &&
          !(x > width - 260 && y < 330);
        if (inBox) {
          inside += d;
          nIn++;
        } else if (outBox) {
          outside += d;
          nOut++;
        }
      }
    }
    return { inside: inside / Math.max(1, nIn), outside: outside / Math.max(1, nOut), nIn };
  }

  it('adds the layers, requests overlay tiles, and they render over the project area only', async () => {
    await page.goto(`${base}/plugin-demo?project=${project.projectId}`);
    await page.waitForFunction(() => (window as any).tilelensDemo, null, { timeout: 60_000 });
    await page.evaluate(() => (window as any).tilelensDemo.control.ready);
    await waitIdle(page);

    const state = await page.evaluate(() => {
      const { map, control } = (window as any).tilelensDemo;
      const ids = map.getStyle().layers.map((l: { id: string }) => l.id);
      return { ids, visible: control.isVisible('priority'), zoom: map.getZoom() };
    });
    const pid = project.projectId;
    expect(state.ids).toEqual(
      expect.arrayContaining([
        `tilelens-${pid}-priority`,
        `tilelens-${pid}-confidence`,
        `tilelens-${pid}-footprints`,
        `tilelens-${pid}-footprints-outline`,
        `tilelens-${pid}-grid`,
      ]),
    );
    expect(state.visible).toBe(true);
    expect(overlayRequests.some((u) => u.includes(`/api/projects/${pid}/overlay/priority/`))).toBe(true);
    // The source's bounds keep the map from asking for tiles where the project has none, and nothing failed.
    expect(failedRequests.filter((f) => f.includes('/overlay/'))).toEqual([]);

    const box = await page.evaluate((bbox) => {
      const { map } = (window as any).tilelensDemo;
      const a = map.project([bbox[0], bbox[3]]);
      const b = map.project([bbox[2], bbox[1]]);
      return { x0: a.x, y0: a.y, x1: b.x, y1: b.y };
    }, project.bbox);
    expect(box.x1 - box.x0).toBeGreaterThan(100);

    const withOverlay = await page.screenshot({ path: join(SHOTS, 'plugin-demo-priority.png') });
    // Switch priority off with a real click on the panel's checkbox.
    await page.click(`.tilelens-ctrl input[data-layer="priority"]`);
    await waitIdle(page);
    expect(await page.evaluate(() => (window as any).tilelensDemo.control.isVisible('priority'))).toBe(false);
    const without = await page.screenshot({ path: join(SHOTS, 'plugin-demo-none.png') });

    const d = await diffInsideOutside(withOverlay, without, box);
    expect(d.nIn).toBeGreaterThan(10_000);
    expect(d.inside).toBeGreaterThan(20);
    expect(d.outside).toBeLessThan(2);
  });

  it('shows confidence when switched on, footprints and the grid when zoomed in', async () => {
    await page.click(`.tilelens-ctrl input[data-layer="confidence"]`);
    await waitIdle(page);
    await page.screenshot({ path: join(SHOTS, 'plugin-demo-confidence.png') });
    expect(overlayRequests.some((u) => u.includes('/overlay/confidence/'))).toBe(true);

    const centre = [(project.bbox[0] + project.bbox[2]) / 2, (project.bbox[1] + project.bbox[3]) / 2];
    await page.evaluate((c) => (window as any).tilelensDemo.map.jumpTo({ center: c, zoom: 17.5 }), centre);
    await waitIdle(page);
    const rendered = await page.evaluate((pid) => {
      const { map } = (window as any).tilelensDemo;
      return {
        footprints: map.queryRenderedFeatures({ layers: [`tilelens-${pid}-footprints`] }).length,
        grid: map
          .queryRenderedFeatures({ layers: [`tilelens-${pid}-grid`] })
          .map((f: any) => f.properties.taskId),
      };
    }, project.projectId);
    expect(rendered.grid.length).toBeGreaterThan(4);
    expect(rendered.grid.every((t: string) => /^18-\d+-\d+$/.test(t))).toBe(true);
    expect(rendered.footprints).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'plugin-demo-z17.png') });
    expect(failedRequests.filter((f) => f.includes('/api/'))).toEqual([]);
  });

  it('removes every tilelens layer and source on removeControl', async () => {
    const left = await page.evaluate(() => {
      const { map, control } = (window as any).tilelensDemo;
      map.removeControl(control);
      const style = map.getStyle();
      return {
        layers: style.layers.filter((l: { id: string }) => l.id.startsWith('tilelens-')).length,
        sources: Object.keys(style.sources).filter((s) => s.startsWith('tilelens-')).length,
        panel: document.querySelectorAll('.tilelens-ctrl').length,
      };
    });
    expect(left).toEqual({ layers: 0, sources: 0, panel: 0 });
  });
});
