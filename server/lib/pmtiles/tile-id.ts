/**
 * PMTiles v3 tile ids: tiles of all lower zooms counted first, then the tile's position along
 * the zoom level's Hilbert curve. Ids reach ~2.9e15 at zoom 26, so arithmetic stays in doubles.
 */
import { TilelensError } from '../errors.ts';
export class TileIdError extends TilelensError {
  override name = 'TileIdError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('bad-tile', message, { status: 400, cause: options?.cause });
  }
}

export const MAX_TILE_ID_ZOOM = 26;

/** Number of tiles in all zoom levels below z: (4^z - 1) / 3. */
function tilesBelow(z: number): number {
  return (4 ** z - 1) / 3;
}

export function zxyToTileId(z: number, x: number, y: number): number {
  if (!Number.isInteger(z) || z < 0 || z > MAX_TILE_ID_ZOOM) {
    throw new TileIdError(`zoom ${z} is outside 0..${MAX_TILE_ID_ZOOM}, the range PMTiles tile ids cover`);
  }
  const n = 2 ** z;
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= n || y >= n) {
    throw new TileIdError(`tile ${z}/${x}/${y} is outside the zoom-${z} grid (0..${n - 1})`);
  }
  let d = 0;
  let tx = x;
  let ty = y;
  for (let s = n / 2; s >= 1; s /= 2) {
    const rx = (tx & s) > 0 ? 1 : 0;
    const ry = (ty & s) > 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    if (ry === 0) {
      if (rx === 1) {
        tx = s - 1 - (tx & (s - 1));
        ty = s - 1 - (ty & (s - 1));
      }
      const t = tx;
      tx = ty;
      ty = t;
    }
  }
  return tilesBelow(z) + d;
}

export function tileIdToZxy(id: number): [z: number, x: number, y: number] {
  if (!Number.isInteger(id) || id < 0 || id >= tilesBelow(MAX_TILE_ID_ZOOM + 1)) {
    throw new TileIdError(
      `tile id ${id} is not a PMTiles tile id (an integer below ${tilesBelow(MAX_TILE_ID_ZOOM + 1)})`,
    );
  }
  let z = 0;
  while (tilesBelow(z + 1) <= id) z++;
  const n = 2 ** z;
  let t = id - tilesBelow(z);
  let x = 0;
  let y = 0;
  for (let s = 1; s < n; s *= 2) {
    const rx = 1 & Math.floor(t / 2);
    const ry = 1 & (t ^ rx);
    if (ry === 0) {
      if (rx === 1) {
        x = s - 1 - x;
        y = s - 1 - y;
      }
      const tmp = x;
      x = y;
      y = tmp;
    }
    x += s * rx;
    y += s * ry;
    t = Math.floor(t / 4);
  }
  return [z, x, y];
}
