/**
 * Ground truth at the model's resolution. When a model takes smaller inputs than the tile, its IoU is
 * measured at the model's resolution: a target pixel is building when at least half of the source pixels
 * it covers are (area rule, so thin slivers do not flip whole pixels).
 */
export function downsampleMask(mask: Uint8Array, width: number, height: number, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH);
  const sx = width / outW;
  const sy = height / outH;
  for (let oy = 0; oy < outH; oy++) {
    const y0 = Math.floor(oy * sy);
    const y1 = Math.max(y0 + 1, Math.floor((oy + 1) * sy));
    for (let ox = 0; ox < outW; ox++) {
      const x0 = Math.floor(ox * sx);
      const x1 = Math.max(x0 + 1, Math.floor((ox + 1) * sx));
      let on = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) on += mask[y * width + x];
      out[oy * outW + ox] = on * 2 >= (y1 - y0) * (x1 - x0) ? 1 : 0;
    }
  }
  return out;
}
