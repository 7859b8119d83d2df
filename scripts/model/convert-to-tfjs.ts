/**
 * Rebuilds a U-Net from unet.py's weights dump as a TF.js layers model (the format Keras models convert to), so that
 * both runtimes run the very same network.
 *
 *   npx tsx scripts/model/convert-to-tfjs.ts --dump server/models/demo-unet.weights.json \
 *     --sidecar server/models/demo-unet.onnx.tilelens.json --out server/models/demo-unet-tfjs
 *
 * Layer names match the ONNX graph's output names (enc1…, bottleneck, dec…, prob), so a layer chosen by name reads
 * the same activations in either runtime.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { fileSaver } from '../../server/lib/model/tfjs-io.ts';

interface WeightsDump {
  arch: { kind: 'unet'; width: number; depth: number; inChannels: number; decoderStages: number };
  inputSize: [number, number];
  layout: 'OIHW';
  bin: string;
  tensors: { layer: string; role: 'kernel' | 'bias'; shape: number[]; offset: number }[];
}

export class ConversionError extends Error {
  override name = 'ConversionError';
}

export function buildUNet(dump: WeightsDump): tf.LayersModel {
  const { width, depth, inChannels, decoderStages } = dump.arch;
  const ch = Array.from({ length: depth }, (_, i) => width * 2 ** i);
  const encNames = [...Array.from({ length: depth - 1 }, (_, i) => `enc${i + 1}`), 'bottleneck'];
  const conv = (x: tf.SymbolicTensor, filters: number, name: string) =>
    tf.layers
      .conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name })
      .apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [...dump.inputSize, inChannels], name: 'input' });
  let x = input;
  const skips: tf.SymbolicTensor[] = [];
  encNames.forEach((name, i) => {
    if (i > 0)
      x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${i}` }).apply(x) as tf.SymbolicTensor;
    x = conv(conv(x, ch[i], `${name}_conv1`), ch[i], name);
    skips.push(x);
  });
  for (let k = 0; k < decoderStages; k++) {
    const level = depth - 2 - k;
    const name = `dec${depth - 1 - k}`;
    // Nearest ×2 then [upsampled, skip] along channels: the same order torch.cat used.
    const up = tf.layers.upSampling2d({ size: [2, 2], name: `${name}_up` }).apply(x) as tf.SymbolicTensor;
    const cat = tf.layers
      .concatenate({ axis: -1, name: `${name}_cat` })
      .apply([up, skips[level]]) as tf.SymbolicTensor;
    x = conv(conv(cat, ch[level], `${name}_conv1`), ch[level], name);
  }
  const logits = tf.layers
    .conv2d({ filters: 1, kernelSize: 1, name: 'logits' })
    .apply(x) as tf.SymbolicTensor;
  const prob = tf.layers
    .activation({ activation: 'sigmoid', name: 'prob' })
    .apply(logits) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: prob, name: 'unet' });
}

/** OIHW (PyTorch) → HWIO (Keras). */
function oihwToHwio(data: Float32Array, [o, i, h, w]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((y * w + x) * i + b) * o + a] = data[((a * i + b) * h + y) * w + x];
  return out;
}

export function loadWeights(model: tf.LayersModel, dump: WeightsDump, bin: Buffer): void {
  const floats = (offset: number, count: number) =>
    new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + 4 * count));
  const byLayer = new Map<string, { kernel?: tf.Tensor; bias?: tf.Tensor }>();
  for (const t of dump.tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + 4 * count > bin.length) {
      throw new ConversionError(
        `weights dump: ${t.layer}.${t.role} runs past the end of ${dump.bin}; re-export it`,
      );
    }
    const entry = byLayer.get(t.layer) ?? {};
    if (t.role === 'kernel') {
      const [o, i, h, w] = t.shape;
      entry.kernel = tf.tensor4d(oihwToHwio(floats(t.offset, count), t.shape), [h, w, i, o]);
    } else {
      entry.bias = tf.tensor1d(floats(t.offset, count));
    }
    byLayer.set(t.layer, entry);
  }
  const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
  for (const layer of convs) {
    const w = byLayer.get(layer.name);
    if (!w?.kernel || !w.bias) {
      throw new ConversionError(
        `weights dump has no kernel and bias for layer ${layer.name}; the dump and arch disagree`,
      );
    }
    layer.setWeights([w.kernel, w.bias]);
    byLayer.delete(layer.name);
  }
  if (byLayer.size > 0) {
    throw new ConversionError(
      `weights dump holds layers the architecture lacks: ${[...byLayer.keys()].join(', ')}`,
    );
  }
}

export async function convert(dumpPath: string, sidecarPath: string, outDir: string): Promise<void> {
  const dump = JSON.parse(await readFile(dumpPath, 'utf8')) as WeightsDump;
  if (dump.arch?.kind !== 'unet' || dump.layout !== 'OIHW') {
    throw new ConversionError(`${dumpPath} is not a unet.py weights dump (arch.kind 'unet', layout 'OIHW')`);
  }
  const bin = await readFile(join(dirname(dumpPath), dump.bin));
  const model = buildUNet(dump);
  loadWeights(model, dump, bin);
  await model.save(fileSaver(tf, outDir, 'tilelens scripts/model/convert-to-tfjs.ts'));
  const sidecar = JSON.parse(await readFile(sidecarPath, 'utf8')) as Record<string, unknown>;
  const provenance = {
    ...(sidecar.provenance as object | undefined),
    convertedFrom: dumpPath.split('/').pop(),
  };
  const { output: _onnxOutput, ...rest } = sidecar;
  await writeFile(
    join(outDir, 'model.json.tilelens.json'),
    JSON.stringify({ ...rest, output: 'prob', provenance }, null, 1) + '\n',
  );
  model.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { dump: { type: 'string' }, sidecar: { type: 'string' }, out: { type: 'string' } },
  });
  if (!values.dump || !values.sidecar || !values.out) {
    console.error(
      'usage: convert-to-tfjs.ts --dump <x.weights.json> --sidecar <x.onnx.tilelens.json> --out <dir>',
    );
    process.exit(2);
  }
  await convert(values.dump, values.sidecar, values.out);
  console.error(`wrote ${values.out}/model.json`);
}
