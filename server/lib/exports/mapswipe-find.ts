/**
 * MapSwipe "Find" (Build Area, projectType 1) project drafts, one per priority tier.
 *
 * MapSwipe has no per-task priority: every tile of a project is shown to `verificationNumber`
 * volunteers in group order. So the manager's priority becomes separate projects — the high tier first,
 * the low tier later or never — each with an area snapped to the way MapSwipe groups tiles (see
 * tile-rectangles.ts), so the project holds the tier's tiles and as few others as possible.
 *
 * Draft fields follow MapSwipe's Build Area draft: projectType, name, projectTopic, lookFor,
 * projectDetails, zoomLevel, groupSize, verificationNumber, tileServer {name, url, credits}, geometry
 * (a FeatureCollection of at most `maxPolygons` polygons), image.
 */
import type { Feature, FeatureCollection, Polygon } from 'geojson';
import type { ScoredTile, Tier } from '../scored-tiles/scored-tile.ts';
import { tierFor, type TierThresholds } from '../scored-tiles/tiers.ts';
import { checkProject, checkZoom, ExportError, figuresSentence, type ExportProject } from './project-info.ts';
import {
  planRectangles,
  rectPolygon,
  type RectanglePlan,
  type Simplification,
  type TileRect,
} from './tile-rectangles.ts';

/** MapSwipe's built-in imagery; anything else goes out as a custom XYZ tile server. */
export const MAPSWIPE_TILE_SERVERS = [
  'bing',
  'mapbox',
  'maxar_standard',
  'maxar_premium',
  'esri',
  'esri_beta',
] as const;

export interface MapswipeFindOptions {
  tiers?: Exclude<Tier, 'skip'>[];
  thresholds?: TierThresholds;
  /** Tile columns per MapSwipe group. */
  groupSize?: number;
  verificationNumber?: number;
  /** Input geometries a draft may hold. */
  maxPolygons?: number;
  image?: string;
}

export interface MapswipeTileServer {
  name: string;
  url: string;
  credits: string;
}

export interface MapswipeFindDraft {
  projectType: 1;
  name: string;
  projectTopic: string;
  lookFor: string;
  projectDetails: string;
  zoomLevel: number;
  groupSize: number;
  verificationNumber: number;
  tileServer: MapswipeTileServer;
  geometry: FeatureCollection<Polygon>;
  image: string;
}

export interface MapswipeFindExport {
  tier: Exclude<Tier, 'skip'>;
  draft: MapswipeFindDraft;
  tiles: number;
  /** Tiles MapSwipe will show that belong to another tier (padding to its groups, merging). */
  extraTiles: number;
  polygons: number;
  simplification: Simplification;
}

const TIER_TEXT: Record<Exclude<Tier, 'skip'>, string> = {
  high: 'the tiles most likely to hold buildings, and those where the model cannot be trusted',
  medium: 'tiles with a moderate chance of buildings',
  low: 'tiles the model thinks are probably empty, kept for a final check',
};

export function mapswipeTileServer(imagery: ExportProject['imagery']): MapswipeTileServer {
  const known = (MAPSWIPE_TILE_SERVERS as readonly string[]).includes(imagery.name);
  return { name: known ? imagery.name : 'custom', url: imagery.url, credits: imagery.credits };
}

export async function mapswipeFindDrafts(
  tiles: AsyncIterable<ScoredTile> | Iterable<ScoredTile>,
  projectInfo: ExportProject,
  options: MapswipeFindOptions = {},
): Promise<MapswipeFindExport[]> {
  const project = checkProject(projectInfo);
  const tiers = options.tiers ?? ['high', 'medium', 'low'];
  const groupSize = options.groupSize ?? 120;
  const verificationNumber = options.verificationNumber ?? 3;
  const maxPolygons = options.maxPolygons ?? 20;
  if (!Number.isInteger(groupSize) || groupSize < 2)
    throw new ExportError(`groupSize = ${groupSize}; MapSwipe needs an integer ≥ 2 tile columns per group`);
  if (!Number.isInteger(verificationNumber) || verificationNumber < 1) {
    throw new ExportError(
      `verificationNumber = ${verificationNumber}; use how many volunteers should see each tile (3 is usual)`,
    );
  }
  // Tile coordinates only (two numbers a tile), so memory grows with the tier, never with the scores.
  const coords = new Map<string, number[]>(tiers.map((t) => [t, []]));
  for await (const tile of tiles) {
    checkZoom(tile, project.zoom);
    const list = coords.get(tierFor(tile, options.thresholds));
    if (list) list.push(tile.x, tile.y);
  }
  const out: MapswipeFindExport[] = [];
  for (const tier of tiers) {
    const flat = coords.get(tier)!;
    if (flat.length === 0) continue;
    const plan = planRectangles(pairs(flat), { bandHeight: 3, widthMultiple: 2, maxPolygons });
    out.push({
      tier,
      draft: draftFor(tier, plan, project, { groupSize, verificationNumber, image: options.image ?? '' }),
      tiles: plan.tiles,
      extraTiles: plan.extraTiles,
      polygons: plan.rects.length,
      simplification: plan.simplification,
    });
  }
  return out;
}

function* pairs(flat: number[]): Generator<{ x: number; y: number }> {
  for (let i = 0; i < flat.length; i += 2) yield { x: flat[i], y: flat[i + 1] };
}

function draftFor(
  tier: Exclude<Tier, 'skip'>,
  plan: RectanglePlan,
  project: ExportProject,
  o: { groupSize: number; verificationNumber: number; image: string },
): MapswipeFindDraft {
  const details = [
    `Priority tier "${tier}" of ${project.name}: ${TIER_TEXT[tier]}.`,
    `${plan.tiles} tiles chosen by ${project.model.name} ${project.model.version} (model ${project.model.id}, scoring run ${project.runId}) with tilelens; look for ${project.lookFor}.`,
    plan.extraTiles > 0
      ? `The area also holds ${plan.extraTiles} neighbouring tiles so that MapSwipe's 3-row, 2-column groups fit.`
      : '',
    plan.note,
    figuresSentence(project),
  ]
    .filter(Boolean)
    .join(' ');
  return findDraft(plan.rects, project, { ...o, name: `${project.name} – ${tier} priority`, details });
}

/** A Find draft over tile rectangles (planned by tile-rectangles.ts), with the given name and details. */
export function findDraft(
  rects: TileRect[],
  project: ExportProject,
  o: { name: string; details: string; groupSize: number; verificationNumber: number; image: string },
): MapswipeFindDraft {
  const features: Feature<Polygon>[] = rects.map((r) => ({
    type: 'Feature',
    properties: {
      xMin: r.x0,
      xMax: r.x1,
      yMin: r.y0,
      yMax: r.y1,
      tiles: (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1),
    },
    geometry: rectPolygon(r, project.zoom),
  }));
  return {
    projectType: 1,
    name: o.name,
    projectTopic: project.name,
    lookFor: project.lookFor,
    projectDetails: o.details,
    zoomLevel: project.zoom,
    groupSize: o.groupSize,
    verificationNumber: o.verificationNumber,
    tileServer: mapswipeTileServer(project.imagery),
    geometry: { type: 'FeatureCollection', features },
    image: o.image,
  };
}
