/**
 * A set of tiles as a few tile-aligned rectangles, the shape project areas take in MapSwipe and in the
 * Tasking Manager's priority areas.
 *
 * MapSwipe (python-mapswipe-workers, utils/tile_grouping_functions.py) cuts a project area into
 * horizontal stripes 3 tiles high, starting at the top tile row of the area's extent; each stripe piece's
 * x-extent becomes groups whose width is a multiple of 2 tiles (six tiles per screen), overlapping groups
 * are merged, and a piece only one tile wide is dropped. Rectangles built here follow that: rows snap to
 * 3-row bands counted from the top tile row, widths are padded to an even number of tiles, and the
 * polygons are inset by a pixel so MapSwipe's floor() of each edge lands inside the intended tile and
 * no two polygons touch (a touching edge makes the stripe intersection a geometry collection, which
 * MapSwipe silently skips). MapSwipe then builds exactly the tiles of these rectangles.
 */
import type { Polygon } from 'geojson';
import { worldPixelToLonLat } from '../geo/tiles.ts';

/** Inclusive tile ranges. */
export interface TileRect {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

export interface RectangleOptions {
  /** Rows per band: 3 for MapSwipe find projects, 1 for plain outlines. */
  bandHeight?: number;
  /** Widths are padded to a multiple of this: 2 for MapSwipe, 1 for plain outlines. */
  widthMultiple?: number;
  maxPolygons?: number;
}

export type Simplification = 'exact' | 'bridged-gaps' | 'merged-bands';

export interface RectanglePlan {
  rects: TileRect[];
  /** Distinct input tiles. */
  tiles: number;
  /** Tiles inside the rectangles that were not asked for (padding and merging). */
  extraTiles: number;
  simplification: Simplification;
  /** For the project details: what was given up to stay under maxPolygons. */
  note: string;
}

export function rectTiles(r: TileRect): number {
  return (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1);
}

type Run = [number, number];

export function planRectangles(
  tiles: Iterable<{ x: number; y: number }>,
  options: RectangleOptions = {},
): RectanglePlan {
  const H = options.bandHeight ?? 3;
  const W = options.widthMultiple ?? 2;
  const maxPolygons = options.maxPolygons ?? 20;
  const rows = new Map<number, number[]>();
  let top = Infinity;
  for (const { x, y } of tiles) {
    let xs = rows.get(y);
    if (!xs) rows.set(y, (xs = []));
    xs.push(x);
    if (y < top) top = y;
  }
  if (rows.size === 0) return { rects: [], tiles: 0, extraTiles: 0, simplification: 'exact', note: '' };

  const bandXs = new Map<number, number[]>();
  let count = 0;
  for (const [y, xs] of rows) {
    const b = Math.floor((y - top) / H);
    let list = bandXs.get(b);
    if (!list) bandXs.set(b, (list = []));
    for (const x of xs) list.push(x);
  }
  const bands = new Map<number, Run[]>();
  for (const [b, xs] of bandXs) {
    xs.sort((a, c) => a - c);
    const runs: Run[] = [];
    for (const x of xs) {
      const last = runs[runs.length - 1];
      if (last && x <= last[1] + 1) last[1] = Math.max(last[1], x);
      else runs.push([x, x]);
    }
    bands.set(b, padAndJoin(runs, W, 0));
  }
  for (const xs of rows.values()) count += new Set(xs).size;

  const toRects = (bs: Map<number, Run[]>) => stackBands(bs, top, H);
  let rects = toRects(bands);
  let simplification: Simplification = 'exact';
  if (rects.length > maxPolygons) {
    const gaps = [
      ...new Set([...bands.values()].flatMap((runs) => runs.slice(1).map((r, i) => r[0] - runs[i][1] - 1))),
    ].sort((a, b) => a - b);
    for (const g of gaps) {
      const bridged = new Map([...bands].map(([b, runs]) => [b, padAndJoin(runs, W, g)]));
      rects = toRects(bridged);
      simplification = 'bridged-gaps';
      if (rects.length <= maxPolygons) break;
    }
  }
  if (rects.length > maxPolygons) {
    rects = mergeBlocks(rects, maxPolygons, W);
    simplification = 'merged-bands';
  }
  const covered = rects.reduce((s, r) => s + rectTiles(r), 0);
  const extraTiles = covered - count;
  const note =
    simplification === 'exact'
      ? ''
      : simplification === 'bridged-gaps'
        ? `To stay within ${maxPolygons} polygons, gaps between tile runs were bridged: ${extraTiles} extra tiles are included.`
        : `To stay within ${maxPolygons} polygons, neighbouring ${H}-row bands were merged into bounding rectangles: ${extraTiles} extra tiles are included.`;
  return { rects, tiles: count, extraTiles, simplification, note };
}

/** Pads runs to the width multiple and joins runs closer than `bridge` tiles (touching runs always join). */
function padAndJoin(runs: Run[], multiple: number, bridge: number): Run[] {
  const out: Run[] = [];
  for (const [a, b0] of runs) {
    let b = b0;
    const last = out[out.length - 1];
    if (last && a - last[1] - 1 <= bridge) {
      last[1] = Math.max(last[1], b);
      const rem = (last[1] - last[0] + 1) % multiple;
      if (rem) last[1] += multiple - rem;
      continue;
    }
    const rem = (b - a + 1) % multiple;
    if (rem) b += multiple - rem;
    out.push([a, b]);
  }
  // Padding can push a run into its neighbour; join until stable.
  for (let i = 1; i < out.length;) {
    if (out[i][0] <= out[i - 1][1] + 1) {
      out[i - 1][1] = Math.max(out[i - 1][1], out[i][1]);
      const rem = (out[i - 1][1] - out[i - 1][0] + 1) % multiple;
      if (rem) out[i - 1][1] += multiple - rem;
      out.splice(i, 1);
    } else i++;
  }
  return out;
}

/** One rectangle per run, stacked across consecutive bands where the run is identical. */
function stackBands(bands: Map<number, Run[]>, top: number, H: number): TileRect[] {
  const order = [...bands.keys()].sort((a, b) => a - b);
  const done: TileRect[] = [];
  let open = new Map<string, TileRect>();
  let prevBand = -2;
  for (const b of order) {
    const next = new Map<string, TileRect>();
    for (const [x0, x1] of bands.get(b)!) {
      const key = `${x0}:${x1}`;
      const r = b === prevBand + 1 ? open.get(key) : undefined;
      if (r) {
        r.y1 = top + (b + 1) * H - 1;
        open.delete(key);
        next.set(key, r);
      } else {
        next.set(key, { x0, x1, y0: top + b * H, y1: top + (b + 1) * H - 1 });
      }
    }
    done.push(...open.values());
    open = next;
    prevBand = b;
  }
  done.push(...open.values());
  return done.sort((a, c) => a.y0 - c.y0 || a.x0 - c.x0);
}

/**
 * Merges rectangles north to south into bounding blocks, always joining the neighbouring pair that adds
 * the fewest tiles. Blocks stay whole bands tall, so MapSwipe's stripes still cut them cleanly.
 */
function mergeBlocks(rects: TileRect[], maxPolygons: number, multiple: number): TileRect[] {
  const padded = (x0: number, x1: number) => x1 + ((multiple - ((x1 - x0 + 1) % multiple)) % multiple);
  // Rectangles sharing rows cannot stay apart once any of them is merged with a block above or below, so
  // start from one bounding rectangle per distinct row range.
  const blocks: Array<TileRect & { tiles: number }> = [];
  for (const r of [...rects].sort((a, b) => a.y0 - b.y0 || a.x0 - b.x0)) {
    const last = blocks[blocks.length - 1];
    if (last && r.y0 <= last.y1) {
      last.x0 = Math.min(last.x0, r.x0);
      last.x1 = Math.max(last.x1, r.x1);
      last.y1 = Math.max(last.y1, r.y1);
    } else blocks.push({ ...r, tiles: 0 });
  }
  for (const b of blocks) {
    b.x1 = padded(b.x0, b.x1);
    b.tiles = rectTiles(b);
  }
  while (blocks.length > maxPolygons) {
    let best = 0;
    let bestCost = Infinity;
    for (let i = 0; i + 1 < blocks.length; i++) {
      const a = blocks[i];
      const b = blocks[i + 1];
      const x0 = Math.min(a.x0, b.x0);
      const cost = (padded(x0, Math.max(a.x1, b.x1)) - x0 + 1) * (b.y1 - a.y0 + 1) - a.tiles - b.tiles;
      if (cost < bestCost) {
        bestCost = cost;
        best = i;
      }
    }
    const a = blocks[best];
    const b = blocks[best + 1];
    const x0 = Math.min(a.x0, b.x0);
    const x1 = padded(x0, Math.max(a.x1, b.x1));
    blocks.splice(best, 2, { x0, x1, y0: a.y0, y1: b.y1, tiles: (x1 - x0 + 1) * (b.y1 - a.y0 + 1) });
  }
  return blocks.map(({ x0, x1, y0, y1 }) => ({ x0, x1, y0, y1 }));
}

/**
 * The rectangle in lon/lat, inset by `insetPx` pixels of a 256-px tile on every side (0 for an exact
 * outline). Counter-clockwise, as RFC 7946 asks.
 */
export function rectPolygon(r: TileRect, zoom: number, insetPx = 1): Polygon {
  const e = insetPx / 256;
  const [w, n] = worldPixelToLonLat(r.x0 + e, r.y0 + e, zoom, 1);
  const [east, s] = worldPixelToLonLat(r.x1 + 1 - e, r.y1 + 1 - e, zoom, 1);
  return {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [east, s],
        [east, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}
