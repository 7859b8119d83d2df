/**
 * Slippy-map tile geometry in Web Mercator (EPSG:3857), the grid MapSwipe and every XYZ imagery
 * service use. Pure functions; a tile is `z/x/y` with y growing southwards.
 *
 * The one home of tile maths for the server, the map UI and the plugin: it imports nothing from Node,
 * so Vite and esbuild bundle it for the browser as it is.
 */
import type { Polygon } from 'geojson';
import { TilelensError } from '../errors.ts';

export type BBox = [west: number, south: number, east: number, north: number];

export interface TileCoord {
  z: number;
  x: number;
  y: number;
}

/** Mercator is undefined at the poles; tile grids stop here. */
export const MAX_LATITUDE = 85.0511287798066;

export class TileError extends TilelensError {
  override name = 'TileError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('bad-tile', message, { status: 400, cause: options?.cause });
  }
}

function assertTile(z: number, x: number, y: number): void {
  if (!Number.isInteger(z) || z < 0 || z > 30) {
    throw new TileError(`zoom ${z} is not an integer in 0..30; pass a slippy-map zoom such as 18`);
  }
  const n = 2 ** z;
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= n || y >= n) {
    throw new TileError(
      `tile ${z}/${x}/${y} is outside the zoom-${z} grid (x and y must be integers in 0..${n - 1})`,
    );
  }
}

export function tileToQuadkey(z: number, x: number, y: number): string {
  assertTile(z, x, y);
  let key = '';
  for (let i = z; i > 0; i--) {
    const mask = 1 << (i - 1);
    key += String((x & mask ? 1 : 0) + (y & mask ? 2 : 0));
  }
  return key;
}

export function quadkeyToTile(quadkey: string): TileCoord {
  if (!/^[0-3]*$/.test(quadkey)) {
    throw new TileError(
      `quadkey "${quadkey}" holds characters other than 0-3; a quadkey is one digit 0-3 per zoom level`,
    );
  }
  let x = 0;
  let y = 0;
  const z = quadkey.length;
  for (let i = 0; i < z; i++) {
    const d = quadkey.charCodeAt(i) - 48;
    x = x * 2 + (d & 1);
    y = y * 2 + (d >> 1);
  }
  return { z, x, y };
}

/** Fractional world pixel of a lon/lat at zoom z: tiles are tileSize-pixel squares of this plane. */
export function lonLatToWorldPixel(lon: number, lat: number, z: number, tileSize = 256): [number, number] {
  const worldSize = tileSize * 2 ** z;
  const clamped = Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat));
  const sin = Math.sin((clamped * Math.PI) / 180);
  const px = ((lon + 180) / 360) * worldSize;
  const py = (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * worldSize;
  return [px, py];
}

export function worldPixelToLonLat(px: number, py: number, z: number, tileSize = 256): [number, number] {
  const worldSize = tileSize * 2 ** z;
  const lon = (px / worldSize) * 360 - 180;
  const mercY = Math.PI * (1 - (2 * py) / worldSize);
  const lat = (Math.atan(Math.sinh(mercY)) * 180) / Math.PI;
  return [lon, lat];
}

export function lonLatToTile(lon: number, lat: number, z: number): TileCoord {
  const n = 2 ** z;
  const [px, py] = lonLatToWorldPixel(lon, lat, z, 1);
  // The east edge (lon 180) and the clamped south pole belong to the last tile, not one past it.
  const x = Math.min(n - 1, Math.max(0, Math.floor(px)));
  const y = Math.min(n - 1, Math.max(0, Math.floor(py)));
  return { z, x, y };
}

export function tileBounds(z: number, x: number, y: number): BBox {
  assertTile(z, x, y);
  const [west, north] = worldPixelToLonLat(x, y, z, 1);
  const [east, south] = worldPixelToLonLat(x + 1, y + 1, z, 1);
  return [west, south, east, north];
}

/** Longitude / latitude of the tile's centre. */
export function tileCentre(z: number, x: number, y: number): [number, number] {
  return worldPixelToLonLat(x + 0.5, y + 0.5, z, 1);
}

/** The tile's outline as a GeoJSON Polygon: closed ring, counter-clockwise as RFC 7946 asks. */
export function tileFootprint(z: number, x: number, y: number): Polygon {
  return bboxPolygon(tileBounds(z, x, y));
}

/**
 * The lon/lat box of a range of tiles (inclusive), optionally inset by a fraction of a tile so that an area
 * drawn from it covers exactly those tiles and no sliver of their neighbours.
 */
export function tileRangeBBox(
  z: number,
  range: { minX: number; minY: number; maxX: number; maxY: number },
  insetTiles = 0,
): BBox {
  const [west, north] = worldPixelToLonLat(range.minX + insetTiles, range.minY + insetTiles, z, 1);
  const [east, south] = worldPixelToLonLat(range.maxX + 1 - insetTiles, range.maxY + 1 - insetTiles, z, 1);
  return [west, south, east, north];
}

/** A lon/lat box as a GeoJSON Polygon: closed ring, counter-clockwise. */
export function bboxPolygon([w, s, e, n]: BBox): Polygon {
  return {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}

/** MapSwipe's task id: `18-x-y`. */
export function taskId(z: number, x: number, y: number): string {
  assertTile(z, x, y);
  return `${z}-${x}-${y}`;
}

export function parseTaskId(id: string): TileCoord {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(id);
  if (!m) {
    throw new TileError(`task id "${id}" is not of the form z-x-y (e.g. 18-155668-139360)`);
  }
  const t = { z: Number(m[1]), x: Number(m[2]), y: Number(m[3]) };
  assertTile(t.z, t.x, t.y);
  return t;
}

/** The id of a scoring tile's feature in the vector tiles (`y · 2^z + x`), for `map.setFeatureState`. */
export const tileFeatureId = (z: number, x: number, y: number): number => y * 2 ** z + x;

/** Compact map key `z/x/y`, for Maps and Sets keyed by tile. */
export function tileKey(z: number, x: number, y: number): string {
  return `${z}/${x}/${y}`;
}

/** Inclusive tile range at zoom z that covers a lon/lat bbox. */
export function tilesCoveringBBox(
  bbox: BBox,
  z: number,
): { minX: number; minY: number; maxX: number; maxY: number } {
  const nw = lonLatToTile(bbox[0], bbox[3], z);
  const se = lonLatToTile(bbox[2], bbox[1], z);
  return { minX: nw.x, minY: nw.y, maxX: se.x, maxY: se.y };
}

/** Ground size of one pixel in metres at a latitude (the Mercator scale factor shrinks it by cos(lat)). */
export function metresPerPixel(lat: number, z: number, tileSize = 256): number {
  const EARTH_CIRCUMFERENCE = 40075016.686;
  return (EARTH_CIRCUMFERENCE * Math.cos((lat * Math.PI) / 180)) / (tileSize * 2 ** z);
}

/**
 * East and north metres from one lon/lat to a nearby other (a few hundred metres at most: the local flat-earth
 * approximation on the sphere Web Mercator uses, far below a pixel's error at those distances).
 */
export function groundOffset(from: [number, number], to: [number, number]): [east: number, north: number] {
  const metresPerDegree = 40075016.686 / 360;
  const lat = (((from[1] + to[1]) / 2) * Math.PI) / 180;
  return [(to[0] - from[0]) * metresPerDegree * Math.cos(lat), (to[1] - from[1]) * metresPerDegree];
}
