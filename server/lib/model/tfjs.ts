import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';
import type * as tfType from '@tensorflow/tfjs';
import { perTile, requireBatch, requireFullResolution, requireLayer } from './checks.ts';
import { ModelError } from './errors.ts';
import { prepareBatch } from './preprocess.ts';
import { toProbability } from './probability.ts';
import { modelInfoFrom, type Sidecar } from './sidecar.ts';
import { fileLoader } from './tfjs-io.ts';
import type { AdapterModel, LoadOptions } from './types.ts';

type Tf = typeof tfType;

let engine: Promise<{ tf: Tf; backend: string }> | undefined;

/**
 * The fastest TF.js engine present: tfjs-node-gpu, tfjs-node (both download libtensorflow when installed, so they
 * are optional and looked up by name), else the wasm backend shipped with the project. Chosen once per process,
 * as TF.js backends are global.
 */
export function tfjsEngine(): Promise<{ tf: Tf; backend: string }> {
  engine ??= (async () => {
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        const tf = (await import(pkg)) as Tf;
        return { tf, backend: `${tf.getBackend()} (${pkg})` };
      } catch {
        // Not installed: try the next one.
      }
    }
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(
      `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`,
    );
    if (!(await tf.setBackend('wasm'))) {
      throw new ModelError('the TF.js wasm backend failed to start; reinstall @tensorflow/tfjs-backend-wasm');
    }
    await tf.ready();
    return { tf, backend: 'wasm (@tensorflow/tfjs-backend-wasm)' };
  })();
  return engine;
}

/**
 * TF.js adapter for Keras-converted layers models; the chosen layer is read through a two-output sub-model.
 * `opts.threads` is not applied: TF.js backends size their own thread pools.
 */
export async function openTfjs(path: string, sidecar: Sidecar, opts: LoadOptions): Promise<AdapterModel> {
  const { tf, backend } = await tfjsEngine();
  let model: tfType.LayersModel;
  try {
    model = await tf.loadLayersModel(fileLoader(tf, path));
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError(`TF.js model ${basename(path)} could not be loaded: ${(err as Error).message}`);
  }
  try {
    return wrap(tf, backend, path, sidecar, opts, model);
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function wrap(
  tf: Tf,
  backend: string,
  path: string,
  sidecar: Sidecar,
  opts: LoadOptions,
  model: tfType.LayersModel,
): AdapterModel {
  const [h, w] = sidecar.inputSize;
  const inShape = model.inputs[0]?.shape ?? [];
  if (model.inputs.length !== 1 || inShape.length !== 4 || inShape[3] !== 3) {
    throw new ModelError(
      `TF.js model ${basename(path)} takes input [${inShape.join(', ')}]; tilelens feeds one N×H×W×3 image tensor`,
    );
  }
  if ((inShape[1] !== null && inShape[1] !== h) || (inShape[2] !== null && inShape[2] !== w)) {
    throw new ModelError(
      `TF.js model ${basename(path)} takes ${inShape[1]}×${inShape[2]} input but its sidecar says ${h}×${w}; fix the sidecar`,
    );
  }
  const outLayer = sidecar.output ? model.getLayer(sidecar.output) : model.outputLayers[0];
  const outTensor = outLayer.output as tfType.SymbolicTensor;
  const inputLayerNames = new Set(model.inputLayers.map((l) => l.name));
  const candidates = model.layers.filter(
    (l) => !inputLayerNames.has(l.name) && l.name !== outLayer.name && !Array.isArray(l.output),
  );
  const availableLayers = candidates.map((l) => l.name);
  const layer = opts.layer ?? sidecar.bottleneck;
  requireLayer(path, layer, availableLayers);

  // Shapes come from a blank tile rather than the topology so that unknown spatial sizes resolve too.
  const probeNames = [outLayer.name, ...availableLayers];
  const probeModel = tf.model({
    inputs: model.inputs,
    outputs: probeNames.map((n) => model.getLayer(n).output as tfType.SymbolicTensor),
  });
  const layerShapes = new Map<string, [number, number, number]>();
  tf.tidy(() => {
    const outs = probeModel.predict(tf.zeros([1, h, w, 3])) as tfType.Tensor[];
    outs.forEach((t, i) => {
      const [, th, tw, c] = t.shape;
      layerShapes.set(probeNames[i], perTile([1, c ?? 1, th, tw], `layer "${probeNames[i]}"`, path));
    });
  });
  const [k, oh, ow] = layerShapes.get(outLayer.name)!;
  layerShapes.delete(outLayer.name);
  requireFullResolution(path, [h, w], [oh, ow]);
  const targetClass = sidecar.targetClass ?? (k === 1 ? 0 : 1);
  if (targetClass >= k) {
    throw new ModelError(
      `TF.js model ${basename(path)} has ${k} output channel(s) but its sidecar names targetClass ${targetClass}`,
    );
  }

  const sub = tf.model({
    inputs: model.inputs,
    outputs: [outTensor, model.getLayer(layer).output as tfType.SymbolicTensor],
  });
  const info = modelInfoFrom(sidecar, {
    runtime: 'tfjs',
    backend: backend,
    inputSize: [h, w],
    layer,
    layerShapes,
    availableLayers,
  });

  return {
    info,
    layerShapes,
    async predict(batch, n, tileSize) {
      const tile = requireBatch(info.name, batch, n, tileSize);
      const input = prepareBatch(batch, n, tile, [h, w], info.normalization, 'NHWC');
      // NCHW for the common interface; transposing inside TF.js is cheaper than in JS.
      const [out, act] = tf.tidy((): [tfType.Tensor, tfType.Tensor] => {
        const [o, a] = sub.predict(tf.tensor4d(input, [n, h, w, 3])) as tfType.Tensor[];
        return [o.transpose([0, 3, 1, 2]), a.transpose([0, 3, 1, 2])];
      });
      try {
        const [outData, actData] = await Promise.all([
          out.data() as Promise<Float32Array>,
          act.data() as Promise<Float32Array>,
        ]);
        const probs = toProbability(outData, n, k, h * w, info.outputActivation, targetClass);
        return { probs, activations: actData, activationShape: info.layerShape };
      } finally {
        out.dispose();
        act.dispose();
      }
    },
    async dispose() {
      model.dispose();
    },
  };
}
