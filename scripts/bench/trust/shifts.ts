/**
 * Controlled imagery shifts for the trust benchmark: what happens to a region's tiles when the imagery is not the
 * imagery the model was trained on. Each takes a 256×256 RGB tile (HWC, uint8) and returns a new one; the buildings
 * stay where they are, so the truth of the tile does not change.
 */
import sharp from 'sharp';

export const SHIFTS = ['none', 'resolution-2x', 'resolution-3x', 'sensor', 'haze', 'compression'] as const;
export type Shift = (typeof SHIFTS)[number];

const SIDE = 256;

function raw(pixels: Uint8Array, side: number) {
  return sharp(Buffer.from(pixels), { raw: { width: side, height: side, channels: 3 } });
}

/** A coarser sensor at the same zoom: detail below `factor` pixels lost, the tile upsampled back as a tile server would. */
async function coarser(pixels: Uint8Array, factor: number): Promise<Uint8Array> {
  const side = Math.round(SIDE / factor);
  const small = await raw(pixels, SIDE).resize(side, side, { kernel: 'cubic' }).raw().toBuffer();
  return new Uint8Array(
    await raw(new Uint8Array(small), side).resize(SIDE, SIDE, { kernel: 'cubic' }).raw().toBuffer(),
  );
}

/** Another sensor's colour response: channel gains (warmer red, stronger blue) and a gamma. */
function sensor(pixels: Uint8Array): Uint8Array {
  const gain = [0.82, 1.0, 1.25];
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.min(255, Math.round(255 * ((pixels[i] * gain[i % 3]) / 255) ** 0.8));
  return out;
}

/** Atmospheric haze: 45 % of a bright, slightly blue airlight over the scene. */
function haze(pixels: Uint8Array): Uint8Array {
  const air = [200, 205, 212];
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(0.55 * pixels[i] + 0.45 * air[i % 3]);
  return out;
}

/** Heavy JPEG compression (quality 8), decoded back. */
async function compression(pixels: Uint8Array): Promise<Uint8Array> {
  const jpeg = await raw(pixels, SIDE).jpeg({ quality: 8 }).toBuffer();
  return new Uint8Array(await sharp(jpeg).raw().toBuffer());
}

export async function applyShift(shift: Shift, pixels: Uint8Array): Promise<Uint8Array> {
  if (pixels.length !== SIDE * SIDE * 3) throw new RangeError(`applyShift takes ${SIDE}×${SIDE} RGB tiles`);
  switch (shift) {
    case 'none':
      return pixels;
    case 'resolution-2x':
      return coarser(pixels, 2);
    case 'resolution-3x':
      return coarser(pixels, 3);
    case 'sensor':
      return sensor(pixels);
    case 'haze':
      return haze(pixels);
    case 'compression':
      return compression(pixels);
  }
}
