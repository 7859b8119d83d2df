/**
 * The UI in headless Chromium on a scored demo world: its first load — map, volunteer view — makes no
 * failed request and logs no console error (imagery below the native zoom comes from overviews, and
 * nothing is asked for below them); then the export panel publishes to a MapSwipe stand-in: a preview
 * (the dry run) lists the projects, Publish creates them, and the publication shows each remote id.
 * Screenshots go to screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoImagery, ensureDemoProject } from '../../server/demo-server.ts';
import { latestJob, waitForJob } from '../../server/lib/scoring/jobs.ts';
import { runInsights } from '../../server/lib/insights/run-insights.ts';
import {
  ensureUiBuilt,
  freshChromium,
  serveOnLoopback,
  type FreshChromium,
  type LoopbackServer,
} from '../fixtures/ui-browser.ts';
import { serverFixture, TOKEN, type ServerFixture } from '../integration/server-fixture.ts';
import { startMapswipeStandIn, type MapswipeStandIn } from '../support/mapswipe-stand-in.ts';

const SHOTS = join(process.cwd(), 'screenshots');
const PASSWORD = 'stand-in password 0123';

let fx: ServerFixture;
let ms: MapswipeStandIn;
let server: LoopbackServer;
let base: string;
let projectId: number;
let browser: FreshChromium;
let context: BrowserContext;

beforeAll(async () => {
  ensureUiBuilt();
  mkdirSync(SHOTS, { recursive: true });
  ms = await startMapswipeStandIn({ users: { manager: PASSWORD } });
  fx = await serverFixture({ world: true, settings: { 'mapswipe-url': ms.url } });
  // The review queue and families come from the insights pass, as `npm run demo` runs it.
  await runInsights(fx.db, fx.runId!);
  const imagery = await ensureDemoImagery(fx.scoring, fx.worldDir);
  projectId = (await ensureDemoProject(fx.scoring, fx.worldDir, imagery.id, fx.runId!)).id;
  await waitForJob(fx.scoring, (await latestJob(fx.scoring, projectId))!.id);
  server = await serveOnLoopback(fx.app.fetch);
  base = server.base;
  browser = await freshChromium({ token: TOKEN });
  context = browser.context;
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await ms?.close();
  await fx?.close();
});

/** Every failed request, error status and console error of a page from its first request on. */
function watch(page: Page) {
  const problems: string[] = [];
  const imagery = new Map<number, number>();
  page.on(
    'console',
    (m) => m.type() === 'error' && problems.push(`console: ${m.text()} (${m.location().url})`),
  );
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    const m = /\/imagery\/\d+\/(\d+)\//.exec(r.url());
    if (m && r.status() === 200) imagery.set(Number(m[1]), (imagery.get(Number(m[1])) ?? 0) + 1);
  });
  return { problems, imagery };
}

/** Waits until the map has drawn every imagery tile in view. */
async function imageryLoaded(page: Page) {
  await page.waitForFunction(
    () => {
      const map = (window as any).__tilelens?.map;
      return !!map?.getSource('imagery') && map.isSourceLoaded('imagery') && map.areTilesLoaded();
    },
    null,
    { timeout: 120_000 },
  );
}

describe('the first load', () => {
  it('of the manager view makes no failed request: zoomed-out imagery comes from overviews', async () => {
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${base}/?project=${projectId}`);
    await page.waitForFunction(() => (window as any).__tilelens?.ready === true, null, { timeout: 120_000 });
    await imageryLoaded(page);
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(SHOTS, 'publish-1-first-load.png') });
    expect(seen.problems).toEqual([]);
    const zooms = [...seen.imagery.keys()];
    expect(zooms.length).toBeGreaterThan(0);
    // The map opens zoomed out on the project: the tiles it drew are overviews of the z18 imagery.
    expect(Math.min(...zooms)).toBeLessThan(18);
    expect(Math.min(...zooms)).toBeGreaterThanOrEqual(12);
    await page.close();
  });

  it('of the volunteer view makes no failed request either', async () => {
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${base}/volunteer?project=${projectId}`);
    await imageryLoaded(page);
    await page.waitForTimeout(1000);
    expect(seen.problems).toEqual([]);
    await page.close();
  });
});

describe('publishing from the export panel', () => {
  it('previews, then publishes to MapSwipe and lists what was made', async () => {
    const page = await context.newPage();
    const seen = watch(page);
    await page.goto(`${base}/?project=${projectId}`);
    const panel = page.locator('#publish');
    await panel.locator('[data-action="open-mapswipe"]').click();
    const form = panel.locator('[data-form="mapswipe"]');
    await form.locator('input[name="organisation"]').fill('1');
    await form.locator('input[name="region"]').fill('Lilongwe');
    await form.locator('input[name="projectNumber"]').fill('2');
    await form.locator('[data-action="preview"]').click();
    await panel.locator('[data-plan="mapswipe"]').waitFor();
    const planned = await panel
      .locator('[data-planned]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-planned')));
    // The form offers high and medium: a Find project for each of them that holds tiles, as the download has.
    const downloaded = await (await fetch(`${base}/api/projects/${projectId}/exports/mapswipe-find`)).json();
    const finds = (downloaded.drafts as { tier: string }[])
      .map((d) => d.tier)
      .filter((t) => t === 'high' || t === 'medium');
    expect(finds.length).toBeGreaterThan(0);
    expect(planned).toEqual([...finds.map((t) => `find:${t}`), 'validate']);
    expect(ms.calls).toHaveLength(0);
    await page.locator('#exports').screenshot({ path: join(SHOTS, 'publish-2-preview.png') });

    await form.locator('input[name="username"]').fill('manager');
    await form.locator('input[name="password"]').fill(PASSWORD);
    await form.locator('[data-action="publish"]').click();
    await panel.locator('[data-publication][data-status="done"]').waitFor({ timeout: 60_000 });
    expect(await panel.locator('[role=status]').textContent()).toMatch(
      new RegExp(`Publication \\d+: done, ${finds.length + 1} project\\(s\\) sent`),
    );
    const remote = await panel
      .locator('[data-publication] [data-remote]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-remote')));
    expect(remote.sort()).toEqual(ms.projects.map((p) => p.id).sort());
    expect(ms.projects.map((p) => p.projectType).sort()).toEqual([...finds.map(() => 'FIND'), 'VALIDATE']);
    await page.locator('#exports').screenshot({ path: join(SHOTS, 'publish-3-published.png') });
    expect(seen.problems).toEqual([]);
    await page.close();
  });
});
