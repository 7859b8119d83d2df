/**
 * The calibration panel in headless Chromium over a synthetic scored project whose truth is known: draw a
 * sample with the button, download its CSV and MapSwipe drafts, import MapSwipe's answers through the file
 * input, read the promise in words (checked against the API's figures), refuse a bad file with its reason,
 * then import a finished mapping and see the after-mapping view. No console error, no failed request.
 * Screenshots go to screenshots/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSyntheticProject,
  syntheticServer,
  type SyntheticProject,
  type SyntheticServer,
} from '../fixtures/synthetic-project.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/lib/headless-chromium.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { aggResultsCsv, answersFor } from '../fixtures/mapswipe-agg-results.ts';

const SHOTS = join(process.cwd(), 'screenshots');
let s: SyntheticServer;
let p: SyntheticProject;
let server: ServerType;
let base: string;
let browser: Browser;
let page: Page;
let dir: string;
const problems: string[] = [];
const truth = new Map<string, boolean>();
let tiles: Array<{ task_id: string; priority: number; status: string; building_prob: number }> = [];

beforeAll(async () => {
  s = await syntheticServer();
  p = await createSyntheticProject(s.db, {
    side: 40,
    origin: { x: 150_000, y: 120_000 },
    name: 'Calibration demo',
  });
  const fc = await (await s.app.request(`/api/projects/${p.projectId}/tiles?limit=5000`)).json();
  tiles = fc.features.map((f: { properties: (typeof tiles)[number] }) => f.properties);
  const rng = createRng(5);
  for (const t of tiles) truth.set(t.task_id, rng.next() < t.building_prob);
  server = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'tilelens-calib-'));
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const context = await browser.newContext({
    viewport: { width: 1500, height: 1000 },
    acceptDownloads: true,
  });
  await context.addInitScript(
    (token: string) => sessionStorage.setItem('tilelens.managerToken', token),
    s.token,
  );
  page = await context.newPage();
  // The panel's own requests must all succeed but the deliberately bad upload (422). The synthetic project
  // has no imagery server and its run no training images, so the map's imagery and the gallery's patch
  // images fail by design and are not this test's business.
  const ours = (url: string) => new URL(url).pathname.startsWith(`/api/projects/${p.projectId}/`);
  const elsewhere = (text: string, url: string) =>
    /\/imagery\/|\/patches\//.test(text) || (/^Failed to load resource/.test(text) && !!url && !ours(url));
  page.on('console', (m) => {
    if (m.type() !== 'error' || elsewhere(m.text(), m.location().url)) return;
    if (/status of 422/.test(m.text()) && /labels\/mapswipe/.test(m.location().url)) return;
    problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('response', (r) => {
    if (ours(r.url()) && r.status() >= 400 && !(r.status() === 422 && /labels\/mapswipe/.test(r.url())))
      problems.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => ours(r.url()) && problems.push(`failed: ${r.url()}`));
  await page.goto(`${base}/?project=${p.projectId}`);
  await page.waitForSelector('#calibration');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const panel = () => page.locator('#calibration');

describe('the calibration panel', () => {
  it('says there is no sample yet, then draws one with the button', async () => {
    await expect
      .poll(() => panel().locator('[data-promise="none"]').textContent())
      .toMatch(/No calibration sample yet/);
    await panel().locator('input[aria-label="sample size"]').fill('150');
    await panel().locator('[data-action="draw-sample"]').click();
    await page.waitForSelector('#calibration [data-sample]');
    expect(await panel().locator('[role=status]').textContent()).toMatch(
      /Sample \d+ drawn: 150 tiles in \d+ strata/,
    );
    await expect
      .poll(() => panel().locator('[data-promise="none"]').textContent())
      .toMatch(/has no usable label yet/);
    await page.locator('#calibration').screenshot({ path: join(SHOTS, 'calibration-drawn.png') });
  });

  it('offers the sample as CSV and as MapSwipe Find drafts', async () => {
    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      panel().locator('[data-download="sample-csv"]').click(),
    ]);
    const csvPath = join(dir, 'sample.csv');
    await csv.saveAs(csvPath);
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^task_id,quadkey,lon,lat,stratum,inclusion_probability/);
    expect(lines).toHaveLength(151);
    const [find] = await Promise.all([
      page.waitForEvent('download'),
      panel().locator('[data-download="sample-mapswipe"]').click(),
    ]);
    const findPath = join(dir, 'find.json');
    await find.saveAs(findPath);
    const drafts = JSON.parse(readFileSync(findPath, 'utf8'));
    expect(drafts.sampleTiles).toBe(150);
    for (const d of drafts.drafts) expect(d.polygons).toBeLessThanOrEqual(20);
  });

  it('refuses a bad file with its reason', async () => {
    const sampleId = Number(await panel().locator('[data-sample]').getAttribute('data-sample'));
    const sample = await (
      await fetch(`${base}/api/projects/${p.projectId}/calibration-samples/${sampleId}`)
    ).json();
    const answers = sample.tiles.map((t: { taskId: string }) => answersFor(t.taskId, truth.get(t.taskId)!));
    const bad = join(dir, 'agg_results_bad.csv');
    writeFileSync(bad, aggResultsCsv([...answers, answers[0]], '-Nsample'));
    await panel().locator('input[type=file]').setInputFiles(bad);
    await expect
      .poll(() => panel().locator('[role=status]').textContent())
      .toMatch(/appears twice.*nothing was stored|nothing was stored.*appears twice/);
    expect(await panel().locator('[role=status]').getAttribute('class')).toMatch(/error/);
    const good = join(dir, 'agg_results_-Nsample.csv');
    writeFileSync(good, aggResultsCsv(answers, '-Nsample', { metadataLine: true }));
    await panel().locator('input[type=file]').setInputFiles(good);
    await expect.poll(() => panel().locator('[role=status]').textContent()).toMatch(/150 answers stored/);
  });

  it('states the promise on the labels, the figures the API gives', async () => {
    await page.waitForSelector('#calibration [data-promise="labels"]');
    const text = await panel().locator('.promise').textContent();
    expect(text).toMatch(
      /On 150 labels from this region: expected recall \d+ % \(\d+ %–\d+ %\) at threshold 0\.50/,
    );
    expect(text).toMatch(/Guaranteed ≥ 95 % with 90 % confidence|no tile can be skipped/);
    const api = await (await fetch(`${base}/api/projects/${p.projectId}/trust?threshold=0.5`)).json();
    const shown = panel().locator('[data-recall]');
    expect(Number(await shown.getAttribute('data-recall'))).toBeCloseTo(api.recall.estimate, 4);
    expect(Number(await shown.getAttribute('data-recall-low'))).toBeCloseTo(api.recall.low, 4);
    // The interval holds the truth of this project.
    const scored = tiles.filter((t) => t.status === 'scored' && truth.get(t.task_id));
    const trueRecall = scored.filter((t) => t.priority >= 0.5).length / scored.length;
    expect(api.recall.low).toBeLessThanOrEqual(trueRecall);
    expect(api.recall.high).toBeGreaterThanOrEqual(trueRecall);
    await page.locator('#calibration').screenshot({ path: join(SHOTS, 'calibration-promise.png') });
  });

  it('after a finished mapping shows the achieved recall and the disagreements', async () => {
    const sent = tiles.filter((t) => t.status === 'scored' && t.priority >= 0.5);
    const mapping = join(dir, 'agg_results_-Nmapping.csv');
    writeFileSync(
      mapping,
      aggResultsCsv(
        sent.map((t) => answersFor(t.task_id, truth.get(t.task_id)!)),
        '-Nmapping',
      ),
    );
    await panel().locator('select[aria-label="answers purpose"]').selectOption('mapping');
    await panel().locator('input[type=file]').setInputFiles(mapping);
    await page.waitForSelector('#calibration [data-after-mapping]');
    expect(await panel().locator('.after-mapping').textContent()).toMatch(
      /achieved recall \d+ % \(\d+ %–\d+ %/,
    );
    expect(await panel().locator('.disagreements tbody tr').count()).toBeGreaterThan(0);
    await page.locator('#calibration').screenshot({ path: join(SHOTS, 'calibration-after-mapping.png') });
    await page.screenshot({ path: join(SHOTS, 'calibration-page.png') });
    expect(problems).toEqual([]);
  });
});
