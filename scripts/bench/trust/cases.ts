/**
 * Cases of the trust benchmark: regions whose truth is known, written as imagery a project can be scored on (a
 * PMTiles archive of z18 tiles), so each case goes through the same path as a real project (`scoreRegion`).
 *
 * Real image patches have no place on the map (only Rio's do, and not at z18), so a case lays its tiles out on a
 * grid of z18 tiles at an arbitrary spot; what a tile shows and whether it holds a building is all that scoring
 * and the truth need.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { bboxPolygon, lonLatToTile, tileBounds, taskId } from '../../../server/lib/geo/tiles.ts';
import { PMTilesWriter } from '../../../server/lib/pmtiles/writer.ts';
import type { Patch, PatchSource } from '../../../server/lib/datasets/patch-source.ts';
import { resizeMask } from '../../../server/lib/model/runtime.ts';
import { applyShift, type Shift } from './shifts.ts';

export type CaseKind = 'in-distribution' | 'shifted' | 'unseen';

export interface TrustCase {
  name: string;
  kind: CaseKind;
  /** Imagery to score: a PMTiles archive. */
  archive: string;
  /** GeoJSON Polygon of the area to score (the archive's tiles). */
  area: { type: 'Polygon'; coordinates: number[][][] };
  /** Task id → whether the tile holds a building. */
  truth: Map<string, boolean>;
}

const ZOOM = 18;

/**
 * "Holds a building" as the reference analysis counts it (tp + fn > 0): a building pixel in the mask at the model's
 * input size. A sliver too thin to survive that resize is not a building a volunteer would mark either.
 */
export function holdsBuilding(mask: Uint8Array, side: number, modelSide: number): boolean {
  const m = side === modelSide ? mask : resizeMask(mask, side, side, modelSide, modelSide);
  for (let i = 0; i < m.length; i++) if (m[i]) return true;
  return false;
}

export interface CaseTile {
  rgb: Uint8Array;
  holdsBuilding: boolean;
}

/** Writes tiles onto a grid of z18 tiles whose north-west corner is at `origin` (lon, lat). */
export async function writeCase(
  dir: string,
  name: string,
  kind: CaseKind,
  tiles: CaseTile[],
  origin: [number, number],
  jpegQuality = 92,
): Promise<TrustCase> {
  if (tiles.length === 0) throw new Error(`case ${name} has no tiles`);
  mkdirSync(dir, { recursive: true });
  const cols = Math.ceil(Math.sqrt(tiles.length));
  const rows = Math.ceil(tiles.length / cols);
  const nw = lonLatToTile(origin[0], origin[1], ZOOM);
  const archive = join(dir, `${name}.pmtiles`);
  const writer = new PMTilesWriter(archive, { tileType: 'jpeg' });
  const truth = new Map<string, boolean>();
  for (let i = 0; i < tiles.length; i++) {
    const x = nw.x + (i % cols);
    const y = nw.y + Math.floor(i / cols);
    const jpeg = await sharp(Buffer.from(tiles[i].rgb), { raw: { width: 256, height: 256, channels: 3 } })
      .jpeg({ quality: jpegQuality })
      .toBuffer();
    await writer.addTile(ZOOM, x, y, new Uint8Array(jpeg));
    truth.set(taskId(ZOOM, x, y), tiles[i].holdsBuilding);
  }
  // The last row may be short: its empty places are scored as tiles without imagery and left out of the figures.
  const [w, , , n] = tileBounds(ZOOM, nw.x, nw.y);
  const [, s, e] = tileBounds(ZOOM, nw.x + cols - 1, nw.y + rows - 1);
  await writer.finish({ minZoom: ZOOM, maxZoom: ZOOM, bounds: [w, s, e, n], metadata: { name } });
  writeFileSync(join(dir, `${name}.truth.json`), JSON.stringify(Object.fromEntries(truth)) + '\n');
  const inset = 1e-7;
  return {
    name,
    kind,
    archive,
    area: bboxPolygon([w + inset, s + inset, e - inset, n - inset]),
    truth,
  };
}

/** A dataset's patches as case tiles, each through `shift`. */
export async function tilesFrom(
  source: PatchSource,
  shift: Shift,
  modelSide: number,
  keep: (p: Patch) => boolean = () => true,
): Promise<CaseTile[]> {
  const out: CaseTile[] = [];
  for await (const p of source.patches()) {
    if (!keep(p)) continue;
    if (p.width !== 256 || p.height !== 256)
      throw new Error(`patch ${p.key} is ${p.width}×${p.height}, not 256×256`);
    out.push({ rgb: await applyShift(shift, p.image), holdsBuilding: holdsBuilding(p.mask, 256, modelSide) });
  }
  return out;
}
