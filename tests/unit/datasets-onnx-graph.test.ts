import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../server/lib/model/errors.ts';
import {
  exposeOutputs,
  parseOnnxGraph,
  suggestBottleneck,
  type NodeShape,
} from '../../server/lib/model/onnx-graph.ts';
import { demoModelPath } from '../../server/lib/paths.ts';

const bytes = readFileSync(demoModelPath);

describe('ONNX graph parser on the committed demo model', () => {
  const graph = parseOnnxGraph(bytes, 'demo-unet.onnx');

  it('lists nodes with names, op types and outputs, and the declared inputs / outputs', () => {
    const bottleneck = graph.nodes.find((n) => n.outputs.includes('bottleneck'));
    expect(bottleneck?.opType).toBe('Relu');
    expect(bottleneck?.name).toMatch(/enc\.3/);
    expect(graph.nodes.filter((n) => n.opType === 'Conv').length).toBe(15);
    expect(graph.inputs.map((i) => i.name)).toEqual(['input']);
    expect(graph.inputs[0].shape).toEqual(['batch', 3, 128, 128]);
    expect(graph.outputs.map((o) => o.name)).toEqual([
      'prob',
      'enc1',
      'enc2',
      'enc3',
      'bottleneck',
      'dec3',
      'dec2',
      'dec1',
    ]);
    expect(graph.outputs.find((o) => o.name === 'bottleneck')?.shape).toEqual(['batch', 128, 16, 16]);
  });

  it('exposes an intermediate tensor as an output onnxruntime can read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tilelens-onnx-'));
    try {
      const path = join(dir, 'exposed.onnx');
      await writeFile(path, exposeOutputs(bytes, ['/net/MaxPool_2_output_0']));
      const session = await ort.InferenceSession.create(path);
      expect(session.outputNames).toContain('/net/MaxPool_2_output_0');
      const out = await session.run(
        { input: new ort.Tensor('float32', new Float32Array(3 * 128 * 128), [1, 3, 128, 128]) },
        ['/net/MaxPool_2_output_0'],
      );
      expect(out['/net/MaxPool_2_output_0'].dims).toEqual([1, 64, 16, 16]);
      await session.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(() => exposeOutputs(bytes, ['/net/MaxPool_2'])).toThrow(
      /no tensor "\/net\/MaxPool_2" \(it is a node name; its output tensor is "\/net\/MaxPool_2_output_0"\)/,
    );
  });

  it('refuses bytes that are not ONNX', () => {
    expect(() => parseOnnxGraph(new TextEncoder().encode('hello world, not a model'), 'x.onnx')).toThrow(
      ModelError,
    );
  });
});

describe('suggestBottleneck', () => {
  const n = (tensor: string, opType: string, shape: [number, number, number] | null): NodeShape => ({
    node: tensor,
    opType,
    tensor,
    shape,
    isGraphOutput: false,
  });
  it('takes the last smallest-resolution tensor before the first upsampling', () => {
    const nodes = [
      n('c1', 'Conv', [16, 64, 64]),
      n('p1', 'MaxPool', [16, 32, 32]),
      n('c2', 'Conv', [32, 32, 32]),
      n('r2', 'Relu', [32, 32, 32]),
      n('k', 'Constant', null),
      n('up', 'Resize', [32, 64, 64]),
      n('head', 'Conv', [1, 64, 64]),
    ];
    expect(suggestBottleneck(nodes)).toBe('r2');
    expect(suggestBottleneck([n('k', 'Constant', null)])).toBeUndefined();
  });
});
