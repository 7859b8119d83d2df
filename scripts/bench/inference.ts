/**
 * Patches per second of one model through onnxruntime-node (batch 16, the baseline), TF.js on the same network,
 * and onnxruntime at batch 1. Tiles are random 256² RGB, so the runtime's resize to the model input is counted.
 *
 *   nice npx tsx scripts/bench/inference.ts [--onnx server/models/demo-unet.onnx]
 *     [--tfjs server/models/demo-unet-tfjs/model.json] [--seconds 5] [--tile 256] [--threads N]
 *
 * Prints a table and ends with one JSON line.
 */
import { availableParallelism, cpus, getPriority } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel, type SegmentationModel } from '../../server/lib/model/runtime.ts';

const { values } = parseArgs({
  options: {
    onnx: { type: 'string', default: 'server/models/demo-unet.onnx' },
    tfjs: { type: 'string', default: 'server/models/demo-unet-tfjs/model.json' },
    seconds: { type: 'string', default: '5' },
    tile: { type: 'string', default: '256' },
    threads: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const tile = Number(values.tile);
const threads = values.threads ? Number(values.threads) : availableParallelism();

function randomTiles(n: number): Uint8Array {
  const out = new Uint8Array(n * tile * tile * 3);
  let s = 1;
  for (let i = 0; i < out.length; i++) out[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

async function measure(
  model: SegmentationModel,
  batch: number,
): Promise<{ patchesPerSec: number; runs: number }> {
  const tiles = randomTiles(batch);
  await model.predict(tiles, batch); // first run allocates and, for TF.js, compiles
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000 || runs < 3) {
    await model.predict(tiles, batch);
    runs++;
  }
  return { patchesPerSec: (runs * batch) / ((performance.now() - start) / 1000), runs };
}

const cases = [
  { name: 'onnx batch 16', path: values.onnx, runtime: 'onnx' as const, batch: 16 },
  { name: 'tfjs batch 16', path: values.tfjs, runtime: 'tfjs' as const, batch: 16 },
  { name: 'onnx batch 1', path: values.onnx, runtime: 'onnx' as const, batch: 1 },
];
const results: { name: string; backend: string; batch: number; patchesPerSec: number; ratio: number }[] = [];
let inputSize: [number, number] = [0, 0];
for (const c of cases) {
  const model = await loadModel(c.path, { runtime: c.runtime, threads });
  inputSize = model.info.inputSize;
  const { patchesPerSec } = await measure(model, c.batch);
  await model.dispose();
  const ratio = results.length ? patchesPerSec / results[0].patchesPerSec : 1;
  results.push({ name: c.name, backend: model.info.backend, batch: c.batch, patchesPerSec, ratio });
}

console.log(
  `model ${values.onnx} (input ${inputSize.join('×')}), tiles ${tile}², ${threads} threads, ` +
    `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), nice ${getPriority()}`,
);
for (const r of results) {
  console.log(
    `${r.name.padEnd(14)} ${r.patchesPerSec.toFixed(1).padStart(8)} patches/s  ×${r.ratio.toFixed(3)} of onnx batch 16  [${r.backend}]`,
  );
}
console.log(
  JSON.stringify({
    bench: 'inference',
    model: values.onnx,
    inputSize,
    tile,
    threads,
    nice: getPriority(),
    results: results.map((r) => ({
      ...r,
      patchesPerSec: Number(r.patchesPerSec.toFixed(2)),
      ratio: Number(r.ratio.toFixed(4)),
    })),
  }),
);
