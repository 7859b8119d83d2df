/**
 * The overlay templates as a volunteer's tool uses them: every layer of GET /api/projects/:id/overlays/tools
 * is loaded into a plain MapLibre map — nothing of tilelens on the page — served from another origin, as an
 * editor or MapSwipe's web view would be, at the template's lowest and highest declared zoom (and two past the
 * highest, where the tool overzooms). Every tile request must answer, none fail, the console stays clean, and
 * the tiles must draw something over the project.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSyntheticProject,
  syntheticServer,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import { repoRoot } from '../../server/lib/paths.ts';
import type { ToolTemplate } from '../../server/lib/overlays/tool-templates.ts';
import {
  freshChromium,
  serveOnLoopback,
  type FreshChromium,
  type LoopbackServer,
} from '../fixtures/ui-browser.ts';

const MAPLIBRE = join(repoRoot, 'node_modules/maplibre-gl/dist');
const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/volunteer-tool/maplibre-gl.css">
<style>html,body,#map{margin:0;height:100%}</style></head>
<body><div id="map"></div><script type="module">
import * as maplibregl from '/volunteer-tool/maplibre-gl.mjs';
window.maplibregl = maplibregl;
window.ready = true;
</script></body></html>`;

/** Pixels of a screenshot the overlay changed from the map's white background. */
async function changedPixels(png: Buffer): Promise<number> {
  const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += 3) if (data[i] < 250 || data[i + 1] < 250 || data[i + 2] < 250) n++;
  return n;
}

describe('overlay templates in a plain MapLibre map on another origin', () => {
  let server: SyntheticServer;
  let http: LoopbackServer;
  let base: string;
  let browser: FreshChromium;
  let page: Page;
  let projectId: number;
  /** The tool's own origin: a plain server of the page and MapLibre, nothing of tilelens. */
  let TOOL: string;
  let tool: Server;
  const ORIGIN = { x: 32 * 4000, y: 32 * 3000 };
  const failed: string[] = [];
  const consoleErrors: string[] = [];
  const tileRequests: string[] = [];

  beforeAll(async () => {
    server = await syntheticServer();
    projectId = (await createSyntheticProject(server.db, { side: 24, origin: ORIGIN })).projectId;
    http = await serveOnLoopback(server.app.fetch);
    base = http.base;
    tool = createServer((req, res) => {
      const path = (req.url ?? '/').replace(/\?.*$/, '').replace('/volunteer-tool', '');
      if (path === '/') return res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
      if (path === '/favicon.ico') return res.writeHead(204).end();
      const file = path.slice(1);
      if (!/^maplibre-gl(-worker|-shared)?\.(mjs|css)$/.test(file)) return res.writeHead(404).end();
      res
        .writeHead(200, { 'Content-Type': file.endsWith('.css') ? 'text/css' : 'text/javascript' })
        .end(readFileSync(join(MAPLIBRE, file)));
    });
    await new Promise<void>((resolve) => tool.listen(0, '127.0.0.1', resolve));
    // Another port is another origin: the tiles are fetched across origins, as from an editor's page.
    TOOL = `http://127.0.0.1:${(tool.address() as AddressInfo).port}/volunteer-tool`;
    browser = await freshChromium({ viewport: { width: 512, height: 512 } });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('request', (r) => {
      if (r.url().startsWith(base)) tileRequests.push(r.url());
    });
    page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.url()} ${r.status()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    mkdirSync(join(repoRoot, 'screenshots'), { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await http?.close();
    await new Promise((resolve) => (tool ? tool.close(resolve) : resolve(undefined)));
    await server?.close();
  });

  it('every layer loads at its declared zooms with no failed request and no console error', async () => {
    const res = await fetch(`${base}/api/projects/${projectId}/overlays/tools`);
    expect(res.status).toBe(200);
    const { layers } = (await res.json()) as { layers: ToolTemplate[] };
    expect(layers.map((l) => l.kind).sort()).toEqual(['raster', 'raster', 'vector']);

    await page.goto(`${TOOL}/`);
    await page.waitForFunction(() => (window as any).ready === true);
    // Inside the predicted building of a tile in the town at the project's centre (the fixture draws it in
    // the tile's second quarter from the west and the south), so even at two zooms past the last its outline shows.
    const [w, s, e, n] = tileBounds(18, ORIGIN.x + 12, ORIGIN.y + 12);
    const center = [w + 1.5 * ((e - w) / 4), s + 1.5 * ((n - s) / 4)];

    for (const layer of layers) {
      for (const zoom of [
        layer.minZoom + (layer.kind === 'raster' ? 12 : 0),
        layer.maxZoom,
        layer.maxZoom + 2,
      ]) {
        const before = tileRequests.length;
        await page.evaluate(
          async ({ layer, zoom, center }) => {
            const maplibregl = (window as any).maplibregl;
            (window as any).map?.remove();
            // A fresh container per map, as a tool opening the layer anew would have.
            document.getElementById('map')?.remove();
            const container = document.createElement('div');
            container.id = 'map';
            container.style.cssText = 'position:absolute;inset:0';
            document.body.append(container);
            const source =
              layer.kind === 'raster'
                ? {
                    type: 'raster',
                    tiles: [layer.xyz],
                    tileSize: 256,
                    minzoom: layer.minZoom,
                    maxzoom: layer.maxZoom,
                  }
                : { type: 'vector', tiles: [layer.xyz], minzoom: layer.minZoom, maxzoom: layer.maxZoom };
            const style = {
              version: 8,
              sources: { overlay: source },
              layers: [
                { id: 'bg', type: 'background', paint: { 'background-color': '#ffffff' } },
                layer.kind === 'raster'
                  ? { id: 'o', type: 'raster', source: 'overlay' }
                  : {
                      id: 'o',
                      type: 'line',
                      source: 'overlay',
                      'source-layer': layer.sourceLayer,
                      paint: { 'line-color': '#ff0000', 'line-width': 2 },
                    },
              ],
            };
            const map = new maplibregl.Map({
              container,
              style,
              center,
              zoom,
              attributionControl: false,
            });
            (window as any).map = map;
            await new Promise<void>((resolve) => map.once('idle', () => resolve()));
          },
          { layer, zoom, center },
        );
        const asked = tileRequests.slice(before);
        expect(asked.length, `${layer.id} z${zoom}: no tile requested`).toBeGreaterThan(0);
        // Past the declared range the map overzooms: it asks for the last level, never beyond.
        for (const url of asked) {
          const z = Number(new URL(url).pathname.split('/').at(-3));
          expect(z, url).toBeLessThanOrEqual(layer.maxZoom);
          expect(z, url).toBeGreaterThanOrEqual(layer.minZoom);
        }
        const shot = await page.screenshot({
          path: join(repoRoot, 'screenshots', `tool-template-${layer.id}-z${zoom}.png`),
        });
        expect(
          await changedPixels(shot),
          `${layer.id} z${zoom}: nothing drawn; failed: ${failed.join(', ')}; console: ${consoleErrors.join(', ')}`,
        ).toBeGreaterThan(500);
      }
    }
    expect(failed).toEqual([]);
    expect(consoleErrors).toEqual([]);
  }, 180_000);
});
