import { describe, expect, it } from 'vitest';
import { colourAt, CONFIDENCE_SCALE } from '../../server/lib/overlays/colour-scales.ts';
import {
  confidenceShown,
  intervalAlpha,
  OVERLAY_LAYER_DEFS,
  type OverlayCell,
} from '../../server/lib/overlays/layers.ts';
import { scoringRange } from '../../server/lib/overlays/overlay-grid.ts';
import { rasterizeCells } from '../../server/lib/overlays/rasterize.ts';
import { confidenceWords } from '../../map-ui/src/panels/inspector.ts';
import { legiblePointColour, pointOpacityFor, pointSizeFor } from '../../map-ui/src/views/latent-plot.ts';

const cell = (x: number, y: number, iouHat: number, iouLow?: number, iouHigh?: number): OverlayCell => ({
  x,
  y,
  status: 'scored',
  priority: 0.5,
  iouHat,
  novelty: 50,
  iouLow,
  iouHigh,
});

function pixel(rgba: Uint8Array, px: number, py: number): number[] {
  const o = (py * 256 + px) * 4;
  return Array.from(rgba.subarray(o, o + 4));
}

describe('confidence overlay fades where the interval is wide', () => {
  it('alpha factor is 1 − width within 0.25..1 for trusted-looking tiles, and 1 without an interval', () => {
    expect(intervalAlpha(cell(0, 0, 0.5))).toBe(1);
    expect(intervalAlpha(cell(0, 0, 0.8, 0.6, 0.8))).toBeCloseTo(0.8);
    expect(intervalAlpha(cell(0, 0, 0.35, 0.3, 0.5))).toBe(1); // shown below 0.5: doubtful, never faded
  });

  it('draws a tile at the lower end of its interval, so extrapolation never reads as trust', () => {
    // cell() tiles are familiar (novelty below the floor), so trust is the lower bound scaled to trustedIou 0.8.
    expect(confidenceShown(cell(0, 0, 1, 0.4, 1))).toBeCloseTo(0.5);
    expect(confidenceShown(cell(0, 0, 0.7))).toBeCloseTo(0.875);
    expect(confidenceShown({ ...cell(0, 0, 1, 0.9, 1), novelty: 99.9 })!).toBeLessThan(0.25);
  });

  it('never fades a doubtful tile: in unknown land the doubt must show', () => {
    expect(intervalAlpha(cell(0, 0, 0.2, 0, 0.9))).toBe(1);
  });

  it('a tile with a wide interval is drawn more transparent than one with the same score and a narrow one', () => {
    const range = scoringRange(16, 10, 20, 18);
    const { rgba } = rasterizeCells(OVERLAY_LAYER_DEFS.confidence, range, [
      cell(40, 80, 0.9, 0.8, 0.9),
      cell(41, 80, 1, 0.8, 1),
    ]);
    const full = colourAt(CONFIDENCE_SCALE, 1); // lower bound 0.8 = full trust
    expect(pixel(rgba, 10, 10)).toEqual([full[0], full[1], full[2], Math.round(full[3] * 0.9)]);
    expect(pixel(rgba, 70, 10)).toEqual([full[0], full[1], full[2], Math.round(full[3] * 0.8)]);
  });

  it('folded pixels fade as the tile the fold keeps', () => {
    const range = scoringRange(8, 1, 1, 18);
    const { rgba } = rasterizeCells(OVERLAY_LAYER_DEFS.confidence, range, [
      cell(1024, 1024, 0.95, 0.9, 0.95),
      cell(1025, 1025, 0.9, 0.6, 0.95),
    ]);
    const kept = colourAt(CONFIDENCE_SCALE, 0.75); // lower bound 0.6 / trusted IoU 0.8
    expect(pixel(rgba, 0, 0)).toEqual([kept[0], kept[1], kept[2], Math.round(kept[3] * 0.65)]);
  });

  it('the priority overlay is not faded', () => {
    expect(OVERLAY_LAYER_DEFS.priority.alpha).toBeUndefined();
  });
});

describe('inspector confidence in words', () => {
  it('shows the interval and says when the surface extrapolates', () => {
    const w = confidenceWords({ status: 'scored', iouHat: 1, iouLow: 0.35, iouHigh: 1, novelty: 91 });
    expect(w.value).toBe('≈ 1.00 (likely 0.35–1.00)');
    expect(w.note).toMatch(/^Extrapolating \(novelty 91 \/ 100\)/);
    expect(w.note).toMatch(/wide range/);
  });

  it('a familiar tile with a narrow interval has no warning; one without an interval says so', () => {
    expect(
      confidenceWords({ status: 'scored', iouHat: 0.8, iouLow: 0.7, iouHigh: 0.9, novelty: 20 }).note,
    ).toBeNull();
    expect(confidenceWords({ status: 'scored', iouHat: 0.8, novelty: 20 }).value).toBe(
      '≈ 0.80 (no interval for this run)',
    );
    expect(
      confidenceWords({ status: 'scored', iouHat: 0.5, iouLow: 0.1, iouHigh: 0.9, novelty: 20 }).note,
    ).toMatch(/^Uncertain/);
    expect(confidenceWords({ status: 'missing', iouHat: 0.5, novelty: 20 }).value).toBe('–');
  });
});

describe('latent points stay visible at every count', () => {
  it('size falls with the count but stays at least 2 px; opacity stays ≥ 0.35', () => {
    expect(pointSizeFor(150)).toBeGreaterThan(8);
    expect(pointSizeFor(1_000_000)).toBeGreaterThanOrEqual(2);
    expect(pointSizeFor(1_000_000)).toBeLessThan(pointSizeFor(100_000));
    expect(pointOpacityFor(1_000)).toBe(1);
    expect(pointOpacityFor(1_000_000)).toBeGreaterThanOrEqual(0.35);
  });

  it('pale palette colours are darkened (hue kept); dark ones untouched', () => {
    expect(legiblePointColour('#2166ac')).toBe('#2166ac');
    const pale = legiblePointColour('#fddbc7');
    expect(pale).not.toBe('#fddbc7');
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(pale.slice(i, i + 2), 16));
    expect((0.2126 * r + 0.7152 * g + 0.0722 * b) / 255).toBeLessThanOrEqual(0.601);
    expect(r).toBeGreaterThan(g);
  });
});
