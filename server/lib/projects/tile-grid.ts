/**
 * The tiles of a project area, streamed row by row.
 *
 * A 5,120 km² area at z18 is ~230k tiles, so no tile polygon is ever built to test it: each tile row is
 * a latitude strip, and the x-ranges the area covers inside that strip come from a scanline over the
 * area's edges. A tile belongs to the area when the two share a positive surface; tiles that only touch
 * the area along an edge or at a corner do not (volunteers would swipe through nothing).
 *
 * Edges are straight in lon/lat, as GeoJSON and turf read them, so strips are cut in latitude rather
 * than in Mercator y: a long edge bows by up to hundreds of metres between the two readings.
 */
import type { Polygon } from 'geojson';
import {
  tileFootprint,
  tileToQuadkey,
  taskId as tileTaskId,
  tilesCoveringBBox,
  worldPixelToLonLat,
  type BBox,
  type TileCoord,
} from '../geo/tiles.ts';
import { bboxOf } from './area.ts';

export interface GridArea {
  polygons: Polygon[];
  bbox?: BBox;
}

/** Inclusive tile-x ranges of one tile row, sorted and disjoint. */
export interface RowSpans {
  y: number;
  spans: Array<[x0: number, x1: number]>;
}

export interface TileRecord extends TileCoord {
  taskId: string;
  quadkey: string;
  footprint: Polygon;
}

/**
 * Coordinates that land within this fraction of a tile of a tile edge count as on the edge: an area
 * drawn along tile edges (e.g. exported from tile footprints) must not pick up the neighbours it
 * only touches because of a rounding error in the last bit.
 */
const SNAP = 1e-7;

/**
 * A polygon's edges (every ring), sorted north to south by their northern end, so that each strip
 * visits only the edges that reach into it (an active-edge table): O(E log E + Σ active) for a whole
 * area instead of O(rows × E).
 */
interface Edges {
  lon0: Float64Array;
  lat0: Float64Array;
  lon1: Float64Array;
  lat1: Float64Array;
  /** Edge indices by northern end, north first. */
  byNorth: Int32Array;
  next: number;
  active: number[];
}

function edgesOf(p: Polygon): Edges {
  let count = 0;
  for (const ring of p.coordinates) count += Math.max(0, ring.length - 1);
  const e: Edges = {
    lon0: new Float64Array(count),
    lat0: new Float64Array(count),
    lon1: new Float64Array(count),
    lat1: new Float64Array(count),
    byNorth: new Int32Array(count),
    next: 0,
    active: [],
  };
  let k = 0;
  for (const ring of p.coordinates) {
    for (let i = 0; i + 1 < ring.length; i++, k++) {
      e.lon0[k] = ring[i][0];
      e.lat0[k] = ring[i][1];
      e.lon1[k] = ring[i + 1][0];
      e.lat1[k] = ring[i + 1][1];
      e.byNorth[k] = k;
    }
  }
  const north = (i: number) => Math.max(e.lat0[i], e.lat1[i]);
  e.byNorth.sort((a, b) => north(b) - north(a));
  return e;
}

/** Brings `e.active` to the edges that reach into the strip latS..latN (strips come north to south). */
function activate(e: Edges, latS: number, latN: number): void {
  while (e.next < e.byNorth.length) {
    const i = e.byNorth[e.next];
    if (Math.max(e.lat0[i], e.lat1[i]) < latS) break;
    e.active.push(i);
    e.next++;
  }
  // An edge wholly north of this strip is north of every later one too.
  let kept = 0;
  for (const i of e.active) if (Math.min(e.lat0[i], e.lat1[i]) <= latN) e.active[kept++] = i;
  e.active.length = kept;
}

function snapped(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - r) < SNAP ? r : v;
}

export function* rowSpans(area: GridArea, zoom: number): Generator<RowSpans> {
  const bbox = area.bbox ?? bboxOf(area.polygons);
  const { minY, maxY } = tilesCoveringBBox(bbox, zoom);
  const n = 2 ** zoom;
  const polygons = area.polygons.map(edgesOf);
  const toX = (lon: number) => snapped(((lon + 180) / 360) * n);
  const ranges: Array<[number, number]> = [];
  const pushLon = (a: number, b: number) => {
    const xa = toX(a);
    const xb = toX(b);
    let i0: number;
    let i1: number;
    if (xb > xa) {
      i0 = Math.floor(xa);
      i1 = Math.ceil(xb) - 1;
    } else if (Number.isInteger(xa)) {
      return; // a vertical line on a tile edge touches both neighbours and covers neither
    } else {
      i0 = i1 = Math.floor(xa);
    }
    ranges.push([Math.max(0, i0), Math.min(n - 1, i1)]);
  };
  const crossings: number[] = [];

  for (let y = minY; y <= maxY; y++) {
    const latN = worldPixelToLonLat(0, y, zoom, 1)[1];
    const latS = worldPixelToLonLat(0, y + 1, zoom, 1)[1];
    const eps = (latN - latS) * SNAP;
    const lo = latS + eps;
    const hi = latN - eps;
    const mid = (latN + latS) / 2;
    ranges.length = 0;
    for (const edges of polygons) {
      crossings.length = 0;
      activate(edges, latS, latN);
      const { lon0: lons0, lat0: lats0, lon1: lons1, lat1: lats1 } = edges;
      for (const i of edges.active) {
        const lon0 = lons0[i];
        const lat0 = lats0[i];
        const lon1 = lons1[i];
        const lat1 = lats1[i];
        // Boundary inside the strip: every tile its x-extent passes through shares surface with the area.
        if (lat0 === lat1) {
          if (lat0 > lo && lat0 < hi) pushLon(Math.min(lon0, lon1), Math.max(lon0, lon1));
        } else {
          const ta = (lo - lat0) / (lat1 - lat0);
          const tb = (hi - lat0) / (lat1 - lat0);
          const t0 = Math.max(0, Math.min(ta, tb));
          const t1 = Math.min(1, Math.max(ta, tb));
          if (t1 > t0) {
            const a = lon0 + t0 * (lon1 - lon0);
            const b = lon0 + t1 * (lon1 - lon0);
            pushLon(Math.min(a, b), Math.max(a, b));
          }
          // Where no boundary enters the strip, the strip is wholly in or out: the mid-line decides.
          if (lat0 > mid !== lat1 > mid)
            crossings.push(lon0 + ((mid - lat0) / (lat1 - lat0)) * (lon1 - lon0));
        }
      }
      crossings.sort((a, b) => a - b);
      for (let i = 0; i + 1 < crossings.length; i += 2) pushLon(crossings[i], crossings[i + 1]);
    }
    if (ranges.length === 0) continue;
    ranges.sort((a, b) => a[0] - b[0]);
    const spans: Array<[number, number]> = [[ranges[0][0], ranges[0][1]]];
    for (let i = 1; i < ranges.length; i++) {
      const last = spans[spans.length - 1];
      const [a, b] = ranges[i];
      if (a <= last[1] + 1) last[1] = Math.max(last[1], b);
      else spans.push([a, b]);
    }
    yield { y, spans };
  }
}

/** Every tile sharing surface with the area, row by row (north to south), west to east within a row. */
export function* tilesCoveringArea(area: GridArea, zoom: number): Generator<TileCoord> {
  for (const { y, spans } of rowSpans(area, zoom)) {
    for (const [x0, x1] of spans) {
      for (let x = x0; x <= x1; x++) yield { z: zoom, x, y };
    }
  }
}

export function countTiles(area: GridArea, zoom: number): number {
  let count = 0;
  for (const { spans } of rowSpans(area, zoom)) {
    for (const [x0, x1] of spans) count += x1 - x0 + 1;
  }
  return count;
}

export function tileRecord(z: number, x: number, y: number): TileRecord {
  return {
    z,
    x,
    y,
    taskId: tileTaskId(z, x, y),
    quadkey: tileToQuadkey(z, x, y),
    footprint: tileFootprint(z, x, y),
  };
}

/**
 * Tiles `start` (inclusive) to `end` (exclusive) of the area's tile order (`tilesCoveringArea`'s), for a chunk
 * of a project: the rows before the range are counted span by span, never walked tile by tile, so a chunk
 * near the end of a large region costs its rows' scanlines and its own tiles only.
 */
export function* tilesInRange(
  area: GridArea,
  zoom: number,
  start: number,
  end: number,
): Generator<TileCoord> {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
    throw new RangeError(`a tile range is two integers 0 ≤ start ≤ end, got ${start}…${end}`);
  }
  let index = 0;
  for (const { y, spans } of rowSpans(area, zoom)) {
    if (index >= end) return;
    for (const [x0, x1] of spans) {
      const width = x1 - x0 + 1;
      if (index + width <= start) {
        index += width;
        continue;
      }
      for (let x = x0 + Math.max(0, start - index); x <= x1 && index + (x - x0) < end; x++) {
        yield { z: zoom, x, y };
      }
      index += width;
      if (index >= end) return;
    }
  }
}
