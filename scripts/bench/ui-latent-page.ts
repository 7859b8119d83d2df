/**
 * Browser side of the latent benchmark (bundled by ui-latent.ts): the map UI's own latent view — its
 * loader, plot, brushes and selection store — over a run, reporting on `window.bench` the bytes fetched,
 * the time to the first frame and, for each brush, the time from mouse-up to the selection in the store
 * (the plot's highlight included) and to the next frame.
 */
import { LatentLoader } from '../../map-ui/src/data/latent-data.ts';
import { createSelectionStore } from '../../map-ui/src/state/selection.ts';
import { createLatentPlot } from '../../map-ui/src/views/latent-plot.ts';

const params = new URLSearchParams(location.search);
const runId = Number(params.get('run'));
const state: Record<string, unknown> = { phase: 'loading' };
(window as unknown as { bench: Record<string, unknown> }).bench = state;

async function main() {
  const t0 = performance.now();
  const data = await new LatentLoader({ runId, projectId: null }).load([1, 2]);
  const tFetched = performance.now();
  const store = createSelectionStore();
  const plot = createLatentPlot({ container: document.getElementById('plot')!, store });
  await plot.setData(data, 'iou', []);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const tFrame = performance.now();

  let mouseUpAt = 0;
  window.addEventListener('mouseup', () => (mouseUpAt = performance.now()), true);
  store.subscribe((sel) => {
    if (sel.source !== 'latent') return;
    const selectedAt = performance.now();
    requestAnimationFrame(() => {
      state.brush = {
        selected: sel.patches.length + sel.tiles.length,
        selectMs: selectedAt - mouseUpAt,
        frameMs: performance.now() - mouseUpAt,
      };
    });
  });
  (window as unknown as { setBrush: (m: 'lasso' | 'rectangle') => void }).setBrush = (m) => plot.setMode(m);
  plot.setMode('lasso');
  Object.assign(state, {
    phase: 'ready',
    n: data.training.n,
    bytes: data.bytes.positions + data.bytes.attributes,
    positionBytes: data.bytes.positions,
    attributeBytes: data.bytes.attributes,
    fetchDecodeMs: tFetched - t0,
    firstFrameMs: tFrame - t0,
  });
}

main().catch((err: Error) => Object.assign(state, { phase: 'failed', error: err.message }));
