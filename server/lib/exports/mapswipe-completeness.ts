/**
 * MapSwipe COMPLETENESS project drafts, one per priority tier: the imagery as for Find with tilelens's
 * predicted outlines over it, asking volunteers whether the model's outlines are right and complete on each
 * tile. Their answers are labels of the model on this region, the calibration sample's kind of evidence.
 *
 * The areas are the Find drafts' (mapswipe-find.ts: snapped to MapSwipe's groups, at most 20 polygons). The
 * draft follows the backend's COMPLETENESS specifics — `aoiGeometry` is an uploaded asset's id there, so it
 * stays null here and the area travels as `geometry`, to upload as that asset.
 */
import type { FeatureCollection, Polygon } from 'geojson';
import { z } from 'zod';
import type { ScoredTile } from '../scored-tiles/scored-tile.ts';
import { mapswipeFindDrafts, MAPSWIPE_TILE_SERVERS, type MapswipeFindOptions } from './mapswipe-find.ts';
import { mapswipeOverlaySchema, type MapswipeOverlay } from './mapswipe-overlay.ts';
import { checkProject, ExportError, type ExportProject } from './project-info.ts';

const tileServerProperty = z.union([
  z
    .object({ name: z.enum(MAPSWIPE_TILE_SERVERS.map((n) => n.toUpperCase()) as [string, ...string[]]) })
    .strict(),
  z
    .object({
      name: z.literal('CUSTOM'),
      custom: z.object({ url: z.string().url(), credits: z.string() }).strict(),
    })
    .strict(),
]);

export const mapswipeCompletenessDraftSchema = z
  .object({
    projectType: z.literal('COMPLETENESS'),
    name: z.string().min(1),
    projectTopic: z.string().min(1),
    lookFor: z.string().min(1),
    projectDetails: z.string().min(1),
    groupSize: z.number().int().min(2),
    verificationNumber: z.number().int().min(1),
    image: z.string(),
    geometry: z.object({ type: z.literal('FeatureCollection'), features: z.array(z.any()).min(1).max(20) }),
    completeness: z
      .object({
        aoiGeometry: z.null(),
        tileServerProperty,
        zoomLevel: z.number().int().min(14).max(22),
        overlayTileServerProperty: mapswipeOverlaySchema,
      })
      .strict(),
  })
  .strict();

export type MapswipeCompletenessDraft = z.infer<typeof mapswipeCompletenessDraftSchema> & {
  geometry: FeatureCollection<Polygon>;
};

export interface MapswipeCompletenessExport {
  tier: 'high' | 'medium' | 'low';
  draft: MapswipeCompletenessDraft;
  tiles: number;
  extraTiles: number;
}

function imageryProperty(imagery: ExportProject['imagery']) {
  const known = (MAPSWIPE_TILE_SERVERS as readonly string[]).includes(imagery.name);
  return known
    ? { name: imagery.name.toUpperCase() }
    : { name: 'CUSTOM' as const, custom: { url: imagery.url, credits: imagery.credits } };
}

export async function mapswipeCompletenessDrafts(
  tiles: AsyncIterable<ScoredTile> | Iterable<ScoredTile>,
  projectInfo: ExportProject,
  overlay: MapswipeOverlay,
  options: MapswipeFindOptions = {},
): Promise<MapswipeCompletenessExport[]> {
  const project = checkProject(projectInfo);
  const checked = mapswipeOverlaySchema.safeParse(overlay);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new ExportError(`overlay settings: ${issue.path.join('.') || '(root)'} — ${issue.message}`);
  }
  if (project.zoom < 14) {
    throw new ExportError(
      `the project is scored at zoom ${project.zoom}; MapSwipe COMPLETENESS projects run at zoom 14 to 22`,
    );
  }
  return (await mapswipeFindDrafts(tiles, project, options)).map((find) => {
    const f = find.draft;
    const draft = {
      projectType: 'COMPLETENESS' as const,
      name: `${project.name} – are the outlines complete? (${find.tier} priority)`,
      projectTopic: f.projectTopic,
      lookFor: f.lookFor,
      projectDetails: [
        `Are the model's building outlines right and complete here? Each tile shows the imagery with the outlines ${project.model.name} ${project.model.version} predicted (tilelens overlay); answer whether every ${project.lookFor} is outlined and every outline is one.`,
        f.projectDetails,
      ].join(' '),
      groupSize: f.groupSize,
      verificationNumber: f.verificationNumber,
      image: f.image,
      geometry: f.geometry,
      completeness: {
        aoiGeometry: null,
        tileServerProperty: imageryProperty(project.imagery),
        zoomLevel: f.zoomLevel,
        overlayTileServerProperty: checked.data,
      },
    };
    // The draft is checked whole against the backend's fields before anyone downloads it.
    mapswipeCompletenessDraftSchema.parse(draft);
    return { tier: find.tier, draft, tiles: find.tiles, extraTiles: find.extraTiles };
  });
}
