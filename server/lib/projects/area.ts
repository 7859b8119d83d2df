/**
 * A project area: the GeoJSON a manager draws or uploads, checked the way MapSwipe checks a project
 * draft before it builds groups, so an area tilelens accepts is one MapSwipe will accept too.
 *
 * MapSwipe's rules (python-mapswipe-workers, utils/validate_input.py): Polygon / MultiPolygon only,
 * valid geometry (no self-intersections), a capped number of input geometries, zoom ≤ 22, and an area
 * limit that scales with the tile count: 5 · 4^(23 − zoom) km², i.e. 20 km² at z22 and 5,120 km² at z18.
 * MapSwipe measures area in Mollweide; we measure geodesic area on the sphere (turf), which is also
 * equal-area, and we sum every polygon (MapSwipe's own loop keeps only the last feature's area).
 */
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import { area as turfArea, kinks, lineString } from '@turf/turf';
import { TilelensError } from '../errors.ts';
import { MAX_LATITUDE, metresPerPixel, type BBox } from '../geo/tiles.ts';

export const DEFAULT_ZOOM = 18;
export const DEFAULT_MAX_POLYGONS = 20;
/** MapSwipe refuses zoom levels above 22. */
export const MAX_ZOOM = 22;

export type AreaErrorCode =
  | 'not-geojson'
  | 'wrong-geometry-type'
  | 'empty'
  | 'too-many-polygons'
  | 'self-intersection'
  | 'too-large'
  | 'invalid-coordinates'
  | 'invalid-zoom';

/** A client's area MapSwipe would refuse: 400, coded `area-<reason>`. */
export class AreaError extends TilelensError {
  override name = 'AreaError';
  constructor(
    readonly reason: AreaErrorCode,
    message: string,
  ) {
    super(`area-${reason}`, message, { status: 400 });
  }
}

export interface ProjectArea {
  zoom: number;
  polygons: Polygon[];
  areaKm2: number;
  bbox: BBox;
  /** Area divided by one tile's ground area at the area's mid latitude; `countTiles` gives the exact number. */
  tileCountEstimate: number;
}

export interface ParseAreaOptions {
  zoom?: number;
  maxPolygons?: number;
}

/** MapSwipe's largest project area at a zoom level: 4× smaller per zoom level in, 4× larger per level out. */
export function maxAreaKm2(zoom: number): number {
  return 5 * 4 ** (23 - zoom);
}

type Geometry = Polygon | MultiPolygon;

export function parseProjectArea(input: unknown, options: ParseAreaOptions = {}): ProjectArea {
  const zoom = options.zoom ?? DEFAULT_ZOOM;
  const maxPolygons = options.maxPolygons ?? DEFAULT_MAX_POLYGONS;
  if (!Number.isInteger(zoom) || zoom < 1 || zoom > MAX_ZOOM) {
    throw new AreaError(
      'invalid-zoom',
      `zoom ${zoom} is not supported; MapSwipe takes an integer zoom in 1..${MAX_ZOOM} (18 is usual)`,
    );
  }
  const geometries = collectGeometries(parseJson(input));
  const polygons: Polygon[] = [];
  for (const g of geometries) {
    if (g.type === 'Polygon') polygons.push({ type: 'Polygon', coordinates: g.coordinates });
    else for (const coordinates of g.coordinates) polygons.push({ type: 'Polygon', coordinates });
  }
  if (polygons.length === 0) {
    throw new AreaError('empty', 'the area holds no polygon; draw or upload at least one Polygon');
  }
  if (polygons.length > maxPolygons) {
    throw new AreaError(
      'too-many-polygons',
      `the area holds ${polygons.length} polygons; MapSwipe takes at most ${maxPolygons}. Merge neighbouring polygons or split the area into several projects`,
    );
  }
  polygons.forEach((p, i) => checkPolygon(p, i));

  const areaKm2 = polygons.reduce((sum, p) => sum + turfArea(p), 0) / 1e6;
  if (!(areaKm2 > 0)) {
    throw new AreaError(
      'empty',
      'the area has no surface (every polygon is degenerate); draw a polygon with a non-zero area',
    );
  }
  const limit = maxAreaKm2(zoom);
  if (areaKm2 > limit) {
    throw new AreaError(
      'too-large',
      `the area covers ${areaKm2.toFixed(1)} km²; MapSwipe takes at most ${limit.toLocaleString('en')} km² at zoom ${zoom}. Split it into smaller projects (or use a lower zoom)`,
    );
  }
  const bbox = bboxOf(polygons);
  const midLat = (bbox[1] + bbox[3]) / 2;
  const tileSideM = metresPerPixel(midLat, zoom, 1);
  const tileCountEstimate = Math.round((areaKm2 * 1e6) / (tileSideM * tileSideM));
  return { zoom, polygons, areaKm2, bbox, tileCountEstimate };
}

function parseJson(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch (e) {
    throw new AreaError(
      'not-geojson',
      `the area is not JSON (${(e as Error).message}); upload a GeoJSON file`,
    );
  }
}

function collectGeometries(input: unknown): Geometry[] {
  if (input === null || typeof input !== 'object' || typeof (input as { type?: unknown }).type !== 'string') {
    throw new AreaError(
      'not-geojson',
      'the area is not GeoJSON (no "type" member); upload a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection',
    );
  }
  const obj = input as { type: string; features?: unknown; geometry?: unknown; coordinates?: unknown };
  switch (obj.type) {
    case 'FeatureCollection': {
      if (!Array.isArray(obj.features)) {
        throw new AreaError(
          'not-geojson',
          'the FeatureCollection has no "features" array; fix the file or export it again from your GIS',
        );
      }
      return (obj.features as unknown[]).flatMap((f, i) => featureGeometry(f, `feature ${i}`));
    }
    case 'Feature':
      return featureGeometry(obj, 'the feature');
    case 'Polygon':
    case 'MultiPolygon':
      return [checkShape(obj, 'the geometry')];
    default:
      throw new AreaError(
        'wrong-geometry-type',
        `the area is a ${obj.type}; MapSwipe takes only Polygon or MultiPolygon areas. Convert lines or points to polygons in your GIS first`,
      );
  }
}

function featureGeometry(f: unknown, where: string): Geometry[] {
  const feature = f as Partial<Feature>;
  if (!feature || feature.type !== 'Feature') {
    throw new AreaError(
      'not-geojson',
      `${where} is not a GeoJSON Feature; every member of "features" needs "type": "Feature"`,
    );
  }
  const g = feature.geometry as { type?: string } | null | undefined;
  if (!g) {
    throw new AreaError('empty', `${where} has no geometry (null); remove it or give it a polygon`);
  }
  if (g.type !== 'Polygon' && g.type !== 'MultiPolygon') {
    throw new AreaError(
      'wrong-geometry-type',
      `${where} is a ${g.type}; MapSwipe takes only Polygon or MultiPolygon areas. Remove it or convert it to a polygon`,
    );
  }
  return [checkShape(g, where)];
}

/** Structure and coordinate ranges; topology is checked per polygon afterwards. */
function checkShape(g: { type?: string; coordinates?: unknown }, where: string): Geometry {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  if (!Array.isArray(polys) || polys.length === 0) {
    throw new AreaError('empty', `${where} has no coordinates; draw at least one ring`);
  }
  polys.forEach((rings, p) => {
    if (!Array.isArray(rings) || rings.length === 0) {
      throw new AreaError('empty', `${where}, polygon ${p} has no rings; remove it`);
    }
    rings.forEach((ring: unknown, r: number) => checkRing(ring, `${where}, polygon ${p}, ring ${r}`));
  });
  return g as Geometry;
}

function checkRing(ring: unknown, where: string): void {
  if (!Array.isArray(ring) || ring.length < 4) {
    throw new AreaError(
      'invalid-coordinates',
      `${where} has fewer than 4 positions; a closed ring needs at least 3 corners plus the repeated first one`,
    );
  }
  ring.forEach((pos: unknown, i: number) => {
    if (
      !Array.isArray(pos) ||
      pos.length < 2 ||
      !pos.every((v) => typeof v === 'number' && Number.isFinite(v))
    ) {
      throw new AreaError(
        'invalid-coordinates',
        `${where}, position ${i} is not [longitude, latitude] numbers; fix the file`,
      );
    }
    const [lon, lat] = pos as number[];
    if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
      throw new AreaError(
        'invalid-coordinates',
        `${where}, position ${i} is [${lon}, ${lat}], outside longitude −180..180 / latitude −90..90; the file is probably not in WGS84 (EPSG:4326) — reproject it`,
      );
    }
    if (Math.abs(lat) > MAX_LATITUDE) {
      throw new AreaError(
        'invalid-coordinates',
        `${where}, position ${i} has latitude ${lat}, beyond the ±${MAX_LATITUDE.toFixed(4)}° that map tiles cover; draw the area closer to the equator`,
      );
    }
  });
  const first = ring[0] as number[];
  const last = ring[ring.length - 1] as number[];
  if (first[0] !== last[0] || first[1] !== last[1]) {
    throw new AreaError(
      'invalid-coordinates',
      `${where} is not closed (its last position differs from its first); repeat the first position at the end`,
    );
  }
}

function checkPolygon(p: Polygon, index: number): void {
  p.coordinates.forEach((ring, r) => {
    const crossings = kinks(lineString(ring)).features;
    if (crossings.length > 0) {
      const [lon, lat] = crossings[0].geometry.coordinates;
      throw new AreaError(
        'self-intersection',
        `polygon ${index}, ring ${r} (${r === 0 ? 'outer' : 'hole'}) crosses itself near [${lon.toFixed(6)}, ${lat.toFixed(6)}]${crossings.length > 1 ? ` and at ${crossings.length - 1} more places` : ''}; redraw it so its edges do not cross (QGIS: Vector › Geometry Tools › Check Validity)`,
      );
    }
  });
  // Holes crossing the outer ring or each other make the polygon invalid in MapSwipe's check too.
  for (let a = 0; a < p.coordinates.length; a++) {
    for (let b = a + 1; b < p.coordinates.length; b++) {
      const at = firstCrossing(p.coordinates[a], p.coordinates[b]);
      if (at) {
        throw new AreaError(
          'self-intersection',
          `polygon ${index}: ring ${a} and ring ${b} cross near [${at[0].toFixed(6)}, ${at[1].toFixed(6)}]; a hole must lie inside the outer ring without touching it`,
        );
      }
    }
  }
}

function firstCrossing(a: Position[], b: Position[]): Position | null {
  for (let i = 0; i + 1 < a.length; i++) {
    for (let j = 0; j + 1 < b.length; j++) {
      const hit = segmentCrossing(a[i], a[i + 1], b[j], b[j + 1]);
      if (hit) return hit;
    }
  }
  return null;
}

function segmentCrossing(p1: Position, p2: Position, q1: Position, q2: Position): Position | null {
  const d = (p2[0] - p1[0]) * (q2[1] - q1[1]) - (p2[1] - p1[1]) * (q2[0] - q1[0]);
  if (d === 0) return null;
  const t = ((q1[0] - p1[0]) * (q2[1] - q1[1]) - (q1[1] - p1[1]) * (q2[0] - q1[0])) / d;
  const u = ((q1[0] - p1[0]) * (p2[1] - p1[1]) - (q1[1] - p1[1]) * (p2[0] - p1[0])) / d;
  if (t < 0 || t > 1 || u < 0 || u > 1) return null;
  return [p1[0] + t * (p2[0] - p1[0]), p1[1] + t * (p2[1] - p1[1])];
}

export function bboxOf(polygons: Polygon[]): BBox {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  for (const p of polygons) {
    for (const [lon, lat] of p.coordinates[0]) {
      if (lon < w) w = lon;
      if (lon > e) e = lon;
      if (lat < s) s = lat;
      if (lat > n) n = lat;
    }
  }
  return [w, s, e, n];
}

/** The area as a FeatureCollection, e.g. for a MapSwipe draft's `geometry` or to show on the map. */
export function areaToFeatureCollection(area: Pick<ProjectArea, 'polygons'>): FeatureCollection<Polygon> {
  return {
    type: 'FeatureCollection',
    features: area.polygons.map((geometry) => ({ type: 'Feature', properties: {}, geometry })),
  };
}
