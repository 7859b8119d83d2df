/**
 * The baseline of the latent benchmark (bundled by ui-latent.ts): the run's columns drawn straight with
 * regl-scatterplot and brushed with its own lasso (a k-d tree and a polygon test on the main thread), as
 * the latent view did before its brushes went to a worker. Reports on `window.bench` as ui-latent-page.ts.
 */
import createScatterplot from 'regl-scatterplot';
import { decodeColumns } from '../../map-ui/src/data/columns.ts';

const runId = Number(new URLSearchParams(location.search).get('run'));
const state: Record<string, unknown> = { phase: 'loading' };
(window as unknown as { bench: Record<string, unknown> }).bench = state;

async function main() {
  const t0 = performance.now();
  const [pos, attrs] = await Promise.all(
    [`/api/runs/${runId}/latent?x=1&y=2`, `/api/runs/${runId}/latent/attributes`].map(async (u) =>
      decodeColumns(await (await fetch(u)).arrayBuffer()),
    ),
  );
  const tFetched = performance.now();
  const n = pos.rows;
  const xs = pos.columns.x.codes;
  const ys = pos.columns.y.codes;
  const iou = attrs.columns.iou?.codes;
  const iouNull = attrs.columns.iou?.header.nullCode ?? 255;
  const iouMax = iouNull - 1;
  // Quantised codes map straight to normalised device coordinates: no dequantise pass over a million points.
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const z = new Float32Array(n);
  const scaleX = 2 / 65534;
  for (let i = 0; i < n; i++) {
    x[i] = xs[i] * scaleX - 1;
    y[i] = ys[i] * scaleX - 1;
    z[i] = iou && iou[i] !== iouNull ? iou[i] / iouMax : 0;
  }
  const canvas = document.getElementById('plot') as HTMLCanvasElement;
  const scatterplot = createScatterplot({
    canvas,
    width: 800,
    height: 800,
    pointSize: 2,
    colorBy: 'valueA',
    pointColor: ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'],
    opacityInactiveScale: 0.25,
    lassoMinDelay: 0,
    lassoMinDist: 2,
  });
  await scatterplot.draw({ x, y, z } as never);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const tFrame = performance.now();
  let mouseUpAt = 0;
  window.addEventListener('mouseup', () => (mouseUpAt = performance.now()), true);
  scatterplot.subscribe('select', ({ points }: { points: number[] }) => {
    const selectedAt = performance.now();
    requestAnimationFrame(() => {
      state.brush = {
        selected: points.length,
        selectMs: selectedAt - mouseUpAt,
        frameMs: performance.now() - mouseUpAt,
      };
    });
  });
  scatterplot.set({ mouseMode: 'lasso' } as never);
  (window as unknown as { setBrush: (m: 'lasso' | 'rectangle') => void }).setBrush = (m) =>
    scatterplot.set({ lassoType: m === 'rectangle' ? 'rectangle' : 'freeform' } as never);
  Object.assign(state, {
    phase: 'ready',
    n,
    bytes: pos.byteLength + attrs.byteLength,
    positionBytes: pos.byteLength,
    attributeBytes: attrs.byteLength,
    fetchDecodeMs: tFetched - t0,
    firstFrameMs: tFrame - t0,
  });
}

main().catch((err: Error) => Object.assign(state, { phase: 'failed', error: err.message }));
