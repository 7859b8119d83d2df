/**
 * fAIr predictions in: the GeoJSON fAIr's predictor writes — building polygons, each with `confidence`,
 * the mean probability inside it — filed under the project tile holding each polygon (a point surely
 * inside it, not the centroid, which a bent building can lack). Stored per polygon (they can become a
 * Validate project's objects, most urgent tile first) and per tile (how many polygons fAIr found there
 * and how sure it was: a second opinion beside tilelens's own building probability).
 *
 * A bad file is refused whole with the reasons, and nothing is stored.
 */
import { pointOnFeature } from '@turf/turf';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import { fairSignalsByTier, insertFairImport, type NewFairPrediction } from '../db/fair-repo.ts';
import type { FairGeometryJson } from '../db/schema.ts';
import { isTileStored } from '../db/tile-scores-repo.ts';
import { lonLatToTile, taskId } from '../geo/tiles.ts';
import type { ScoringContext } from '../scoring/context.ts';
import { requireProject } from '../scoring/projects.ts';
import { PublishError } from '../publish/errors.ts';

const MAX_REASONS = 10;

export interface FairImportSummary {
  importId: number;
  name: string;
  features: number;
  stored: number;
  /** Polygons whose tile is not one of the project's. */
  outside: number;
  tiles: number;
  /** fAIr's polygons by the tier tilelens gave their tiles: polygons in `skip` tiles are the ones to look at. */
  byTier: Array<{ tier: string; tiles: number; polygons: number }>;
}

function isPosition(p: unknown): boolean {
  return (
    Array.isArray(p) &&
    p.length >= 2 &&
    typeof p[0] === 'number' &&
    typeof p[1] === 'number' &&
    Math.abs(p[0]) <= 180 &&
    Math.abs(p[1]) <= 90
  );
}

function isRing(r: unknown): boolean {
  return Array.isArray(r) && r.length >= 4 && r.every(isPosition);
}

function checkGeometry(g: unknown): string | null {
  const geom = g as { type?: unknown; coordinates?: unknown } | null;
  if (!geom || (geom.type !== 'Polygon' && geom.type !== 'MultiPolygon')) {
    return `geometry is ${geom?.type ?? 'missing'}, not Polygon or MultiPolygon`;
  }
  const polys = geom.type === 'Polygon' ? [geom.coordinates] : (geom.coordinates as unknown[]);
  if (!Array.isArray(polys) || polys.length === 0) return 'geometry has no coordinates';
  for (const p of polys) {
    if (!Array.isArray(p) || p.length === 0 || !p.every(isRing)) {
      return 'a ring is not a closed list of ≥ 4 [lon, lat] positions in degrees';
    }
  }
  return null;
}

/** Parses and checks the file; every problem found (up to ten) is in the one error. */
export function parseFairPredictions(bytes: Uint8Array, maxBytes: number): Feature<Polygon | MultiPolygon>[] {
  if (bytes.length > maxBytes) {
    throw new PublishError(
      'invalid-request',
      `the prediction file is ${bytes.length} bytes, over the ${maxBytes}-byte limit (--max-upload-bytes)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new PublishError(
      'invalid-request',
      `the prediction file is not JSON (${(err as Error).message}); give fAIr's prediction GeoJSON`,
    );
  }
  const fc = json as { type?: unknown; features?: unknown };
  if (fc?.type !== 'FeatureCollection' || !Array.isArray(fc.features)) {
    throw new PublishError('invalid-request', 'the prediction file is not a GeoJSON FeatureCollection');
  }
  const reasons: string[] = [];
  const features = fc.features as Array<Feature<Polygon | MultiPolygon>>;
  features.forEach((f, i) => {
    if (reasons.length >= MAX_REASONS) return;
    const bad = checkGeometry(f?.geometry);
    if (bad) reasons.push(`feature ${i}: ${bad}`);
    const c = (f?.properties ?? {}).confidence;
    if (c !== undefined && c !== null && !(typeof c === 'number' && c >= 0 && c <= 1)) {
      reasons.push(`feature ${i}: confidence ${JSON.stringify(c)} is not a probability in 0..1`);
    }
  });
  if (reasons.length > 0) {
    throw new PublishError(
      'invalid-request',
      `the prediction file was refused, nothing stored: ${reasons.join('; ')}${reasons.length >= MAX_REASONS ? '; …' : ''}`,
    );
  }
  if (features.length === 0)
    throw new PublishError('invalid-request', 'the prediction file holds no polygon');
  return features;
}

/** Stores a fAIr prediction file in a project: its polygons, and the per-tile signal they give. */
export async function importFairPredictions(
  ctx: ScoringContext,
  projectId: number,
  bytes: Uint8Array,
  o: { name: string; maxBytes: number },
): Promise<FairImportSummary> {
  const project = await requireProject(ctx, projectId);
  const features = parseFairPredictions(bytes, o.maxBytes);
  let outside = 0;
  async function* rows(): AsyncGenerator<NewFairPrediction> {
    for (let idx = 0; idx < features.length; idx++) {
      const f = features[idx];
      const [lon, lat] = pointOnFeature(f).geometry.coordinates;
      const t = lonLatToTile(lon, lat, project.zoom);
      if (!(await isTileStored(ctx.db, projectId, project.zoom, t.x, t.y))) {
        outside++;
        continue;
      }
      const c = f.properties?.confidence;
      yield {
        idx,
        z: project.zoom,
        x: t.x,
        y: t.y,
        taskId: taskId(project.zoom, t.x, t.y),
        confidence: typeof c === 'number' ? c : null,
        geometry: f.geometry as FairGeometryJson,
      };
    }
  }
  const importId = await insertFairImport(
    ctx.db,
    { projectId, name: o.name, features: features.length },
    rows(),
  );
  const byTier = await fairSignalsByTier(ctx.db, importId, projectId);
  return {
    importId,
    name: o.name,
    features: features.length,
    stored: features.length - outside,
    outside,
    tiles: byTier.reduce((s, r) => s + r.tiles, 0),
    byTier,
  };
}
