import { describe, expect, it } from 'vitest';
import { maskFromRaster, pngPalette } from '../../server/lib/datasets/masks.ts';
import { DatasetError } from '../../server/lib/datasets/patch-source.ts';

describe('maskFromRaster', () => {
  const raster = (values: number[], bits = 8) => ({
    data: Uint8Array.from(values),
    width: values.length,
    height: 1,
    channels: 1,
    bits,
  });

  it('reads 0/255 and 0/1 masks as building / background', () => {
    expect(Array.from(maskFromRaster(raster([0, 255, 255, 0]), { label: 'm' }))).toEqual([0, 1, 1, 0]);
    expect(Array.from(maskFromRaster(raster([0, 1, 0, 1]), { label: 'm' }))).toEqual([0, 1, 0, 1]);
  });

  it('picks the target class of a multi-class mask, and refuses one without', () => {
    expect(Array.from(maskFromRaster(raster([0, 1, 2, 5, 1]), { label: 'm', targetClass: 1 }))).toEqual([
      0, 1, 0, 0, 1,
    ]);
    expect(() => maskFromRaster(raster([0, 1, 2, 5]), { label: 'classes/a.png' })).toThrow(
      /mask classes\/a\.png holds the values 0, 1, 2, 5.*--target-class N/,
    );
  });

  it('reads 16-bit masks by their own range', () => {
    const r = { data: Uint16Array.from([0, 65535, 0]), width: 3, height: 1, channels: 1, bits: 16 };
    expect(Array.from(maskFromRaster(r, { label: 'm' }))).toEqual([0, 1, 0]);
  });

  it('maps a palette expansion back to indices and asks for the class', () => {
    const palette: Array<[number, number, number]> = [
      [0, 0, 0],
      [255, 0, 0],
      [0, 255, 0],
    ];
    const r = {
      data: Uint8Array.from([0, 0, 0, 255, 0, 0, 0, 255, 0]),
      width: 3,
      height: 1,
      channels: 3,
      bits: 8,
    };
    expect(() => maskFromRaster(r, { label: 'p.png', palette })).toThrow(
      /palette PNG whose pixels use palette indices 0, 1, 2; pass --target-class/,
    );
    expect(Array.from(maskFromRaster(r, { label: 'p.png', palette, targetClass: 2 }))).toEqual([0, 0, 1]);
  });

  it('refuses a colour-coded RGB mask', () => {
    const r = { data: Uint8Array.from([0, 0, 0, 255, 0, 0]), width: 2, height: 1, channels: 3, bits: 8 };
    expect(() => maskFromRaster(r, { label: 'rgb.png' })).toThrow(DatasetError);
  });

  it('finds no palette in a non-PNG', () => {
    expect(pngPalette(Uint8Array.from([1, 2, 3]))).toBeUndefined();
  });
});
