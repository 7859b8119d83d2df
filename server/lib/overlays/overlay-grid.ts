/**
 * Where a project's scoring tiles (one zoom, 18 for MapSwipe) fall inside a 256-pixel map tile at any view
 * zoom. Pure arithmetic, so the renderer, the footprint tiles and the tests share one answer.
 *
 * - view zoom z ≤ scoring zoom Z: the map tile covers 2^(Z-z) × 2^(Z-z) scoring tiles; each is
 *   2^(z-Z+8) pixels wide down to z = Z-8 (1 pixel), and below that 2^(Z-8-z) scoring tiles share a
 *   pixel column (the renderer aggregates them).
 * - z > Z: the map tile lies inside one scoring tile and is filled by it (upsampled).
 */
import { TileError } from '../geo/tiles.ts';

export const OVERLAY_TILE_SIZE = 256;
const SIZE_LOG2 = 8;

export interface ScoringRange {
  /** Inclusive range of scoring-zoom tile columns and rows under the map tile. */
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  /** Scoring tiles per pixel along one axis when ≥ 1 (aggregation), else 1. */
  tilesPerPixel: number;
  /** Pixels per scoring tile along one axis when ≥ 1, else 1 (several tiles share a pixel). */
  pixelsPerTile: number;
  /** The map tile's top-left corner in world pixels at its own zoom. */
  originX: number;
  originY: number;
}

export function assertMapTile(z: number, x: number, y: number): void {
  if (!Number.isInteger(z) || z < 0 || z > 30) {
    throw new TileError(`map tile zoom ${z} is not an integer in 0..30`);
  }
  const n = 2 ** z;
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= n || y >= n) {
    throw new TileError(`map tile ${z}/${x}/${y} is outside the zoom-${z} grid (x and y in 0..${n - 1})`);
  }
}

/** The scoring tiles (at `scoringZoom`) that map tile z/x/y shows, and how many pixels each gets. */
export function scoringRange(z: number, x: number, y: number, scoringZoom: number): ScoringRange {
  assertMapTile(z, x, y);
  if (z >= scoringZoom) {
    // Multiplying by a power of two instead of shifting keeps this exact past 2^31.
    const f = 2 ** (z - scoringZoom);
    const sx = Math.floor(x / f);
    const sy = Math.floor(y / f);
    return {
      minX: sx,
      maxX: sx,
      minY: sy,
      maxY: sy,
      tilesPerPixel: 1,
      pixelsPerTile: OVERLAY_TILE_SIZE * f,
      originX: x * OVERLAY_TILE_SIZE,
      originY: y * OVERLAY_TILE_SIZE,
    };
  }
  const span = 2 ** (scoringZoom - z);
  const d = scoringZoom - z - SIZE_LOG2;
  return {
    minX: x * span,
    maxX: (x + 1) * span - 1,
    minY: y * span,
    maxY: (y + 1) * span - 1,
    tilesPerPixel: d > 0 ? 2 ** d : 1,
    pixelsPerTile: d < 0 ? 2 ** -d : 1,
    originX: x * OVERLAY_TILE_SIZE,
    originY: y * OVERLAY_TILE_SIZE,
  };
}

export interface PixelRect {
  /**
   * Left and top pixel of the scoring tile inside the map tile, and its width (= height). Not clipped:
   * when the map tile lies inside the scoring tile the square starts left of / above the tile and is
   * wider than it, which is what tells the renderer whether an edge of the scoring tile is in view.
   */
  px: number;
  py: number;
  size: number;
}

/**
 * The pixels scoring tile (sx, sy) covers in the map tile of `range`: a square of `pixelsPerTile`, or —
 * when several scoring tiles fall in one pixel — the one pixel it shares with its neighbours.
 */
export function pixelRect(range: ScoringRange, sx: number, sy: number): PixelRect {
  if (range.tilesPerPixel > 1) {
    return {
      px: Math.floor(sx / range.tilesPerPixel) - range.originX,
      py: Math.floor(sy / range.tilesPerPixel) - range.originY,
      size: 1,
    };
  }
  const s = range.pixelsPerTile;
  return { px: sx * s - range.originX, py: sy * s - range.originY, size: s };
}

/** Does the map tile overlap the project's scoring-tile bounds at all? Saves a query for tiles far off. */
export function rangesOverlap(
  a: Pick<ScoringRange, 'minX' | 'maxX' | 'minY' | 'maxY'>,
  b: Pick<ScoringRange, 'minX' | 'maxX' | 'minY' | 'maxY'>,
): boolean {
  return a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY;
}
