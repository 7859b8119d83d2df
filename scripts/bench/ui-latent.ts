/**
 * Latent view benchmark in headless Chromium: a synthetic run of N patches written through the db repo,
 * its latent columns written with it, served by the real latent routes and shown by the map UI's own
 * latent view (loader, plot, brushes answered by the worker, selection store). Reports, at each size:
 *   - bytes sent per point (target ≤ 16);
 *   - first frame, cold (a fresh browser) and warm (the page reloaded), target ≤ 2 s cold;
 *   - lasso and rectangle brushes with real mouse events, mouse-up to the selection in the store with the
 *     plot's highlight (target ≤ 100 ms);
 * and beside them, in the same process, the old paths: the columns scanned from the patches at the first
 * request (what every cold open paid before they were stored with the run), and regl-scatterplot's own
 * lasso on the main thread.
 *
 *   npx tsx scripts/bench/ui-latent.ts [--sizes 100000,1000000] [--json]
 *
 * No GPU here: Chromium renders WebGL in software (SwiftShader), which inflates frame times.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { build } from 'esbuild';
import { chromium, type Page } from 'playwright-core';
import { getRun } from '../../server/lib/db/analysis-repo.ts';
import { runAttributes, runPositions, storeRunColumns } from '../../server/lib/latent/run-columns.ts';
import { createSyntheticProject, syntheticServer } from '../../tests/fixtures/synthetic-project.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../lib/headless-chromium.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    json: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
if (!existsSync(CHROMIUM_PATH)) {
  console.error('ui-latent: /usr/bin/chromium is missing; install it (scripts/setup.sh --browser) and rerun');
  process.exit(2);
}

async function bundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [new URL(entry, import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    write: false,
    target: 'es2022',
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}
const scripts: Record<string, string> = {
  '/bench-latent.js': await bundle('./ui-latent-page.ts'),
  '/bench-latent-regl.js': await bundle('./ui-latent-page-regl.ts'),
  // The plot starts its brush worker from `new URL('./point-selector.worker.ts', import.meta.url)`.
  '/point-selector.worker.ts': await bundle('../../map-ui/src/views/point-selector.worker.ts'),
};
/** The plot fills an 800 px square; its layers stack as the app's stylesheet stacks them. */
const html = (body: string, script: string) =>
  `<!doctype html><meta charset="utf-8"><style>body{margin:0}#plot>canvas{position:absolute;left:0;top:0;width:100%;height:100%}#plot>canvas:not(.latent-points){pointer-events:none}</style>${body}<script type="module" src="${script}"></script>`;
const pages: Record<string, string> = {
  '/bench-latent': html(
    '<div id="plot" style="position:relative;width:800px;height:800px"></div>',
    '/bench-latent.js',
  ),
  '/bench-latent-regl': html(
    '<canvas id="plot" style="width:800px;height:800px"></canvas>',
    '/bench-latent-regl.js',
  ),
};

interface Ready {
  phase: string;
  error?: string;
  bytes: number;
  positionBytes: number;
  attributeBytes: number;
  fetchDecodeMs: number;
  firstFrameMs: number;
}
interface Brush {
  selected: number;
  selectMs: number;
  frameMs: number;
}

async function ready(p: Page, url: string): Promise<Ready> {
  await p.goto(url);
  await p.waitForFunction('window.bench && window.bench.phase !== "loading"', null, { timeout: 600_000 });
  const r = (await p.evaluate('window.bench')) as Ready;
  if (r.phase !== 'ready') throw new Error(`the bench page failed: ${r.error}`);
  return r;
}

/** Brushes dragged with real mouse events: three lasso circles and two rectangles, each a third of the plot across. */
async function brushes(p: Page): Promise<{ lasso: Brush[]; rectangle: Brush[] }> {
  const out = { lasso: [] as Brush[], rectangle: [] as Brush[] };
  for (const kind of ['lasso', 'rectangle'] as const) {
    await p.evaluate(`window.setBrush(${JSON.stringify(kind)})`);
    for (let k = 0; k < (kind === 'lasso' ? 3 : 2); k++) {
      const [cx, cy, r] = [300 + k * 100, 400, 150];
      await p.evaluate('window.bench.brush = undefined');
      if (kind === 'lasso') {
        await p.mouse.move(cx + r, cy);
        await p.mouse.down();
        for (let a = 1; a <= 40; a++)
          await p.mouse.move(
            cx + r * Math.cos((a / 40) * 2 * Math.PI),
            cy + r * Math.sin((a / 40) * 2 * Math.PI),
          );
      } else {
        await p.mouse.move(cx - r, cy - r);
        await p.mouse.down();
        await p.mouse.move(cx + r, cy + r, { steps: 10 });
      }
      await p.mouse.up();
      await p.waitForFunction('window.bench.brush', null, { timeout: 120_000 });
      const b = (await p.evaluate('window.bench.brush')) as Brush;
      out[kind].push({
        selected: b.selected,
        selectMs: Math.round(b.selectMs),
        frameMs: Math.round(b.frameMs),
      });
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(n: number) {
  const s = await syntheticServer();
  let t = performance.now();
  const p = await createSyntheticProject(s.db, { side: 4, runPatches: n, latentColumns: 'lazy' });
  const writeSeconds = (performance.now() - t) / 1000;
  const run = (await getRun(s.db, p.runId))!;
  // The old path: every cold open scanned the patches. Now the same pass runs once, when the run is stored.
  t = performance.now();
  await storeRunColumns(s.db, run);
  const columnsPassMs = performance.now() - t;
  t = performance.now();
  await runPositions(s.db, run, 1, 2);
  await runAttributes(s.db, run);
  const storedAnswerMs = performance.now() - t;

  const http = await new Promise<ServerType>((resolve) => {
    const srv = serve(
      {
        fetch: (req: Request) => {
          const path = new URL(req.url).pathname;
          if (path === '/favicon.ico') return new Response(null, { status: 204 });
          if (pages[path]) return new Response(pages[path], { headers: { 'Content-Type': 'text/html' } });
          if (scripts[path])
            return new Response(scripts[path], { headers: { 'Content-Type': 'text/javascript' } });
          return s.app.fetch(req);
        },
        hostname: '127.0.0.1',
        port: 0,
      },
      () => resolve(srv),
    );
  });
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const launch = async () => {
    const profile = mkdtempSync(join(tmpdir(), 'tilelens-bench-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      viewport: { width: 900, height: 900 },
      args: CHROMIUM_ARGS,
    });
    return { browser, page: browser.pages()[0] ?? (await browser.newPage()), profile };
  };
  const errors: string[] = [];
  try {
    const fresh = await launch();
    fresh.page.on('pageerror', (e) => errors.push(e.message));
    fresh.page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    let cold: Ready, warm: Ready, brushed: Awaited<ReturnType<typeof brushes>>;
    try {
      cold = await ready(fresh.page, `${base}/bench-latent?run=${p.runId}`);
      warm = await ready(fresh.page, `${base}/bench-latent?run=${p.runId}`);
      brushed = await brushes(fresh.page);
    } finally {
      await fresh.browser.close();
      rmSync(fresh.profile, { recursive: true, force: true });
    }
    const old = await launch();
    let regl: Ready, reglBrushed: Awaited<ReturnType<typeof brushes>>;
    try {
      regl = await ready(old.page, `${base}/bench-latent-regl?run=${p.runId}`);
      reglBrushed = await brushes(old.page);
    } finally {
      await old.browser.close();
      rmSync(old.profile, { recursive: true, force: true });
    }
    const lassoMs = median(brushed.lasso.map((b) => b.selectMs));
    const rectangleMs = median(brushed.rectangle.map((b) => b.selectMs));
    const reglLassoMs = median(reglBrushed.lasso.map((b) => b.selectMs));
    return {
      n,
      writeSeconds: +writeSeconds.toFixed(1),
      bytesPerPoint: +(cold.bytes / n).toFixed(2),
      positionBytesPerPoint: +(cold.positionBytes / n).toFixed(2),
      attributeBytesPerPoint: +(cold.attributeBytes / n).toFixed(2),
      server: {
        columnsPassMs: Math.round(columnsPassMs),
        storedAnswerMs: Math.round(storedAnswerMs),
        ratio: +(columnsPassMs / Math.max(1, storedAnswerMs)).toFixed(1),
      },
      firstFrameMs: { cold: Math.round(cold.firstFrameMs), warm: Math.round(warm.firstFrameMs) },
      fetchDecodeMs: { cold: Math.round(cold.fetchDecodeMs), warm: Math.round(warm.fetchDecodeMs) },
      lasso: brushed.lasso,
      rectangle: brushed.rectangle,
      lassoMs,
      rectangleMs,
      old: {
        firstFrameMsWithStoredColumns: Math.round(regl.firstFrameMs),
        firstFrameMsWithColumnsPass: Math.round(regl.firstFrameMs + columnsPassMs),
        lasso: reglBrushed.lasso,
        lassoMs: reglLassoMs,
      },
      lassoSpeedup: +(reglLassoMs / Math.max(1, lassoMs)).toFixed(1),
      pageErrors: errors,
    };
  } finally {
    await new Promise((resolve) => http.close(resolve));
    await s.close();
  }
}

const load = loadavg()[0];
const results = [];
for (const n of sizes) results.push(await measure(n));
const report = {
  bench: 'ui-latent',
  note: 'headless Chromium, software WebGL (no GPU): frame times are inflated; bytes are not',
  loadAverage: +load.toFixed(1),
  cores: (await import('node:os')).cpus().length,
  targets: { bytesPerPoint: 16, firstFrameMsCold: 2000, brushMs: 100 },
  results,
};
if (values.json) console.log(JSON.stringify(report));
else {
  for (const r of results) {
    console.log(
      `ui-latent ${r.n.toLocaleString('en')} points: ${r.bytesPerPoint} B/point (${r.positionBytesPerPoint} positions + ${r.attributeBytesPerPoint} attributes); ` +
        `first frame cold ${r.firstFrameMs.cold} ms, warm ${r.firstFrameMs.warm} ms (fetch + decode ${r.fetchDecodeMs.cold} / ${r.fetchDecodeMs.warm} ms); ` +
        `lasso ${r.lasso.map((l) => `${l.selectMs} ms/${l.selected} pts`).join(', ')}; rectangle ${r.rectangle.map((l) => `${l.selectMs} ms/${l.selected} pts`).join(', ')}`,
    );
    console.log(
      `  old paths, same process: columns scanned at the request ${r.server.columnsPassMs} ms vs stored ${r.server.storedAnswerMs} ms (×${r.server.ratio}); ` +
        `regl-scatterplot's own lasso ${r.old.lasso.map((l) => `${l.selectMs} ms/${l.selected} pts`).join(', ')} (median ×${r.lassoSpeedup} the worker's); ` +
        `its first frame ${r.old.firstFrameMsWithStoredColumns} ms, +${r.server.columnsPassMs} ms when the columns were scanned per request; run written in ${r.writeSeconds} s` +
        (r.pageErrors.length ? `; PAGE ERRORS: ${r.pageErrors.join(' | ')}` : ''),
    );
  }
  console.log(`load average ${report.loadAverage} on ${report.cores} cores; ${report.note}`);
}
