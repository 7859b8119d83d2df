import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listLayers, loadModel, ModelError, type SegmentationModel } from '../../server/lib/model/runtime.ts';

const FIXTURE = 'tests/fixtures/tiny-unet';
const MODELS = {
  onnx: { tiny: join(FIXTURE, 'tiny.onnx'), halfres: join(FIXTURE, 'halfres.onnx') },
  tfjs: { tiny: join(FIXTURE, 'tiny-tfjs/model.json'), halfres: join(FIXTURE, 'halfres-tfjs/model.json') },
} as const;

/** Two 32×32 tiles and PyTorch's probabilities and bottleneck for them (make-tiny-fixture.py). */
function golden() {
  const index = JSON.parse(readFileSync(join(FIXTURE, 'golden.json'), 'utf8')) as Record<
    string,
    { offset: number; bytes: number }
  >;
  const bin = readFileSync(join(FIXTURE, 'golden.bin'));
  const slice = (k: string) =>
    bin.buffer.slice(bin.byteOffset + index[k].offset, bin.byteOffset + index[k].offset + index[k].bytes);
  return {
    tiles: new Uint8Array(slice('tiles')),
    probs: new Float32Array(slice('probs')),
    bottleneck: new Float32Array(slice('bottleneck')),
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Each pixel repeated 2×2: a bilinear halving gives the original back exactly. */
function upsample2(tiles: Uint8Array, n: number, side: number): Uint8Array {
  const out = new Uint8Array(n * side * side * 12);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < 2 * side; y++)
      for (let x = 0; x < 2 * side; x++)
        for (let c = 0; c < 3; c++)
          out[((i * 2 * side + y) * 2 * side + x) * 3 + c] =
            tiles[((i * side + (y >> 1)) * side + (x >> 1)) * 3 + c];
  return out;
}

const g = golden();

describe.each(['onnx', 'tfjs'] as const)('%s adapter on the tiny U-Net', (runtime) => {
  let model: SegmentationModel;
  beforeAll(async () => {
    model = await loadModel(MODELS[runtime].tiny, { threads: 1 });
  });
  afterAll(() => model?.dispose());

  it('describes the model from its graph and sidecar', () => {
    expect(model.info).toMatchObject({
      name: 'tiny-unet',
      runtime,
      inputSize: [32, 32],
      bands: 3,
      outputActivation: 'none',
      tileResize: 'bilinear',
      layer: 'bottleneck',
      layerShape: [8, 8, 8],
    });
    expect(model.info.availableLayers).toEqual(
      expect.arrayContaining(['enc1', 'enc2', 'bottleneck', 'dec2', 'dec1']),
    );
    expect(model.info.availableLayers).not.toContain('prob');
  });

  it("reproduces PyTorch's probabilities and bottleneck", async () => {
    const out = await model.predict(g.tiles, 2);
    expect(out.activationShape).toEqual([8, 8, 8]);
    expect(maxAbsDiff(out.probs, g.probs)).toBeLessThan(1e-4);
    expect(maxAbsDiff(out.activations, g.bottleneck)).toBeLessThan(1e-4);
  });

  it('resizes tiles of another size to the model input', async () => {
    const big = await model.predict(upsample2(g.tiles, 2, 32), 2);
    expect(big.probs.length).toBe(2 * 32 * 32);
    expect(maxAbsDiff(big.probs, g.probs)).toBeLessThan(1e-4);
  });

  it('names the layers it has when asked for one it lacks', async () => {
    const err = await loadModel(MODELS[runtime].tiny, { layer: 'decoder.4' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(/no layer "decoder\.4".*enc1.*bottleneck/);
  });

  it('refuses a model whose mask is smaller than its input', async () => {
    const err = await loadModel(MODELS[runtime].halfres).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(
      /outputs 16×16 for 32×32 input; tilelens needs a full-resolution mask/,
    );
  });

  it('refuses a batch that is not n RGB tiles', async () => {
    await expect(model.predict(g.tiles.subarray(0, 100), 2)).rejects.toThrow(ModelError);
    await expect(model.predict(g.tiles, 2, [32, 16])).rejects.toThrow(/not 2 RGB tiles of 32×16/);
  });

  it('lists layers with their shapes and the default bottleneck', async () => {
    const layers = await listLayers(MODELS[runtime].tiny);
    expect(layers.find((l) => l.name === 'bottleneck')).toEqual({
      name: 'bottleneck',
      shape: [8, 8, 8],
      isDefaultBottleneck: true,
    });
    expect(layers.find((l) => l.name === 'enc1')).toEqual({
      name: 'enc1',
      shape: [2, 32, 32],
      isDefaultBottleneck: false,
    });
  });
});

describe('ONNX and TF.js agree on the same network', () => {
  it('gives the same probabilities and activations for any layer', async () => {
    const tiles = new Uint8Array(3 * 32 * 32 * 3);
    let seed = 42;
    for (let i = 0; i < tiles.length; i++) tiles[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    for (const layer of ['enc2', 'dec2']) {
      const onnx = await loadModel(MODELS.onnx.tiny, { layer });
      const tfjs = await loadModel(MODELS.tfjs.tiny, { layer });
      const [a, b] = [await onnx.predict(tiles, 3), await tfjs.predict(tiles, 3)];
      expect(a.activationShape).toEqual(b.activationShape);
      expect(maxAbsDiff(a.probs, b.probs)).toBeLessThan(1e-4);
      expect(maxAbsDiff(a.activations, b.activations)).toBeLessThan(1e-4);
      await Promise.all([onnx.dispose(), tfjs.dispose()]);
    }
  });
});
