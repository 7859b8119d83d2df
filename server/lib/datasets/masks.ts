/**
 * Label masks as they come (0/255, 0/1, multi-class, 8 or 16 bit, palette PNG) to the 0/1 building mask the
 * analysis compares predictions with. A mask whose meaning is ambiguous is refused with what to pass instead.
 */
import { DatasetError } from './patch-source.ts';
import type { Raster } from './cut.ts';

export interface MaskOptions {
  /** The building class in a multi-class or palette mask. */
  targetClass?: number;
  /** The file, for messages. */
  label: string;
  /** Palette of a palette PNG, when the raster holds its RGB expansion. */
  palette?: Array<[number, number, number]>;
}

/** Values present in one band, ascending (a histogram, so 16-bit masks cost 64 K counters, not a sort). */
export function distinctValues(data: ArrayLike<number>, channels: number, band = 0): number[] {
  const seen = new Set<number>();
  for (let i = band; i < data.length; i += channels) seen.add(data[i]);
  return [...seen].sort((a, b) => a - b);
}

const isSubset = (values: number[], allowed: number[]) => values.every((v) => allowed.includes(v));

function listClasses(values: number[]): string {
  return values.length > 12
    ? `${values.slice(0, 12).join(', ')}, … (${values.length} values)`
    : values.join(', ');
}

/**
 * Palette indices of an RGB expansion: every pixel is matched back to the palette entry with its colour.
 * (Decoders expand palette PNGs to RGB; the palette itself says which index each colour was.)
 */
function paletteIndices(r: Raster, palette: Array<[number, number, number]>, label: string): Uint8Array {
  const lookup = new Map<number, number>();
  // The first entry wins when a palette repeats a colour, as a viewer would show it.
  for (let i = palette.length - 1; i >= 0; i--)
    lookup.set((palette[i][0] << 16) | (palette[i][1] << 8) | palette[i][2], i);
  const n = r.width * r.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * r.channels;
    const g = r.channels >= 3 ? [r.data[o], r.data[o + 1], r.data[o + 2]] : [r.data[o], r.data[o], r.data[o]];
    const idx = lookup.get((g[0] << 16) | (g[1] << 8) | g[2]);
    if (idx === undefined) {
      throw new DatasetError(
        `palette mask ${label} has a pixel of colour rgb(${g.join(',')}) that is in none of its ${palette.length} palette entries; re-save it as a single-band PNG of class numbers`,
      );
    }
    out[i] = idx;
  }
  return out;
}

/** The 0/1 building mask of a decoded mask file. */
export function maskFromRaster(r: Raster, opts: MaskOptions): Uint8Array {
  const n = r.width * r.height;
  if (opts.palette) {
    const idx = paletteIndices(r, opts.palette, opts.label);
    if (opts.targetClass === undefined) {
      throw new DatasetError(
        `mask ${opts.label} is a palette PNG whose pixels use palette indices ${listClasses(distinctValues(idx, 1))}; ` +
          'pass --target-class N with the index of the building class',
      );
    }
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = idx[i] === opts.targetClass ? 1 : 0;
    return out;
  }
  if (r.channels > 1) {
    // A grey mask saved as RGB(A) has equal colour bands; anything else is a colour-coded class map.
    const colourBands = r.channels === 2 || r.channels === 4 ? r.channels - 1 : r.channels;
    for (let i = 0; i < n; i++) {
      const o = i * r.channels;
      for (let c = 1; c < Math.min(colourBands, 3); c++) {
        if (r.data[o + c] !== r.data[o]) {
          throw new DatasetError(
            `mask ${opts.label} has ${r.channels} bands of different values (a colour-coded class map); ` +
              'save it as a single-band image of class numbers (0 background, 1 or 255 building) or pass a palette PNG',
          );
        }
      }
    }
  }
  const out = new Uint8Array(n);
  if (opts.targetClass !== undefined) {
    const t = opts.targetClass;
    for (let i = 0; i < n; i++) out[i] = r.data[i * r.channels] === t ? 1 : 0;
    return out;
  }
  const values = distinctValues(r.data, r.channels);
  const maxValue = 2 ** r.bits - 1;
  if (!(isSubset(values, [0, 1]) || isSubset(values, [0, 255]) || isSubset(values, [0, maxValue]))) {
    throw new DatasetError(
      `mask ${opts.label} holds the values ${listClasses(values)}, not a building / background mask (0/1 or 0/255); ` +
        'if it is a multi-class mask, pass --target-class N with the building class',
    );
  }
  for (let i = 0; i < n; i++) out[i] = r.data[i * r.channels] > 0 ? 1 : 0;
  return out;
}

/**
 * The PLTE chunk of a PNG file (colour type 3), or undefined for a PNG without one / any other format.
 * Only the chunk list is walked; pixel data is left to the decoder.
 */
export function pngPalette(bytes: Uint8Array): Array<[number, number, number]> | undefined {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 33 || sig.some((b, i) => bytes[i] !== b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const colourType = bytes[25];
  if (colourType !== 3) return undefined;
  let off = 8;
  while (off + 8 <= bytes.length) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(bytes[off + 4], bytes[off + 5], bytes[off + 6], bytes[off + 7]);
    if (type === 'PLTE') {
      const out: Array<[number, number, number]> = [];
      for (let i = 0; i + 2 < len; i += 3)
        out.push([bytes[off + 8 + i], bytes[off + 9 + i], bytes[off + 10 + i]]);
      return out;
    }
    if (type === 'IDAT' || type === 'IEND') break;
    off += 12 + len;
  }
  return undefined;
}
