/**
 * Per-map-tile vector data at high zooms: the scoring-tile grid (with each tile's scores, so a map can
 * outline, click or highlight tiles) and the predicted building footprints. Served as MVT for MapLibre
 * and as capped GeoJSON for anything else; both come from one read of the tile's range.
 */
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import type { DatabaseHandle } from '../db/client.ts';
import { TilelensError } from '../errors.ts';
import { lonLatToWorldPixel, tileFeatureId, tileFootprint } from '../geo/tiles.ts';
import { encodeMvt, MVT_EXTENT, type MvtPolygonFeature } from './mvt.ts';
import { iterateVectorCells, type VectorCellRow as VectorCell } from '../db/tile-scores-repo.ts';
import { scoringRange } from './overlay-grid.ts';

/** Below this view zoom a map tile covers thousands of scoring tiles; the raster overlays serve it. */
export const VECTOR_MIN_ZOOM = 15;

/** Layer names inside the vector tiles. */
export const TILES_LAYER = 'tiles';
export const FOOTPRINTS_LAYER = 'footprints';

/** A tile asked for that the project has no overlay for; the hint says which tiles exist. */
export class OverlayError extends TilelensError {
  override name = 'OverlayError';
  constructor(code: 'zoom-out-of-range' | 'bad-tile', message: string, hint?: string) {
    super(code, message, { status: 400, hint });
  }
}

export interface ProjectGrid {
  id: number;
  /** The zoom the project's tiles were scored at (18 for MapSwipe). */
  zoom: number;
}

export function assertVectorZoom(project: ProjectGrid, z: number): void {
  if (z < VECTOR_MIN_ZOOM || z > project.zoom) {
    throw new OverlayError(
      'zoom-out-of-range',
      `vector tiles of project ${project.id} exist for zooms ${VECTOR_MIN_ZOOM}..${project.zoom}, not ${z}`,
      `use the raster overlays below zoom ${VECTOR_MIN_ZOOM}; above ${project.zoom} let the map overzoom (source maxzoom ${project.zoom})`,
    );
  }
}

function cellProperties(c: VectorCell) {
  return {
    taskId: c.taskId,
    status: c.status,
    tier: c.tier,
    priority: round(c.priority),
    iouHat: c.iouHat === null ? null : round(c.iouHat),
    novelty: c.novelty === null ? null : round(c.novelty, 1),
    buildingProb: c.buildingProb === null ? null : round(c.buildingProb),
  };
}

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

export interface VectorTileResult {
  bytes: Uint8Array;
  tiles: number;
  footprints: number;
}

/** MVT of map tile z/x/y: layer `tiles` (one square per scored tile) and layer `footprints`. */
export async function buildVectorTile(
  db: DatabaseHandle,
  project: ProjectGrid,
  z: number,
  x: number,
  y: number,
): Promise<VectorTileResult> {
  assertVectorZoom(project, z);
  const range = scoringRange(z, x, y, project.zoom);
  const scale = MVT_EXTENT * 2 ** (z - project.zoom);
  const toTile = ([lon, lat]: number[]): [number, number] => {
    const [px, py] = lonLatToWorldPixel(lon, lat, z, MVT_EXTENT);
    return [px - x * MVT_EXTENT, py - y * MVT_EXTENT];
  };
  const tiles: MvtPolygonFeature[] = [];
  const footprints: MvtPolygonFeature[] = [];
  for await (const c of iterateVectorCells(db, project.id, project.zoom, range)) {
    const x0 = (c.x - range.minX) * scale;
    const y0 = (c.y - range.minY) * scale;
    tiles.push({
      id: tileFeatureId(project.zoom, c.x, c.y),
      polygons: [
        [
          [
            [x0, y0],
            [x0 + scale, y0],
            [x0 + scale, y0 + scale],
            [x0, y0 + scale],
          ],
        ],
      ],
      properties: cellProperties(c),
    });
    if (c.footprints && c.footprints.coordinates.length) {
      footprints.push({
        polygons: c.footprints.coordinates.map((poly) => poly.map((ring) => ring.map(toTile))),
        properties: { taskId: c.taskId },
      });
    }
  }
  const bytes = encodeMvt([
    { name: TILES_LAYER, features: tiles },
    { name: FOOTPRINTS_LAYER, features: footprints },
  ]);
  return { bytes, tiles: tiles.length, footprints: footprints.length };
}

export interface FootprintCollection extends FeatureCollection<MultiPolygon | Polygon> {
  tilelens: { projectId: number; tile: string; limit: number; truncated: boolean };
}

/**
 * GeoJSON of map tile z/x/y: one MultiPolygon feature of predicted buildings per scoring tile, capped at
 * `limit` features; `includeTiles` adds the scoring tiles' squares (with their scores) as well.
 */
export async function buildFootprintGeoJson(
  db: DatabaseHandle,
  project: ProjectGrid,
  z: number,
  x: number,
  y: number,
  options: { limit: number; includeTiles?: boolean },
): Promise<FootprintCollection> {
  assertVectorZoom(project, z);
  const range = scoringRange(z, x, y, project.zoom);
  const features: Array<Feature<MultiPolygon | Polygon>> = [];
  let truncated = false;
  for await (const c of iterateVectorCells(db, project.id, project.zoom, range)) {
    const wanted = (c.footprints?.coordinates.length ? 1 : 0) + (options.includeTiles ? 1 : 0);
    if (features.length + wanted > options.limit) {
      truncated = true;
      break;
    }
    if (options.includeTiles) {
      features.push({
        type: 'Feature',
        id: c.taskId,
        properties: { layer: TILES_LAYER, ...cellProperties(c) },
        geometry: tileFootprint(project.zoom, c.x, c.y),
      });
    }
    if (c.footprints?.coordinates.length) {
      features.push({
        type: 'Feature',
        properties: { layer: FOOTPRINTS_LAYER, taskId: c.taskId, buildingProb: c.buildingProb },
        geometry: c.footprints,
      });
    }
  }
  return {
    type: 'FeatureCollection',
    features,
    tilelens: { projectId: project.id, tile: `${z}/${x}/${y}`, limit: options.limit, truncated },
  };
}
