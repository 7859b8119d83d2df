/**
 * The map UI in headless Chromium against a real server over a small scored demo world: layers, the
 * latent view's rectangle and lasso with real mouse events (tiles highlighted on the map must equal
 * those computed here from the same binary columns), drawing on the map, the inspector, the threshold
 * against the effort curve, every export, and the volunteer view. Screenshots go to screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoImagery, ensureDemoProject } from '../../server/demo-server.ts';
import { latestJob, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { runInsights } from '../../server/lib/insights/run-insights.ts';
import { decodeColumns, dequantise } from '../../map-ui/src/data/columns.ts';
import { pointInPolygon } from '../../map-ui/src/data/latent-data.ts';
import { parseTaskId, tileCentre } from '../../server/lib/geo/tiles.ts';
import { serverFixture, TOKEN, type ServerFixture } from '../integration/server-fixture.ts';
import {
  ensureUiBuilt,
  freshChromium,
  serveOnLoopback,
  type FreshChromium,
  type LoopbackServer,
} from '../fixtures/ui-browser.ts';

const SHOTS = join(process.cwd(), 'screenshots');

let fx: ServerFixture;
let server: LoopbackServer;
let base: string;
let projectId: number;
let context: BrowserContext;
let page: Page;
let browser: FreshChromium;

interface Points {
  train: { x: Float32Array; y: Float32Array; tiles: string[] };
  project: { x: Float32Array; y: Float32Array; tiles: string[] };
}
let pts: Points;

async function columns(path: string) {
  const res = await fetch(`${base}${path}`);
  expect(res.status).toBe(200);
  return decodeColumns(await res.arrayBuffer());
}

function tileIds(attrs: ReturnType<typeof decodeColumns>): string[] {
  const o = attrs.meta.tileOrigin as { z: number; x: number; y: number };
  const tx = attrs.columns.tileX.codes;
  const ty = attrs.columns.tileY.codes;
  return Array.from(tx, (x, i) => `${o.z}-${o.x + x}-${o.y + ty[i]}`);
}

async function screenOf(xs: Float32Array, ys: Float32Array): Promise<Array<[number, number]>> {
  return page.evaluate(
    ([xa, ya]) => {
      const plot = (window as any).__tilelens.plot;
      const rect = document.getElementById('latent')!.getBoundingClientRect();
      return xa.map((x: number, i: number) => {
        const [sx, sy] = plot.toScreen(x, ya[i]);
        return [sx + rect.left, sy + rect.top] as [number, number];
      });
    },
    [Array.from(xs), Array.from(ys)],
  );
}

/** A screen coordinate near the wanted quantile with no point within `clear` px of it, so the brush edge never grazes a point. */
function gapAt(values: number[], quantile: number, clear = 4): number {
  const s = [...values].sort((a, b) => a - b);
  const start = Math.floor(quantile * (s.length - 1));
  for (let d = 0; d < s.length; d++) {
    for (const i of [start + d, start - d]) {
      if (i < 0 || i + 1 >= s.length) continue;
      if (s[i + 1] - s[i] >= 2 * clear) return (s[i] + s[i + 1]) / 2;
    }
  }
  throw new Error('no gap between points wide enough for a brush edge');
}

async function drag(path: Array<[number, number]>, modifiers: string[] = []) {
  for (const m of modifiers) await page.keyboard.down(m);
  await page.mouse.move(path[0][0], path[0][1]);
  await page.mouse.down();
  for (let i = 1; i < path.length; i++) await page.mouse.move(path[i][0], path[i][1], { steps: 6 });
  await page.mouse.up();
  for (const m of modifiers) await page.keyboard.up(m);
}

async function selectionAfter(action: () => Promise<void>) {
  const before = await page.evaluate(() => (window as any).__tilelens.store.get().version);
  await action();
  await page.waitForFunction((v) => (window as any).__tilelens.store.get().version > v, before, {
    timeout: 10_000,
  });
  // The map re-renders the highlight in the same tick as the store publishes.
  return page.evaluate(() => ({
    highlighted: (window as any).__tilelens.highlighted() as string[],
    source: (window as any).__tilelens.store.get().source,
  }));
}

function expectedInScreenPolygon(
  screen: { train: Array<[number, number]>; project: Array<[number, number]> },
  ring: Array<[number, number]>,
) {
  const out = new Set<string>();
  screen.train.forEach(([x, y], i) => pointInPolygon(x, y, ring) && out.add(pts.train.tiles[i]));
  screen.project.forEach(([x, y], i) => pointInPolygon(x, y, ring) && out.add(pts.project.tiles[i]));
  return [...out].sort();
}

beforeAll(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  fx = await serverFixture({ world: true });
  // Review queue, families and the confidence intervals the scored tiles carry come from the insights pass.
  await runInsights(fx.db, fx.runId!);
  const imagery = await ensureDemoImagery(fx.scoring, fx.worldDir);
  const project = await ensureDemoProject(fx.scoring, fx.worldDir, imagery.id, fx.runId!);
  projectId = project.id;
  await waitForJob(fx.scoring, (await latestJob(fx.scoring, project.id))!.id);
  server = await serveOnLoopback(fx.app.fetch);
  base = server.base;

  const tp = await columns(`/api/runs/${fx.runId}/latent?x=1&y=2`);
  const ta = await columns(`/api/runs/${fx.runId}/latent/attributes`);
  const pa = await columns(`/api/projects/${projectId}/latent/attributes`);
  const pp = await columns(`/api/projects/${projectId}/latent?x=1&y=2&asOf=${pa.meta.asOf}`);
  pts = {
    train: { x: dequantise(tp.columns.x), y: dequantise(tp.columns.y), tiles: tileIds(ta) },
    project: { x: dequantise(pp.columns.x), y: dequantise(pp.columns.y), tiles: tileIds(pa) },
  };

  browser = await freshChromium({ acceptDownloads: true });
  context = browser.context;
  page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${base}/?project=${projectId}`);
  await page.waitForFunction(() => (window as any).__tilelens?.ready === true, null, { timeout: 60_000 });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await fx?.close();
});

describe('map UI in the browser', () => {
  it('opens on the project with imagery, overlays and the latent view', async () => {
    await page.waitForFunction(() => (window as any).__tilelens.overlayVisible('priority') === true, null, {
      timeout: 20_000,
    });
    const counts = await page.evaluate(() => ({
      n: (window as any).__tilelens.latent.training.n,
      m: (window as any).__tilelens.latent.project.n,
    }));
    expect(counts.n).toBe(pts.train.x.length);
    expect(counts.m).toBe(pts.project.x.length);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(SHOTS, 'ui-1-open.png') });
  });

  it('toggles the overlays', async () => {
    await page.click('input[data-layer="priority"]');
    await page.click('input[data-layer="confidence"]');
    // The toggle reaches the map after the panel's state update renders: wait for it, then read both.
    await page
      .waitForFunction(
        () =>
          !(window as any).__tilelens.overlayVisible('priority') &&
          (window as any).__tilelens.overlayVisible('confidence'),
        null,
        { timeout: 10_000 },
      )
      .catch(() => undefined);
    const vis = await page.evaluate(() => ({
      p: (window as any).__tilelens.overlayVisible('priority'),
      c: (window as any).__tilelens.overlayVisible('confidence'),
    }));
    expect(vis).toEqual({ p: false, c: true });
    await page.waitForFunction(
      () => new URLSearchParams(location.search).get('layers') === 'confidence,footprints',
    );
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(SHOTS, 'ui-2-confidence.png') });
  });

  it('a rectangle and a lasso dragged in the latent view highlight exactly their tiles on the map', async () => {
    await page.click('button[data-brush="rectangle"]');
    await page.waitForTimeout(300);
    const screen = {
      train: await screenOf(pts.train.x, pts.train.y),
      project: await screenOf(pts.project.x, pts.project.y),
    };
    const all = [...screen.train, ...screen.project];
    const box = (await page.locator('#latent').boundingBox())!;
    const inside = all.filter(
      ([x, y]) => x > box.x + 4 && x < box.x + box.width - 4 && y > box.y + 4 && y < box.y + box.height - 4,
    );
    const xs = inside.map((p) => p[0]);
    const ys = inside.map((p) => p[1]);

    // Rectangle
    const x0 = gapAt(xs, 0.15);
    const x1 = gapAt(xs, 0.85);
    const y0 = gapAt(ys, 0.1);
    const y1 = gapAt(ys, 0.9);
    const rect: Array<[number, number]> = [
      [x0, y0],
      [x1, y0],
      [x1, y1],
      [x0, y1],
    ];
    const r = await selectionAfter(() =>
      drag([
        [x0, y0],
        [x1, y1],
      ]),
    );
    const expectedRect = expectedInScreenPolygon(screen, rect);
    expect(expectedRect.length).toBeGreaterThan(0);
    expect(r.source).toBe('latent');
    expect(r.highlighted).toEqual(expectedRect);
    await page.screenshot({ path: join(SHOTS, 'ui-3-rectangle.png') });

    // Lasso: an L shape (not convex), its edges in gaps between points.
    const lx0 = gapAt(xs, 0.05);
    const lx1 = gapAt(xs, 0.5);
    const lx2 = gapAt(xs, 0.95);
    const ly0 = gapAt(ys, 0.05);
    const ly1 = gapAt(ys, 0.5);
    const ly2 = gapAt(ys, 0.95);
    const ring: Array<[number, number]> = [
      [lx0, ly0],
      [lx1, ly0],
      [lx1, ly1],
      [lx2, ly1],
      [lx2, ly2],
      [lx0, ly2],
    ];
    const expectedLasso = expectedInScreenPolygon(screen, ring);
    expect(expectedLasso.length).toBeGreaterThan(0);

    // Additive: with Ctrl a second rectangle, left of the first, adds its points.
    // The first of the strips around it that holds points outside it.
    const outer = { x0: gapAt(xs, 0.005), x1: gapAt(xs, 0.995), y0: gapAt(ys, 0.005), y1: gapAt(ys, 0.995) };
    const strips: Array<[[number, number], [number, number]]> = [
      [
        [outer.x0, outer.y0],
        [x0, outer.y1],
      ],
      [
        [x1, outer.y0],
        [outer.x1, outer.y1],
      ],
      [
        [outer.x0, outer.y0],
        [outer.x1, y0],
      ],
      [
        [outer.x0, y1],
        [outer.x1, outer.y1],
      ],
    ];
    const strip = strips.find(([[a, b], [c, d]]) =>
      expectedInScreenPolygon(screen, [
        [a, b],
        [c, b],
        [c, d],
        [a, d],
      ]).some((t) => !expectedRect.includes(t)),
    )!;
    expect(strip, 'some points lie outside the first rectangle').toBeTruthy();
    const [[ax0, ay0], [ax1, ay1]] = strip;
    const added = expectedInScreenPolygon(screen, [
      [ax0, ay0],
      [ax1, ay0],
      [ax1, ay1],
      [ax0, ay1],
    ]);
    const u = await selectionAfter(() =>
      drag(
        [
          [ax0, ay0],
          [ax1, ay1],
        ],
        ['Control'],
      ),
    );
    // The union keeps the first rectangle and adds tiles of the strip, nothing else.
    const union = new Set([...added, ...expectedRect]);
    for (const t of expectedRect) expect(u.highlighted).toContain(t);
    expect(u.highlighted.length).toBeGreaterThan(expectedRect.length);
    expect(u.highlighted.every((t) => union.has(t))).toBe(true);
    // Every tile is one point; the plot holds the same selection (the rest is drawn dimmed).
    expect(await page.evaluate(() => (window as any).__tilelens.plot.selectedPoints().length)).toBe(
      u.highlighted.length,
    );

    // "clear" empties the selection in every view; the lasso then selects just its points.
    await page.click('button[data-brush="lasso"]');
    const cleared = await selectionAfter(() => page.click('.latent-pane .hint button.link'));
    expect(cleared.highlighted).toEqual([]);
    const l = await selectionAfter(() => drag([...ring, ring[0]]));
    expect(l.highlighted).toEqual(expectedLasso);
    await page.screenshot({ path: join(SHOTS, 'ui-4-lasso.png') });
    await page.click('button[data-brush="pan"]');

    // In pan mode, Shift-drag draws the same lasso, as the help text says.
    expect(await page.locator('.latent-pane .hint').innerText()).toMatch(/Shift-drag draws a lasso/);
    const again = await selectionAfter(() => page.click('.latent-pane .hint button.link'));
    expect(again.highlighted).toEqual([]);
    const shifted = await selectionAfter(() => drag([...ring, ring[0]], ['Shift']));
    expect(shifted.highlighted).toEqual(expectedLasso);
  });

  it('a rectangle drawn on the map selects its tiles in the latent view', async () => {
    await page.click('button[data-draw="rectangle"]');
    const box = (await page.locator('#map').boundingBox())!;
    const a: [number, number] = [box.x + box.width * 0.35, box.y + box.height * 0.35];
    const b: [number, number] = [box.x + box.width * 0.6, box.y + box.height * 0.6];
    const ring = (await page.evaluate(
      ([pa, pb, left, top]) => {
        const m = (window as any).__tilelens.map;
        const p = m.unproject([pa[0] - left, pa[1] - top]);
        const q = m.unproject([pb[0] - left, pb[1] - top]);
        return [
          [p.lng, p.lat],
          [q.lng, p.lat],
          [q.lng, q.lat],
          [p.lng, q.lat],
        ];
      },
      [a, b, box.x, box.y] as const,
    )) as Array<[number, number]>;
    const r = await selectionAfter(() => drag([a, b]));
    expect(r.source).toBe('map');
    const inRing = (id: string) => {
      const { z, x, y } = parseTaskId(id);
      const [lon, lat] = tileCentre(z, x, y);
      return pointInPolygon(lon, lat, ring);
    };
    const expected = [
      ...new Set([...pts.train.tiles.filter(inRing), ...pts.project.tiles.filter(inRing)]),
    ].sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(r.highlighted).toEqual(expected);
    const selectedInPlot = await page.evaluate(() => (window as any).__tilelens.plot.selectedPoints().length);
    expect(selectedInPlot).toBe(expected.length);
    await page.click('button[data-draw="rectangle"]');
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SHOTS, 'ui-5-map-selection.png') });
  });

  it('opens a tile in the inspector with its scores and nearest training tiles', async () => {
    // Brushing training points moved the map to the training region; come back to the new one.
    await page.evaluate(() => {
      const t = (window as any).__tilelens;
      const [w, s, e, n] = t.project.bbox;
      t.map.jumpTo({ center: [(w + e) / 2, (s + n) / 2], zoom: 16 });
    });
    await page.waitForTimeout(300);
    const box = (await page.locator('#map').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.waitForSelector('#inspector .scores', { timeout: 15_000 });
    await page.waitForSelector('#inspector .neighbours .triplet', { timeout: 15_000 });
    const text = await page.locator('#inspector').innerText();
    expect(text).toMatch(/Priority/);
    expect(text).toMatch(/Chance of a building/);
    // The confidence comes with its interval, never as a bare number.
    expect(await page.locator('#inspector [data-field="confidence"]').innerText()).toMatch(
      /^≈ \d\.\d\d \(likely \d\.\d\d–\d\.\d\d\)$/,
    );
    expect(await page.locator('#inspector .neighbours .triplet').count()).toBeGreaterThan(0);
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(SHOTS, 'ui-6-inspector.png') });
  });

  it('moving the threshold shows the effort curve’s counts', async () => {
    const effort = (await (await fetch(`${base}/api/projects/${projectId}/effort`)).json()) as {
      points: Array<{ threshold: number; sent: number; skipped: number }>;
    };
    await page.locator('#thresholds input[type="range"]').fill('0.3');
    const fig = page.locator('#thresholds .effort-figures');
    await page.waitForFunction(
      () => document.querySelector('#thresholds .effort-figures')?.getAttribute('data-threshold') === '0.3',
    );
    const want = effort.points.find((p) => Math.abs(p.threshold - 0.3) < 1e-9)!;
    expect(Number(await fig.getAttribute('data-sent'))).toBe(want.sent);
    expect(Number(await fig.getAttribute('data-skipped'))).toBe(want.skipped);
    // What the model alone would miss, as the API says it, with its range.
    const alone = (
      effort as unknown as { modelAlone: { expectedMissedBuildingTiles: number; missedHigh: number } }
    ).modelAlone;
    expect(alone.missedHigh).toBeGreaterThanOrEqual(alone.expectedMissedBuildingTiles);
    const line = page.locator('#thresholds .model-alone');
    expect(Number(await line.getAttribute('data-model-alone'))).toBeCloseTo(
      alone.expectedMissedBuildingTiles,
      2,
    );
    expect(await line.innerText()).toMatch(
      /^The model alone paints nothing on [\d,]+ tiles?; about \d+ building tiles? \(\d+–\d+, \d+ % of all\) hide there/,
    );
    await page.locator('#thresholds').screenshot({ path: join(SHOTS, 'ui-6b-thresholds.png') });
  });

  it('downloads every export', async () => {
    const kinds = await page
      .locator('a[data-export]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-export')));
    expect(kinds).toEqual([
      'mapswipe-find',
      'mapswipe-completeness',
      'mapswipe-validate',
      'tasking-manager',
      'maproulette-tasks',
      'maproulette-challenge',
      'csv',
      'geojson',
    ]);
    // The overlays for volunteers' tools are listed beside the downloads, each template with its copy button.
    await page.waitForSelector('#exports .layer-templates[data-layer="confidence"]');
    expect(
      await page
        .locator('#exports .layer-templates')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-layer'))),
    ).toEqual(['footprints', 'confidence', 'priority']);
    expect(await page.locator('#exports button[data-copy="confidence:JOSM"]').count()).toBe(1);
    for (const k of kinds) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click(`a[data-export="${k}"]`),
      ]);
      const path = await download.path();
      expect(path, `${k} downloaded`).toBeTruthy();
      const { statSync } = await import('node:fs');
      expect(statSync(path!).size, `${k} not empty`).toBeGreaterThan(10);
    }
  });

  it('the review queue steps through patches and marks one with the manager token; families link their report', async () => {
    await page.locator('#review').scrollIntoViewIfNeeded();
    await page.waitForSelector('#review .review-marks button', { timeout: 15_000 });
    const rank = page.locator('#review .review-rank');
    expect(await rank.getAttribute('data-rank')).toBe('1');
    await page.click('#review button[data-step="next"]');
    await expect.poll(() => rank.getAttribute('data-rank')).toBe('2');
    await page.click('#review button[data-step="previous"]');
    await expect.poll(() => rank.getAttribute('data-rank')).toBe('1');
    expect(await page.locator('#review .review-triplet img').count()).toBe(3);

    // Without the token the mark is refused in words; with it the server records it.
    const listed = (await (
      await fetch(`${base}/api/runs/${fx.runId}/review/list?offset=0&limit=1`)
    ).json()) as { items: Array<{ idx: number; mark: string | null }> };
    const idx = listed.items[0].idx;
    await page.locator('#review .review-marks button').first().click();
    await page.waitForSelector('#review .error', { timeout: 5_000 });
    await page.fill('input[aria-label="manager token"]', TOKEN);
    await page.press('input[aria-label="manager token"]', 'Enter');
    await page.waitForSelector('.token.ok');
    await page.locator('#review .review-marks button').first().click();
    await expect
      .poll(
        async () =>
          (
            (await (
              await fetch(`${base}/api/runs/${fx.runId}/review/list?offset=0&limit=1`)
            ).json()) as typeof listed
          ).items.find((i) => i.idx === idx)?.mark,
        { timeout: 10_000 },
      )
      .toBe('label_wrong');
    const csv = await (await fetch(`${base}/api/runs/${fx.runId}/review.csv?top=5`)).text();
    expect(csv).toMatch(/label_wrong/);
    await page.waitForTimeout(500);
    await page.locator('#review').screenshot({ path: join(SHOTS, 'ui-8-review.png') });

    const families = page.locator('#families');
    await families.scrollIntoViewIfNeeded();
    await expect
      .poll(async () => families.locator('a[href$="families.html"]').count(), { timeout: 15_000 })
      .toBeGreaterThan(0);
    const href = await families.locator('a[href$="families.html"]').first().getAttribute('href');
    const report = await fetch(`${base}${href}`);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toMatch(/text\/html/);
    await families.screenshot({ path: join(SHOTS, 'ui-9-families.png') });
  });

  it('label errors by object: a tab per kind with its count, outlines over the patch, fixes and mapper links', async () => {
    // What the panel does must log no error and fail no request.
    const problems: string[] = [];
    const onConsole = (m: { type(): string; text(): string }) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    };
    const onResponse = (r: { status(): number; url(): string }) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    };
    const onFailed = (r: { url(): string }) => problems.push(`failed ${r.url()}`);
    page.on('console', onConsole);
    page.on('response', onResponse);
    page.on('requestfailed', onFailed);
    const panel = page.locator('#label-objects');
    await panel.scrollIntoViewIfNeeded();
    const counts = (await (await fetch(`${base}/api/runs/${fx.runId}/label-objects`)).json()) as Record<
      string,
      number
    >;
    await expect
      .poll(async () => panel.locator('button[data-kind="phantom"]').textContent(), { timeout: 15_000 })
      .toBe(`Phantom (${counts.phantom})`);
    expect(counts.phantom).toBeGreaterThan(0);
    await panel.locator('.object-item').first().waitFor({ timeout: 15_000 });
    expect(await panel.locator('.object-item').count()).toBe(Math.min(8, counts.phantom));
    expect(await panel.locator('.object-item[data-kind="phantom"] strong').first().textContent()).toBe(
      'delete',
    );
    await panel.locator('.object-item svg polygon').first().waitFor({ timeout: 15_000 });
    expect(await panel.locator('a[href^="http://127.0.0.1:8111/load_and_zoom"]').count()).toBeGreaterThan(0);
    // The page's sticky header would cover an element screenshot's top: scroll the panel below it instead.
    await panel.evaluate((el) => {
      el.scrollIntoView({ block: 'start' });
      window.scrollBy(0, -60);
    });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, 'ui-10-label-objects.png') });
    // Another kind replaces the list; a kind with none says so.
    await panel.locator('button[data-kind="offset"]').click();
    await expect
      .poll(
        async () =>
          (await panel.locator('.object-item[data-kind="offset"]').count()) +
          (await panel.locator('.object-none').count()),
        {
          timeout: 15_000,
        },
      )
      .toBe(counts.offset > 0 ? Math.min(8, counts.offset) : 1);
    const mr = await panel.locator('a[data-object-export="maproulette"]').getAttribute('href');
    expect(mr).toBe(`/api/runs/${fx.runId}/label-objects.maproulette.geojson?kinds=offset`);
    expect((await fetch(`${base}${mr}`)).status).toBe(200);
    await panel.locator('button[data-kind="phantom"]').click();
    await panel.locator('.object-item[data-kind="phantom"] svg polygon').first().waitFor({ timeout: 15_000 });
    page.off('console', onConsole);
    page.off('response', onResponse);
    page.off('requestfailed', onFailed);
    expect(problems).toEqual([]);
  });

  it('a link reproduces the view, and the volunteer view shows nothing that changes anything', async () => {
    const link = page.url();
    const other = await context.newPage();
    await other.goto(link);
    await other.waitForFunction(() => (window as any).__tilelens?.ready === true, null, { timeout: 60_000 });
    const colour = await other.locator('select[data-control="colour"]').inputValue();
    expect(colour).toBe(await page.locator('select[data-control="colour"]').inputValue());
    await other.close();

    const vol = await context.newPage();
    await vol.goto(`${base}/?project=${projectId}&mode=volunteer`);
    await vol.waitForFunction(() => (window as any).__tilelens?.ready === true, null, { timeout: 60_000 });
    expect(
      await vol.locator('a[data-export], #thresholds, .token, button[data-draw], #review, #families').count(),
    ).toBe(0);
    expect(await vol.locator('input[data-layer="confidence"]').isChecked()).toBe(true);
    await vol.waitForTimeout(1500);
    await vol.screenshot({ path: join(SHOTS, 'ui-7-volunteer.png') });
    await vol.close();
  });
});
