/**
 * Latent view benchmark in headless Chromium: a synthetic run of N patches written through the db repo,
 * served by the real latent routes, decoded by the map UI's decoder and drawn with regl-scatterplot.
 * Reports bytes sent per point (target ≤ 16), load to first frame (target ≤ 3 s) and a freeform lasso with
 * real mouse events (target ≤ 150 ms), at 1M and at 100k points for the ratio.
 *
 *   npx tsx scripts/bench/ui-latent.ts [--sizes 100000,1000000] [--json]
 *
 * No GPU here: Chromium renders WebGL in software (SwiftShader), which inflates frame and lasso times.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { createSyntheticProject, syntheticServer } from '../../tests/fixtures/synthetic-project.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../lib/headless-chromium.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    json: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const CHROMIUM = CHROMIUM_PATH;
if (!existsSync(CHROMIUM)) {
  console.error('ui-latent: /usr/bin/chromium is missing; install it (scripts/setup.sh --browser) and rerun');
  process.exit(2);
}

const bundle = (
  await build({
    entryPoints: [new URL('./ui-latent-page.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    write: false,
    target: 'es2022',
    logLevel: 'silent',
  })
).outputFiles[0].text;
const PAGE =
  '<!doctype html><meta charset="utf-8"><body style="margin:0"><canvas id="plot" style="width:800px;height:800px"></canvas><script type="module" src="/bench-latent.js"></script>';

async function measure(n: number) {
  const s = syntheticServer();
  const t = performance.now();
  const p = createSyntheticProject(s.db, { side: 4, runPatches: n });
  const writeSeconds = (performance.now() - t) / 1000;
  const http = await new Promise<ServerType>((resolve) => {
    const srv = serve(
      {
        fetch: (req: Request) => {
          const path = new URL(req.url).pathname;
          if (path === '/bench-latent')
            return new Response(PAGE, { headers: { 'Content-Type': 'text/html' } });
          if (path === '/bench-latent.js')
            return new Response(bundle, { headers: { 'Content-Type': 'text/javascript' } });
          return s.app.fetch(req);
        },
        hostname: '127.0.0.1',
        port: 0,
      },
      () => resolve(srv),
    );
  });
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const profile = mkdtempSync(join(tmpdir(), 'tilelens-bench-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport: { width: 900, height: 900 },
    args: CHROMIUM_ARGS,
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`${base}/bench-latent?run=${p.runId}`);
    await page.waitForFunction('window.bench && window.bench.phase !== "loading"', null, {
      timeout: 300_000,
    });
    const ready = (await page.evaluate('window.bench')) as Record<string, number | string>;
    if (ready.phase !== 'ready') throw new Error(`the bench page failed: ${ready.error}`);
    // A freeform lasso, a rough circle a third of the plot across, drawn with real mouse events.
    const lassos = [];
    for (let k = 0; k < 3; k++) {
      const [cx, cy, r] = [300 + k * 100, 400, 150];
      await page.mouse.move(cx + r, cy);
      await page.mouse.down();
      for (let a = 1; a <= 40; a++)
        await page.mouse.move(
          cx + r * Math.cos((a / 40) * 2 * Math.PI),
          cy + r * Math.sin((a / 40) * 2 * Math.PI),
        );
      await page.evaluate('window.bench.lasso = undefined');
      await page.mouse.up();
      await page.waitForFunction('window.bench.lasso', null, { timeout: 60_000 });
      lassos.push(
        (await page.evaluate('window.bench.lasso')) as {
          selected: number;
          selectMs: number;
          frameMs: number;
        },
      );
    }
    return {
      n,
      writeSeconds: +writeSeconds.toFixed(1),
      bytesPerPoint: +(Number(ready.bytes) / n).toFixed(2),
      positionBytesPerPoint: +(Number(ready.positionBytes) / n).toFixed(2),
      attributeBytesPerPoint: +(Number(ready.attributeBytes) / n).toFixed(2),
      fetchDecodeMs: Math.round(Number(ready.fetchDecodeMs)),
      firstFrameMs: Math.round(Number(ready.firstFrameMs)),
      lasso: lassos.map((l) => ({
        selected: l.selected,
        selectMs: Math.round(l.selectMs),
        frameMs: Math.round(l.frameMs),
      })),
    };
  } finally {
    await browser.close();
    await new Promise((resolve) => http.close(resolve));
    await s.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const results = [];
for (const n of sizes) results.push(await measure(n));
const report = {
  bench: 'ui-latent',
  note: 'headless Chromium, software WebGL (no GPU): frame and lasso times are inflated; bytes are not',
  targets: { bytesPerPoint: 16, firstFrameMs: 3000, lassoMs: 150 },
  results,
  ratios:
    results.length >= 2
      ? {
          points: results[results.length - 1].n / results[0].n,
          firstFrame: +(
            results[results.length - 1].firstFrameMs / Math.max(1, results[0].firstFrameMs)
          ).toFixed(1),
          lasso: +(
            results[results.length - 1].lasso[1].selectMs / Math.max(1, results[0].lasso[1].selectMs)
          ).toFixed(1),
        }
      : undefined,
};
if (values.json) console.log(JSON.stringify(report));
else {
  for (const r of results) {
    console.log(
      `ui-latent ${r.n.toLocaleString('en')} points: ${r.bytesPerPoint} B/point (${r.positionBytesPerPoint} positions + ${r.attributeBytesPerPoint} attributes), ` +
        `first frame ${r.firstFrameMs} ms (fetch + decode ${r.fetchDecodeMs} ms), lasso ${r.lasso.map((l) => `${l.selectMs} ms/${l.selected} pts`).join(', ')}; run written in ${r.writeSeconds} s`,
    );
  }
  if (report.ratios) console.log(`ratios ${JSON.stringify(report.ratios)}; ${report.note}`);
}
