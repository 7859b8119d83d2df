import { describe, expect, it } from 'vitest';
import { colourAt, CONFIDENCE_SCALE } from '../../server/lib/overlays/colour-scales.ts';
import { confidenceShown, OVERLAY_LAYER_DEFS, type OverlayCell } from '../../server/lib/overlays/layers.ts';
import { scoringRange } from '../../server/lib/overlays/overlay-grid.ts';
import { rasterizeCells } from '../../server/lib/overlays/rasterize.ts';
import { confidenceWords } from '../../map-ui/src/panels/inspector.ts';
import { legiblePointColour, pointOpacityFor, pointSizeFor } from '../../map-ui/src/views/latent-plot.ts';

const cell = (x: number, y: number, low: number | null, high: number | null): OverlayCell => ({
  x,
  y,
  status: 'scored',
  priority: high ?? 0,
  iouHat: 0.5,
  novelty: 50,
  buildingProbLow: low,
  buildingProbHigh: high,
});

function pixel(rgba: Uint8Array, px: number, py: number): number[] {
  const o = (py * 256 + px) * 4;
  return Array.from(rgba.subarray(o, o + 4));
}

describe('confidence overlay shows how far the reference run speaks for a tile', () => {
  it("draws 1 − doubt, the width of the tile's no-label interval", () => {
    expect(confidenceShown(cell(0, 0, 0.2, 0.2))).toBe(1);
    expect(confidenceShown(cell(0, 0, 0.1, 0.6))).toBeCloseTo(0.5);
    expect(confidenceShown(cell(0, 0, 0, 1))).toBe(0);
    expect(confidenceShown(cell(0, 0, null, null))).toBeNull();
    expect(confidenceShown({ ...cell(0, 0, 0.2, 0.2), status: 'missing' })).toBeNull();
  });

  it('keeps the least trusted tile where tiles share a pixel', async () => {
    const range = scoringRange(8, 1, 1, 18);
    const { rgba } = await rasterizeCells(OVERLAY_LAYER_DEFS.confidence, range, [
      cell(1024, 1024, 0.3, 0.3),
      cell(1025, 1025, 0.1, 0.7),
    ]);
    const kept = colourAt(CONFIDENCE_SCALE, 0.4);
    expect(pixel(rgba, 0, 0)).toEqual(kept);
  });

  it('no layer fades its tiles', () => {
    expect(OVERLAY_LAYER_DEFS.priority.alpha).toBeUndefined();
    expect(OVERLAY_LAYER_DEFS.confidence.alpha).toBeUndefined();
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
