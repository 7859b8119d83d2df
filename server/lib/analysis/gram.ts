/**
 * The Gram-matrix update XᵀX of a chunk — the hot spot of streaming PCA (n × d² multiply-adds: 2.6e11 flops for
 * a million 512-d rows). onnxruntime's MLAS GEMM (a one-node Gemm graph, both cores) does it about two orders of
 * magnitude faster than scalar JS; the JS kernel stays as the reference and for environments without the native
 * runtime. Each chunk's product comes back in float32 and is accumulated in float64 by the caller.
 */
import * as ort from 'onnxruntime-node';

export type GramKernelKind = 'onnx' | 'js';

export interface GramKernel {
  readonly kind: GramKernelKind;
  /** into (d×d, row-major, full symmetric) += chunkᵀ·chunk for the first nRows rows. */
  accumulate(chunk: Float32Array, nRows: number, into: Float64Array): Promise<void>;
  dispose(): Promise<void>;
}

// Minimal protobuf writer: enough of onnx.proto to express one Gemm node, so that no model file has to ship.
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const lenField = (no: number, body: number[]): number[] => [
  ...varint(no * 8 + 2),
  ...varint(body.length),
  ...body,
];
const strField = (no: number, s: string): number[] => lenField(no, [...Buffer.from(s, 'utf8')]);
const intField = (no: number, v: number): number[] => [...varint(no * 8), ...varint(v)];

function tensorValueInfo(fieldNo: number, name: string, dims: (number | string)[]): number[] {
  const shape = dims.flatMap((d) => lenField(1, typeof d === 'number' ? intField(1, d) : strField(2, d)));
  const tensorType = [...intField(1, 1 /* FLOAT */), ...lenField(2, shape)];
  return lenField(fieldNo, [...strField(1, name), ...lenField(2, lenField(1, tensorType))]);
}

/** ModelProto bytes for G = Xᵀ·X with X of shape [n, dims]. */
export function gramModelBytes(dims: number): Uint8Array {
  const transA = [...strField(1, 'transA'), ...intField(3, 1), ...intField(20, 2 /* INT */)];
  const node = lenField(1, [
    ...strField(1, 'X'),
    ...strField(1, 'X'),
    ...strField(2, 'G'),
    ...strField(4, 'Gemm'),
    ...lenField(5, transA),
  ]);
  const graph = [
    ...node,
    ...strField(2, 'gram'),
    ...tensorValueInfo(11, 'X', ['n', dims]),
    ...tensorValueInfo(12, 'G', [dims, dims]),
  ];
  const opset = [...strField(1, ''), ...intField(2, 13)];
  return new Uint8Array([...intField(1, 8), ...lenField(8, opset), ...lenField(7, graph)]);
}

class OnnxGramKernel implements GramKernel {
  readonly kind = 'onnx' as const;
  constructor(
    private session: ort.InferenceSession,
    private dims: number,
  ) {}

  async accumulate(chunk: Float32Array, nRows: number, into: Float64Array): Promise<void> {
    if (nRows === 0) return;
    const d = this.dims;
    const X = new ort.Tensor('float32', chunk.subarray(0, nRows * d), [nRows, d]);
    const { G } = await this.session.run({ X });
    const g = G.data as Float32Array;
    for (let i = 0; i < d * d; i++) into[i] += g[i];
    X.dispose();
    G.dispose();
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

class JsGramKernel implements GramKernel {
  readonly kind = 'js' as const;
  constructor(private dims: number) {}

  async accumulate(chunk: Float32Array, nRows: number, into: Float64Array): Promise<void> {
    const d = this.dims;
    // Upper triangle, row by row; four output columns at a time keeps the inner loop on registers.
    for (let r = 0; r < nRows; r++) {
      const o = r * d;
      for (let i = 0; i < d; i++) {
        const xi = chunk[o + i];
        if (xi === 0) continue;
        const row = i * d;
        let j = i;
        for (; j + 3 < d; j += 4) {
          into[row + j] += xi * chunk[o + j];
          into[row + j + 1] += xi * chunk[o + j + 1];
          into[row + j + 2] += xi * chunk[o + j + 2];
          into[row + j + 3] += xi * chunk[o + j + 3];
        }
        for (; j < d; j++) into[row + j] += xi * chunk[o + j];
      }
    }
    // Mirror only what this chunk added: keep a symmetric result without a second full pass per row.
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) into[i * d + j] = into[j * d + i];
  }

  async dispose(): Promise<void> {}
}

export async function createGramKernel(dims: number, kind: GramKernelKind = 'onnx'): Promise<GramKernel> {
  if (kind === 'js') return new JsGramKernel(dims);
  const session = await ort.InferenceSession.create(gramModelBytes(dims), {
    intraOpNumThreads: 0,
    graphOptimizationLevel: 'all',
  });
  return new OnnxGramKernel(session, dims);
}
