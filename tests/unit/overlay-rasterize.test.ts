import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  colourAt,
  CONFIDENCE_SCALE,
  NO_SCORE_RGBA,
  PRIORITY_SCALE,
} from '../../server/lib/overlays/colour-scales.ts';
import { confidenceShown, OVERLAY_LAYER_DEFS, type OverlayCell } from '../../server/lib/overlays/layers.ts';
import { scoringRange } from '../../server/lib/overlays/overlay-grid.ts';
import { encodeOverlayPng, rasterizeCells, transparentPng } from '../../server/lib/overlays/rasterize.ts';

const cell = (
  x: number,
  y: number,
  priority: number,
  iouHat: number | null = 0.5,
  status: OverlayCell['status'] = 'scored',
): OverlayCell => ({
  x,
  y,
  status,
  priority,
  iouHat,
  novelty: 50,
  // The 4th argument is the confidence to draw: an interval of width 1 − c.
  buildingProbLow: iouHat === null ? null : 0,
  buildingProbHigh: iouHat === null ? null : 1 - iouHat,
});
/** The confidence colour a familiar scored tile with this smoothed IoU is drawn with (see confidenceShown). */
const shownIou = (iouHat: number) => confidenceShown(cell(0, 0, 0, iouHat))!;

function pixel(rgba: Uint8Array, px: number, py: number): number[] {
  const o = (py * 256 + px) * 4;
  return Array.from(rgba.subarray(o, o + 4));
}

describe('rasterizeCells', () => {
  it('z16: each scoring tile a 64 px square of its colour, the rest transparent', async () => {
    const range = scoringRange(16, 10, 20, 18); // tiles 40..43 × 80..83
    const { rgba, cells } = await rasterizeCells(OVERLAY_LAYER_DEFS.priority, range, [
      cell(40, 80, 1),
      cell(43, 83, 0.2),
      cell(41, 80, 0.5, null, 'missing'),
    ]);
    expect(cells).toBe(3);
    expect(pixel(rgba, 0, 0)).toEqual(colourAt(PRIORITY_SCALE, 1));
    expect(pixel(rgba, 63, 63)).toEqual(colourAt(PRIORITY_SCALE, 1));
    expect(pixel(rgba, 64, 0)).toEqual(colourAt(PRIORITY_SCALE, 0.5)); // priority of a tile without imagery is still drawn
    expect(pixel(rgba, 255, 255)).toEqual(colourAt(PRIORITY_SCALE, 0.2));
    expect(pixel(rgba, 128, 0)).toEqual([0, 0, 0, 0]);
    expect(pixel(rgba, 0, 64)).toEqual([0, 0, 0, 0]);
  });

  it('confidence: tiles without a score are grey', async () => {
    const range = scoringRange(16, 10, 20, 18);
    const { rgba } = await rasterizeCells(OVERLAY_LAYER_DEFS.confidence, range, [
      cell(41, 80, 0.5, null, 'missing'),
      cell(40, 80, 0.5, 0.1),
    ]);
    expect(pixel(rgba, 70, 10)).toEqual(NO_SCORE_RGBA);
    expect(pixel(rgba, 10, 10)).toEqual(colourAt(CONFIDENCE_SCALE, shownIou(0.1)));
  });

  it('z8: tiles sharing a pixel keep the highest priority and the lowest confidence', async () => {
    const range = scoringRange(8, 1, 1, 18); // 4 tiles per pixel
    const cells = [
      cell(1024, 1024, 0.1, 0.9),
      cell(1025, 1026, 0.8, 0.2),
      cell(1027, 1027, 0.3, 0.6),
      cell(1028, 1024, 0.4, 0.4),
    ];
    const p = (await rasterizeCells(OVERLAY_LAYER_DEFS.priority, range, cells)).rgba;
    expect(pixel(p, 0, 0)).toEqual(colourAt(PRIORITY_SCALE, 0.8));
    expect(pixel(p, 1, 0)).toEqual(colourAt(PRIORITY_SCALE, 0.4));
    const c = (await rasterizeCells(OVERLAY_LAYER_DEFS.confidence, range, cells)).rgba;
    expect(pixel(c, 0, 0)).toEqual(colourAt(CONFIDENCE_SCALE, shownIou(0.2)));
  });

  it('z8: a pixel whose only tiles lack a score is grey; one scored tile among them wins', async () => {
    const range = scoringRange(8, 1, 1, 18);
    const c = (
      await rasterizeCells(OVERLAY_LAYER_DEFS.confidence, range, [
        cell(1024, 1024, 0.5, null, 'failed'),
        cell(1028, 1024, 0.5, null, 'failed'),
        cell(1029, 1024, 0.5, 0.7),
      ])
    ).rgba;
    expect(pixel(c, 0, 0)).toEqual(NO_SCORE_RGBA);
    expect(pixel(c, 1, 0)).toEqual(colourAt(CONFIDENCE_SCALE, shownIou(0.7)));
  });

  it('z20: the one covering tile fills the map tile', async () => {
    const range = scoringRange(20, 4003, 8001, 18);
    const { rgba } = await rasterizeCells(OVERLAY_LAYER_DEFS.priority, range, [cell(1000, 2000, 0.9)]);
    expect(pixel(rgba, 0, 0)).toEqual(colourAt(PRIORITY_SCALE, 0.9));
    expect(pixel(rgba, 255, 255)).toEqual(colourAt(PRIORITY_SCALE, 0.9));
  });

  it('PNG round trip keeps the pixels; the empty tile is small and fully transparent', async () => {
    const range = scoringRange(16, 10, 20, 18);
    const { rgba } = await rasterizeCells(OVERLAY_LAYER_DEFS.priority, range, [cell(42, 81, 0.7)]);
    const png = await encodeOverlayPng(rgba);
    const back = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(back.info).toMatchObject({ width: 256, height: 256, channels: 4 });
    expect(Buffer.compare(back.data, Buffer.from(rgba))).toBe(0);
    const empty = await transparentPng();
    expect(empty.length).toBeLessThan(1000);
    const e = await sharp(empty).raw().toBuffer();
    expect(e.every((v) => v === 0)).toBe(true);
  });
});
