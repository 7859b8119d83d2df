import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeTileImage, encodeJpeg, encodePng, TileDecodeError } from '../../server/lib/imagery/decode.ts';

function gradient(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    rgb[i * 3] = (i % w) * 4;
    rgb[i * 3 + 1] = Math.floor(i / w) * 4;
    rgb[i * 3 + 2] = 128;
  }
  return rgb;
}

describe('decodeTileImage', () => {
  it('round-trips a PNG exactly and a JPEG closely, as RGB HWC', async () => {
    const rgb = gradient(64, 64);
    const png = await decodeTileImage(await encodePng(rgb, 64, 64), { expectedSize: 64 });
    expect(png).toMatchObject({ width: 64, height: 64 });
    expect(png.data).toEqual(rgb);
    const jpg = await decodeTileImage(await encodeJpeg(rgb, 64, 64, 95), { expectedSize: 64 });
    let maxErr = 0;
    for (let i = 0; i < rgb.length; i++) maxErr = Math.max(maxErr, Math.abs(jpg.data[i] - rgb[i]));
    expect(maxErr).toBeLessThan(24);
  });

  it('drops alpha and expands grey to three bands', async () => {
    const rgba = await sharp({
      create: { width: 256, height: 256, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } },
    })
      .png()
      .toBuffer();
    const a = await decodeTileImage(rgba);
    expect(a.data.length).toBe(256 * 256 * 3);
    expect([...a.data.subarray(0, 3)]).toEqual([10, 20, 30]);
    const grey = await sharp(Buffer.alloc(256 * 256, 77), { raw: { width: 256, height: 256, channels: 1 } })
      .png()
      .toBuffer();
    const g = await decodeTileImage(grey);
    expect(g.data.length).toBe(256 * 256 * 3);
    expect([...g.data.subarray(300, 303)]).toEqual([77, 77, 77]);
  });

  it('names the tile when bytes cannot be decoded or have the wrong size', async () => {
    const label = 'tile 18-155669-141339';
    await expect(decodeTileImage(new Uint8Array([1, 2, 3, 4, 5]), { label })).rejects.toThrow(
      TileDecodeError,
    );
    await expect(decodeTileImage(new Uint8Array([1, 2, 3, 4, 5]), { label })).rejects.toThrow(
      /tile 18-155669-141339 could not be decoded \(5 bytes/,
    );
    await expect(decodeTileImage(new Uint8Array(0), { label })).rejects.toThrow(/is empty/);
    const small = await encodePng(gradient(64, 64), 64, 64);
    await expect(decodeTileImage(small, { label })).rejects.toThrow(/64×64 px, expected 256×256/);
    await expect(encodeJpeg(new Uint8Array(10), 4, 4)).rejects.toThrow(/expected 48/);
  });
});
