import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { perTile, requireBatch, requireFullResolution, requireLayer } from './checks.ts';
import { ModelError } from './errors.ts';
import { prepareBatch } from './preprocess.ts';
import { toProbability } from './probability.ts';
import { modelInfoFrom, type Sidecar } from './sidecar.ts';
import type { AdapterModel, LoadOptions } from './types.ts';

/**
 * ONNX adapter. Every graph output besides the mask is a readable layer; the exporter lists the encoder and decoder
 * levels as outputs, and onnxruntime computes only the outputs a run fetches.
 */
export async function openOnnx(path: string, sidecar: Sidecar, opts: LoadOptions): Promise<AdapterModel> {
  const threads = opts.threads ?? availableParallelism();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new ModelError(
      `model ${basename(path)} could not be opened by onnxruntime: ${(err as Error).message}`,
    );
  }
  try {
    return await wrap(path, sidecar, opts, session, threads);
  } catch (err) {
    await session.release();
    throw err;
  }
}

async function wrap(
  path: string,
  sidecar: Sidecar,
  opts: LoadOptions,
  session: ort.InferenceSession,
  threads: number,
): Promise<AdapterModel> {
  const [h, w] = sidecar.inputSize;
  if (session.inputNames.length !== 1) {
    throw new ModelError(
      `model ${basename(path)} has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); ` +
        'tilelens feeds one N×3×H×W image tensor',
    );
  }
  const inputName = session.inputNames[0];
  const declared = session.inputMetadata[0];
  if (declared?.isTensor) {
    const [, c, dh, dw] = declared.shape;
    const clash = (d: number | string | undefined, want: number) => typeof d === 'number' && d !== want;
    if (declared.shape.length !== 4 || clash(c, 3) || clash(dh, h) || clash(dw, w)) {
      throw new ModelError(
        `model ${basename(path)} takes input [${declared.shape.join(', ')}] but its sidecar says 3×${h}×${w} ` +
          '(NCHW); fix inputSize in the sidecar or re-export the model',
      );
    }
  }
  const outputName = sidecar.output ?? session.outputNames[0];
  requireLayer(path, outputName, [...session.outputNames]);
  const availableLayers = session.outputNames.filter((n) => n !== outputName);
  const layer = opts.layer ?? sidecar.bottleneck;
  requireLayer(path, layer, availableLayers);

  // One blank tile tells the true output sizes, symbolic dimensions included.
  const probe = await session.run(
    { [inputName]: new ort.Tensor('float32', new Float32Array(3 * h * w), [1, 3, h, w]) },
    [...session.outputNames],
  );
  const layerShapes = new Map<string, [number, number, number]>();
  for (const name of session.outputNames)
    layerShapes.set(name, perTile(probe[name].dims, `output "${name}"`, path));
  for (const t of Object.values(probe)) t.dispose();
  const [k, oh, ow] = layerShapes.get(outputName)!;
  requireFullResolution(path, [h, w], [oh, ow]);
  layerShapes.delete(outputName);
  const targetClass = sidecar.targetClass ?? (k === 1 ? 0 : 1);
  if (targetClass >= k) {
    throw new ModelError(
      `model ${basename(path)} has ${k} output channel(s) but its sidecar names targetClass ${targetClass}`,
    );
  }

  const info = modelInfoFrom(sidecar, {
    runtime: 'onnx',
    backend: `cpu (onnxruntime-node ${ort.env.versions.node ?? ''}, ${threads} threads)`,
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
      const input = prepareBatch(batch, n, tile, [h, w], info.normalization, 'NCHW');
      const feeds = { [inputName]: new ort.Tensor('float32', input, [n, 3, h, w]) };
      const out = await session.run(feeds, [outputName, layer]);
      try {
        const probs = toProbability(
          out[outputName].data as Float32Array,
          n,
          k,
          h * w,
          info.outputActivation,
          targetClass,
        );
        // Copy: the tensor's buffer belongs to onnxruntime once disposed.
        const activations = new Float32Array(out[layer].data as Float32Array);
        return { probs, activations, activationShape: info.layerShape };
      } finally {
        out[outputName].dispose();
        out[layer].dispose();
      }
    },
    async dispose() {
      await session.release();
    },
  };
}
