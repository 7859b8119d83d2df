/**
 * Tiles in, model input out: bilinear resize to the model's input size and per-channel normalisation, written
 * straight into the layout the runtime wants, so a batch is touched once.
 */

export interface Normalization {
  mean: number[];
  std: number[];
  scale: number;
}

/**
 * Bilinear resize of one HWC RGB tile with half-pixel centres (OpenCV / PyTorch align_corners=false). At an exact
 * factor of 2 down this is the 2×2 mean, which is what the demo model was trained on.
 */
export function resizeBilinearHWC(
  src: Uint8Array,
  srcH: number,
  srcW: number,
  dstH: number,
  dstW: number,
  channels = 3,
): Float32Array {
  const out = new Float32Array(dstH * dstW * channels);
  const sy = srcH / dstH;
  const sx = srcW / dstW;
  for (let y = 0; y < dstH; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), srcH - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, srcH - 1);
    const wy = fy - y0;
    for (let x = 0; x < dstW; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), srcW - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, srcW - 1);
      const wx = fx - x0;
      const o = (y * dstW + x) * channels;
      const a = (y0 * srcW + x0) * channels;
      const b = (y0 * srcW + x1) * channels;
      const c = (y1 * srcW + x0) * channels;
      const d = (y1 * srcW + x1) * channels;
      for (let k = 0; k < channels; k++) {
        const top = src[a + k] + (src[b + k] - src[a + k]) * wx;
        const bottom = src[c + k] + (src[d + k] - src[c + k]) * wx;
        out[o + k] = top + (bottom - top) * wy;
      }
    }
  }
  return out;
}

/**
 * Shrinks a 0/1 mask to the model's resolution the way the demo model's training targets were made: bilinear
 * (area mean at factor 2) then ≥ 0.5. Use it to compare a ground-truth mask with `predict`'s probabilities.
 */
export function resizeMask(
  mask: Uint8Array,
  srcH: number,
  srcW: number,
  dstH: number,
  dstW: number,
): Uint8Array {
  if (srcH === dstH && srcW === dstW) return mask.slice();
  const soft = resizeBilinearHWC(mask, srcH, srcW, dstH, dstW, 1);
  const out = new Uint8Array(soft.length);
  for (let i = 0; i < soft.length; i++) out[i] = soft[i] >= 0.5 ? 1 : 0;
  return out;
}

/**
 * N tiles (HWC uint8, tileH×tileW) → normalised float32 at the model's size, in NCHW or NHWC.
 */
export function prepareBatch(
  batch: Uint8Array,
  n: number,
  tile: [number, number],
  model: [number, number],
  norm: Normalization,
  layout: 'NCHW' | 'NHWC',
): Float32Array {
  const [th, tw] = tile;
  const [h, w] = model;
  const plane = h * w;
  const out = new Float32Array(n * 3 * plane);
  const mul = [0, 1, 2].map((c) => 1 / (norm.scale * norm.std[c]));
  const add = [0, 1, 2].map((c) => -norm.mean[c] / norm.std[c]);
  for (let i = 0; i < n; i++) {
    const tileBytes = batch.subarray(i * th * tw * 3, (i + 1) * th * tw * 3);
    const px: ArrayLike<number> =
      th === h && tw === w ? tileBytes : resizeBilinearHWC(tileBytes, th, tw, h, w);
    const base = i * 3 * plane;
    if (layout === 'NHWC') {
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < 3; c++) out[base + p * 3 + c] = px[p * 3 + c] * mul[c] + add[c];
      }
    } else {
      for (let c = 0; c < 3; c++) {
        const dst = base + c * plane;
        for (let p = 0; p < plane; p++) out[dst + p] = px[p * 3 + c] * mul[c] + add[c];
      }
    }
  }
  return out;
}

/** Tile side lengths from a batch's byte length, assuming square tiles unless told otherwise. */
export function tileShape(byteLength: number, n: number, given?: [number, number]): [number, number] | null {
  if (given) return given[0] * given[1] * 3 * n === byteLength ? given : null;
  if (n <= 0 || byteLength % (3 * n) !== 0) return null;
  const side = Math.round(Math.sqrt(byteLength / (3 * n)));
  return side * side * 3 * n === byteLength ? [side, side] : null;
}
