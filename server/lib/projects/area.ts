/**
 * A project area: the GeoJSON a manager draws or uploads, checked for what a project needs — valid
 * polygons (no self-crossings, a surface), MapSwipe's area limit at the zoom, and bounded size — so the
 * tile grid, the scoring job and every export can trust it.
 *
 * MapSwipe's rules (python-mapswipe-workers, utils/validate_input.py): Polygon / MultiPolygon only,
 * valid geometry (no self-intersections), zoom ≤ 22, and an area limit that scales with the tile count:
 * 5 · 4^(23 − zoom) km², i.e. 20 km² at z22 and 5,120 km² at z18. MapSwipe measures area in Mollweide; we
 * measure geodesic area on the sphere (turf), which is also equal-area, and we sum every polygon
 * (MapSwipe's own loop keeps only the last feature's area). MapSwipe's cap of 20 input geometries is a
 * rule of its project drafts, kept by the MapSwipe export (which snaps and merges the area into at most
 * 20 rectangles), not of a project: a folder of 60 GeoTIFFs is a 60-polygon area.
 *
 * Checking is bounded: at most MAX_AREA_VERTICES positions, edges checked for crossings by a sweep line
 * in O(n log n), and `checkProjectArea` hands the thread back every few milliseconds so a server keeps
 * answering other requests while it checks a large area.
 */
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import { area as turfArea } from '@turf/turf';
import { runToEnd, runYielding } from '../cooperative.ts';
import { TilelensError } from '../errors.ts';
import { findCrossing } from '../geo/crossings.ts';
import { MAX_LATITUDE, metresPerPixel, type BBox } from '../geo/tiles.ts';

export const DEFAULT_ZOOM = 18;
/** Polygons one area may hold; each becomes a row of the tile grid's scanline. */
export const MAX_AREA_POLYGONS = 10_000;
/** Positions one area may hold, over every ring: enough for any hand-drawn or traced boundary. */
export const MAX_AREA_VERTICES = 100_000;
/** A polygon enclosing less than this (m²) is degenerate: a line, a point or a rounding error. */
const MIN_POLYGON_M2 = 1;
/** MapSwipe refuses zoom levels above 22. */
export const MAX_ZOOM = 22;

export type AreaErrorCode =
  | 'not-geojson'
  | 'wrong-geometry-type'
  | 'empty'
  | 'too-many-polygons'
  | 'too-many-vertices'
  | 'self-intersection'
  | 'too-large'
  | 'invalid-coordinates'
  | 'invalid-zoom';

/** A client's area a project cannot take: 400, coded `area-<reason>`. */
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

/** The area checked on the calling thread, start to end; for scripts and tests. */
export function parseProjectArea(input: unknown, options: ParseAreaOptions = {}): ProjectArea {
  return runToEnd(areaSteps(input, options));
}

/** The same check, handing the thread back every few milliseconds (for servers). */
export function checkProjectArea(input: unknown, options: ParseAreaOptions = {}): Promise<ProjectArea> {
  return runYielding(areaSteps(input, options));
}

function* areaSteps(input: unknown, options: ParseAreaOptions): Generator<void, ProjectArea> {
  const zoom = options.zoom ?? DEFAULT_ZOOM;
  const maxPolygons = options.maxPolygons ?? MAX_AREA_POLYGONS;
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
      `the area holds ${polygons.length.toLocaleString('en')} polygons; a project takes at most ${maxPolygons.toLocaleString('en')}. Merge neighbouring polygons or split the area into several projects`,
    );
  }
  let vertices = 0;
  for (const p of polygons) for (const ring of p.coordinates) vertices += ring.length;
  if (vertices > MAX_AREA_VERTICES) {
    throw new AreaError(
      'too-many-vertices',
      `the area has ${vertices.toLocaleString('en')} vertices; a project takes at most ${MAX_AREA_VERTICES.toLocaleString('en')}. Simplify it (QGIS: Vector › Geometry Tools › Simplify, a tolerance of 1 m keeps the tiles the same)`,
    );
  }
  yield;
  for (let i = 0; i < polygons.length; i++) {
    checkSurface(polygons[i], i);
    yield* checkCrossings(polygons[i], i);
  }

  const areaKm2 = polygons.reduce((sum, p) => sum + turfArea(p), 0) / 1e6;
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

/**
 * A polygon needs a surface: its outer ring's points must not all lie on one line or one spot. Measured
 * by their convex hull in the plane of lon/lat, where the tile grid draws edges: collinear points enclose
 * exactly nothing there, where the sphere's formula finds a sliver of many km². (A ring that encloses
 * something but crosses itself, like a bow tie, is the crossing check's to refuse.)
 */
function checkSurface(p: Polygon, index: number): void {
  const ring = p.coordinates[0];
  const lat = ring.reduce((sum, c) => sum + c[1], 0) / ring.length;
  const m2 = hullArea(ring) * 111_320 ** 2 * Math.cos((lat * Math.PI) / 180);
  if (!(m2 >= MIN_POLYGON_M2)) {
    throw new AreaError(
      'empty',
      `polygon ${index} has no surface (its outer ring encloses ${m2 < 0.01 ? 'nothing' : `${m2.toFixed(2)} m²`}: its points lie on a line or on one spot); draw a polygon with a non-zero area`,
    );
  }
}

/** Area of the convex hull of `points` (Andrew's monotone chain), in squared coordinate units. */
function hullArea(points: Position[]): number {
  const pts = points.map((c) => [c[0], c[1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: number[], a: number[], b: number[]) =>
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: number[][]) => {
    const h: number[][] = [];
    for (const q of list) {
      while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], q) <= 0) h.pop();
      h.push(q);
    }
    h.pop();
    return h;
  };
  const hull = [...half(pts), ...half([...pts].reverse())];
  let twice = 0;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i];
    const b = hull[(i + 1) % hull.length];
    twice += a[0] * b[1] - b[0] * a[1];
  }
  return Math.abs(twice) / 2;
}

function* checkCrossings(p: Polygon, index: number): Generator<void, void> {
  const crossing = yield* findCrossing(p.coordinates);
  if (!crossing) return;
  const [a, b] = crossing.rings;
  const [lon, lat] = crossing.at;
  const near = `near [${lon.toFixed(6)}, ${lat.toFixed(6)}]`;
  if (a === b) {
    throw new AreaError(
      'self-intersection',
      `polygon ${index}, ring ${a} (${a === 0 ? 'outer' : 'hole'}) crosses or touches itself ${near}; redraw it so its edges do not cross (QGIS: Vector › Geometry Tools › Check Validity)`,
    );
  }
  throw new AreaError(
    'self-intersection',
    `polygon ${index}: ring ${a} and ring ${b} cross or touch ${near}; a hole must lie inside the outer ring without touching it`,
  );
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
