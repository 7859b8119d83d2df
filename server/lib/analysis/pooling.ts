/**
 * Spatial pooling of bottleneck activations: a C×H×W feature map becomes one C (or 2C) vector per patch, which is
 * what PCA sees. Mean pooling follows the paper; max keeps rare strong responses (a single building) visible.
 */
import { TilelensError } from '../errors.ts';
export type PoolingMode = 'mean' | 'max' | 'mean+max';
export type PoolMode = PoolingMode;

export class PoolingError extends TilelensError {
  override name = 'PoolingError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('pooling', message, { status: 422, cause: options?.cause });
  }
}

export function pooledDims(channels: number, mode: PoolMode): number {
  return mode === 'mean+max' ? 2 * channels : channels;
}

function poolInto(
  act: Float32Array,
  offset: number,
  C: number,
  HW: number,
  mode: PoolMode,
  out: Float32Array,
  o: number,
) {
  for (let c = 0; c < C; c++) {
    const base = offset + c * HW;
    let sum = 0;
    let max = -Infinity;
    for (let i = 0; i < HW; i++) {
      const v = act[base + i];
      sum += v;
      if (v > max) max = v;
    }
    if (mode === 'mean') out[o + c] = sum / HW;
    else if (mode === 'max') out[o + c] = max;
    else {
      out[o + c] = sum / HW;
      out[o + C + c] = max;
    }
  }
}

function checkShape(name: string, act: Float32Array, dims: number[], mode: PoolMode): void {
  if (dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new PoolingError(`${name}: shape [${dims.join(', ')}] must hold positive integers`);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  if (act.length !== expected) {
    throw new PoolingError(
      `${name}: shape [${dims.join('×')}] needs ${expected} values but the activation buffer holds ${act.length}; ` +
        'check that the tensor is laid out channels-first (NCHW)',
    );
  }
  if (mode !== 'mean' && mode !== 'max' && mode !== 'mean+max') {
    throw new PoolingError(`${name}: unknown pooling mode "${mode}"; use 'mean', 'max' or 'mean+max'`);
  }
}

/** One patch: [C, H, W] channels-first. */
export function poolActivations(
  act: Float32Array,
  shape: [number, number, number],
  mode: PoolMode = 'mean',
): Float32Array {
  const [C, H, W] = shape;
  checkShape('poolActivations', act, [C, H, W], mode);
  const out = new Float32Array(pooledDims(C, mode));
  poolInto(act, 0, C, H * W, mode, out, 0);
  return out;
}

/** A batch: [N, C, H, W] → N rows of C (or 2C), row-major. */
export function poolActivationsBatch(
  act: Float32Array,
  shape: [number, number, number, number],
  mode: PoolMode = 'mean',
): Float32Array {
  const [N, C, H, W] = shape;
  checkShape('poolActivationsBatch', act, [N, C, H, W], mode);
  const d = pooledDims(C, mode);
  const out = new Float32Array(N * d);
  for (let n = 0; n < N; n++) poolInto(act, n * C * H * W, C, H * W, mode, out, n * d);
  return out;
}
