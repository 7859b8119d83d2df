/**
 * Scored tiles → the RGBA pixels of one 256² overlay tile, and the PNG of it. Pure over its inputs: the
 * cells come from any iterable (a database cursor in the server, an array in tests), read once.
 */
import sharp from 'sharp';
import { NO_SCORE_RGBA } from './colour-scales.ts';
import type { OverlayCell, OverlayLayerDef } from './layers.ts';
import { OVERLAY_TILE_SIZE, pixelRect, type ScoringRange } from './overlay-grid.ts';

const N = OVERLAY_TILE_SIZE;

export interface RasterizedTile {
  rgba: Uint8Array;
  /** Scoring tiles drawn (0: the tile is fully transparent). */
  cells: number;
}

function paint(
  rgba: Uint8Array,
  px: number,
  py: number,
  size: number,
  r: number,
  g: number,
  b: number,
  a: number,
): void {
  const x0 = Math.max(0, px);
  const y0 = Math.max(0, py);
  const x1 = Math.min(N, px + size);
  const y1 = Math.min(N, py + size);
  for (let y = y0; y < y1; y++) {
    let o = (y * N + x0) * 4;
    for (let x = x0; x < x1; x++, o += 4) {
      rgba[o] = r;
      rgba[o + 1] = g;
      rgba[o + 2] = b;
      rgba[o + 3] = a;
    }
  }
}

/**
 * Colours each scoring tile's square; where several share a pixel, folds their values first
 * (`def.keep`), and a pixel whose tiles all lack a value is grey. Unscored ground stays transparent.
 */
export async function rasterizeCells(
  def: OverlayLayerDef,
  range: ScoringRange,
  cells: AsyncIterable<OverlayCell> | Iterable<OverlayCell>,
): Promise<RasterizedTile> {
  const rgba = new Uint8Array(N * N * 4);
  const lut = def.scale.lut;
  const [lo, hi] = def.scale.domain;
  const toIndex = (v: number) => {
    const t = (v - lo) / (hi - lo);
    return t > 0 ? (t >= 1 ? 255 : Math.round(t * 255)) : 0;
  };
  let count = 0;

  if (range.pixelsPerTile > 1) {
    for await (const c of cells) {
      count++;
      const { px, py, size } = pixelRect(range, c.x, c.y);
      const v = def.value(c);
      if (v === null) {
        paint(rgba, px, py, size, ...NO_SCORE_RGBA);
      } else {
        const i = toIndex(v) * 4;
        const a = def.alpha ? Math.round(lut[i + 3] * def.alpha(c)) : lut[i + 3];
        paint(rgba, px, py, size, lut[i], lut[i + 1], lut[i + 2], a);
      }
    }
    return { rgba, cells: count };
  }

  // One pixel per scoring tile or fewer: fold per pixel, then colour once.
  // Float64, not 32: a value must land in the same colour bin whether it was folded or painted directly.
  const folded = new Float64Array(N * N).fill(Number.NaN);
  const touched = new Uint8Array(N * N);
  // The alpha factor travels with the value the fold keeps: the pixel fades as that tile would.
  const alphas = def.alpha ? new Float32Array(N * N).fill(1) : null;
  const keepMax = def.keep === 'max';
  for await (const c of cells) {
    const { px, py } = pixelRect(range, c.x, c.y);
    if (px < 0 || py < 0 || px >= N || py >= N) continue;
    count++;
    const p = py * N + px;
    touched[p] = 1;
    const v = def.value(c);
    if (v === null) continue;
    const cur = folded[p];
    if (Number.isNaN(cur) || (keepMax ? v > cur : v < cur)) {
      folded[p] = v;
      if (alphas) alphas[p] = def.alpha!(c);
    }
  }
  for (let p = 0; p < N * N; p++) {
    if (!touched[p]) continue;
    const v = folded[p];
    const o = p * 4;
    if (Number.isNaN(v)) {
      rgba.set(NO_SCORE_RGBA, o);
    } else {
      const i = toIndex(v) * 4;
      rgba[o] = lut[i];
      rgba[o + 1] = lut[i + 1];
      rgba[o + 2] = lut[i + 2];
      rgba[o + 3] = alphas ? Math.round(lut[i + 3] * alphas[p]) : lut[i + 3];
    }
  }
  return { rgba, cells: count };
}

export async function encodeOverlayPng(rgba: Uint8Array): Promise<Buffer> {
  // Overlay tiles are flat squares: deflate does most of the work, and level 6 without adaptive
  // filtering costs a fraction of level 9 for files within a few per cent of its size.
  return sharp(rgba, { raw: { width: N, height: N, channels: 4 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}

let transparent: Promise<Buffer> | undefined;

/** The answer for map tiles with nothing scored: one shared fully transparent PNG (a few hundred bytes). */
export function transparentPng(): Promise<Buffer> {
  transparent ??= encodeOverlayPng(new Uint8Array(N * N * 4));
  return transparent;
}
