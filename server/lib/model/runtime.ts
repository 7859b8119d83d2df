import { basename } from 'node:path';
import { ModelError } from './errors.ts';
import { readSidecar } from './sidecar.ts';
import type { AdapterModel, LayerDescription, LoadOptions, RuntimeName, SegmentationModel } from './types.ts';

export type {
  LayerDescription,
  LoadOptions,
  ModelInfo,
  Prediction,
  RuntimeName,
  SegmentationModel,
} from './types.ts';
export { ModelError } from './errors.ts';
export { resizeMask } from './preprocess.ts';

function runtimeFor(path: string, asked?: RuntimeName): RuntimeName {
  if (asked) return asked;
  if (path.endsWith('.onnx')) return 'onnx';
  if (path.endsWith('.json')) return 'tfjs';
  throw new ModelError(
    `model ${basename(path)}: cannot tell the runtime from the file name; pass an .onnx file, a TF.js model.json, ` +
      `or opts.runtime`,
  );
}

/** Opens an ONNX graph or a TF.js layers model with its `<file>.tilelens.json` sidecar. */
export function loadModel(path: string, opts: LoadOptions = {}): Promise<SegmentationModel> {
  return open(path, opts);
}

async function open(path: string, opts: LoadOptions): Promise<AdapterModel> {
  const sidecar = await readSidecar(path);
  if (runtimeFor(path, opts.runtime) === 'onnx') {
    const { openOnnx } = await import('./onnx.ts');
    return openOnnx(path, sidecar, opts);
  }
  const { openTfjs } = await import('./tfjs.ts');
  return openTfjs(path, sidecar, opts);
}

/** Every layer whose activations `loadModel(path, { layer })` can return, with its per-tile shape. */
export async function listLayers(
  path: string,
  opts: Omit<LoadOptions, 'layer'> = {},
): Promise<LayerDescription[]> {
  const model = await open(path, opts);
  try {
    return model.info.availableLayers.map((name) => ({
      name,
      shape: model.layerShapes.get(name)!,
      isDefaultBottleneck: name === model.info.layer,
    }));
  } finally {
    await model.dispose();
  }
}
