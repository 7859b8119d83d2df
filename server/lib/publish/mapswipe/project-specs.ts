/**
 * What tilelens asks MapSwipe's backend to make, one `MapswipeProjectSpec` per project: the create input,
 * the area to upload (if the type has one), the update input and the type's specifics. Specs are plain
 * JSON, fixed and stored when a publication is planned, so a resume sends exactly what the first attempt
 * would have.
 *
 * The runner (publish-mapswipe.ts) knows nothing of tiers or samples: a project type is a builder here.
 * Find per priority tier, Validate over served footprints, and a calibration sample's Find drafts are
 * the ones today; a COMPLETENESS project (imagery plus an overlay tile server) is one more builder: an
 * area like Find's and specifics `{ completeness: { zoomLevel, tileServerProperty,
 * overlayTileServerProperty } }`; the runner fills `aoiGeometry` with the uploaded area's asset id for
 * any type whose spec carries an area.
 */
import { area as turfArea } from '@turf/turf';
import type { FeatureCollection, Polygon } from 'geojson';
import type { MapswipeFindDraft } from '../../exports/mapswipe-find.ts';
import { mapswipeFindDrafts } from '../../exports/mapswipe-find.ts';
import type { ExportProject } from '../../exports/project-info.ts';
import { maxAreaKm2 } from '../../projects/area.ts';
import type { ScoredTile, Tier } from '../../scored-tiles/scored-tile.ts';
import type { TierThresholds } from '../../scored-tiles/tiers.ts';
import type { SampleFindExport } from '../../trust/sample-exports.ts';
import { PublishError } from '../errors.ts';
import type {
  MapswipeProjectType,
  ProjectCreateInput,
  ProjectUpdateInput,
  RasterTileServerInput,
} from './documents.ts';

export interface MapswipeProjectSpec {
  /** Stable within a publication: `find:high`, `validate`, `sample:3:1`. */
  key: string;
  projectType: MapswipeProjectType;
  create: Omit<ProjectCreateInput, 'clientId'>;
  /** Uploaded as the AOI_GEOMETRY asset; its id becomes the specifics' `aoiGeometry`. */
  aoi?: FeatureCollection;
  update: Omit<ProjectUpdateInput, 'clientId' | 'projectTypeSpecifics'>;
  /** `{ <type field>: {...} }` without `aoiGeometry`, which the runner fills in. */
  specifics: Record<string, Record<string, unknown>>;
  /** What the manager reads in the plan: tiles, objects, area. */
  summary: Record<string, unknown>;
}

/** What every MapSwipe project of a publication shares. */
export interface MapswipeCommon {
  /** The requesting organisation's id in MapSwipe. */
  requestingOrganization: string;
  region: string;
  projectNumber: number;
  team?: string;
  additionalInfoUrl?: string;
  groupSize: number;
  verificationNumber: number;
}

/** MapSwipe's limits (from its backend's validation). */
export const GROUP_SIZE = { min: 5, max: 250, default: 120 } as const;
export const VERIFICATION_NUMBER = { min: 3, max: 10_000, default: 3 } as const;
export const MAX_VALIDATE_OBJECTS = 100_000;
export const FIND_ZOOM = { min: 14, max: 22 } as const;

/** tilelens's own tile server, as MapSwipe's CUSTOM imagery: what the model scored is what volunteers see. */
export function tilelensTileServer(
  project: ExportProject,
  zooms: { minZoom: number; maxZoom: number },
): RasterTileServerInput {
  return {
    name: 'CUSTOM',
    custom: {
      url: project.imagery.url,
      credits: project.imagery.credits || project.imagery.name,
      minZoom: zooms.minZoom,
      maxZoom: zooms.maxZoom,
    },
  };
}

function checkCommon(common: MapswipeCommon): void {
  const { groupSize: g, verificationNumber: v } = common;
  if (!Number.isInteger(g) || g < GROUP_SIZE.min || g > GROUP_SIZE.max) {
    throw new PublishError(
      'invalid-request',
      `groupSize ${g}: MapSwipe takes ${GROUP_SIZE.min}–${GROUP_SIZE.max} tasks per group (${GROUP_SIZE.default} is usual)`,
    );
  }
  if (!Number.isInteger(v) || v < VERIFICATION_NUMBER.min || v > VERIFICATION_NUMBER.max) {
    throw new PublishError(
      'invalid-request',
      `verificationNumber ${v}: MapSwipe takes ${VERIFICATION_NUMBER.min}–${VERIFICATION_NUMBER.max} volunteers per task`,
    );
  }
}

/** A Find spec from a Find draft (a tier's, or a calibration sample's part). */
function findSpec(
  key: string,
  draft: MapswipeFindDraft,
  common: MapswipeCommon,
  tileServer: RasterTileServerInput,
  summary: Record<string, unknown>,
): MapswipeProjectSpec {
  const zoom = draft.zoomLevel;
  if (zoom < FIND_ZOOM.min || zoom > FIND_ZOOM.max) {
    throw new PublishError(
      'invalid-request',
      `the project is at zoom ${zoom}; MapSwipe Find takes zoom ${FIND_ZOOM.min}–${FIND_ZOOM.max}`,
    );
  }
  const aoi = draft.geometry as FeatureCollection<Polygon>;
  const areaKm2 = aoi.features.reduce((s, f) => s + turfArea(f), 0) / 1e6;
  if (areaKm2 >= maxAreaKm2(zoom)) {
    throw new PublishError(
      'invalid-request',
      `${draft.name}: ${areaKm2.toFixed(1)} km² is over MapSwipe's ${maxAreaKm2(zoom)} km² at zoom ${zoom}`,
      'split the project area or publish fewer tiers',
    );
  }
  return {
    key,
    projectType: 'FIND',
    create: {
      projectType: 'FIND',
      topic: draft.name,
      region: common.region,
      projectNumber: common.projectNumber,
      requestingOrganization: common.requestingOrganization,
      projectInstruction: `Tap every tile that shows ${draft.lookFor}; tap twice if unsure, three times for bad imagery.`,
      lookFor: draft.lookFor,
      description: draft.projectDetails,
      ...(common.additionalInfoUrl ? { additionalInfoUrl: common.additionalInfoUrl } : {}),
      ...(common.team ? { team: common.team } : {}),
    },
    aoi,
    update: {
      groupSize: common.groupSize,
      verificationNumber: common.verificationNumber,
      lookFor: draft.lookFor,
    },
    specifics: { find: { tileServerProperty: tileServer, zoomLevel: zoom } },
    summary: { ...summary, polygons: aoi.features.length, areaKm2: Math.round(areaKm2 * 1000) / 1000 },
  };
}

/** One Find project per priority tier, most urgent first (tiers with no tile are left out). */
export async function findTierSpecs(
  tiles: AsyncIterable<ScoredTile> | Iterable<ScoredTile>,
  project: ExportProject,
  common: MapswipeCommon,
  o: {
    tiers: Exclude<Tier, 'skip'>[];
    thresholds?: TierThresholds;
    tileServer: RasterTileServerInput;
  },
): Promise<MapswipeProjectSpec[]> {
  checkCommon(common);
  const drafts = await mapswipeFindDrafts(tiles, project, {
    tiers: o.tiers,
    ...(o.thresholds ? { thresholds: o.thresholds } : {}),
    groupSize: common.groupSize,
    verificationNumber: common.verificationNumber,
  });
  return drafts.map((d) =>
    findSpec(`find:${d.tier}`, d.draft, common, o.tileServer, {
      tier: d.tier,
      tiles: d.tiles,
      extraTiles: d.extraTiles,
      simplification: d.simplification,
    }),
  );
}

/** A calibration sample's Find drafts, published through the same path as the tiers. */
export function sampleFindSpecs(
  exported: SampleFindExport,
  sampleId: number,
  common: MapswipeCommon,
  tileServer: RasterTileServerInput,
): MapswipeProjectSpec[] {
  checkCommon(common);
  return exported.drafts.map((d) =>
    findSpec(`sample:${sampleId}:${d.part}`, d.draft, common, tileServer, {
      sampleId,
      part: d.part,
      tiles: d.tiles,
    }),
  );
}

/** A Validate project over objects tilelens serves as a GeoJSON URL (one task per polygon, in file order). */
export function validateSpec(
  project: ExportProject,
  common: MapswipeCommon,
  o: {
    objectsUrl: string;
    /** Polygons the URL serves now. */
    objects: number;
    source: string;
    tileServer: RasterTileServerInput;
  },
): MapswipeProjectSpec {
  checkCommon(common);
  if (!/^https?:\/\//.test(o.objectsUrl)) {
    throw new PublishError('invalid-request', `the objects URL ${o.objectsUrl} is not http(s)`);
  }
  if (o.objects < 1) {
    throw new PublishError(
      'nothing-to-publish',
      `no ${o.source} polygon to validate in the chosen tiers`,
      'lower the tier thresholds, or publish Find projects only',
    );
  }
  const lookFor = project.lookFor;
  const name = `${project.name} – check ${o.source === 'fAIr' ? 'fAIr' : 'predicted'} ${lookFor}`;
  return {
    key: 'validate',
    projectType: 'VALIDATE',
    create: {
      projectType: 'VALIDATE',
      topic: name,
      region: common.region,
      projectNumber: common.projectNumber,
      requestingOrganization: common.requestingOrganization,
      projectInstruction: `Is each outline a real ${lookFor.replace(/s$/, '')}? Yes, no, or not sure.`,
      lookFor,
      description:
        `Outlines from ${o.source === 'fAIr' ? 'a fAIr model' : `${project.model.name} ${project.model.version}`} in the tiles tilelens marked for checking, ` +
        `most urgent first (${Math.min(o.objects, MAX_VALIDATE_OBJECTS)} objects${o.objects > MAX_VALIDATE_OBJECTS ? `, capped from ${o.objects}` : ''}).`,
      ...(common.additionalInfoUrl ? { additionalInfoUrl: common.additionalInfoUrl } : {}),
      ...(common.team ? { team: common.team } : {}),
    },
    update: { groupSize: common.groupSize, verificationNumber: common.verificationNumber, lookFor },
    specifics: {
      validate: {
        objectSource: { sourceType: 'OBJECT_GEOJSON_URL', objectGeojsonUrl: o.objectsUrl },
        tileServerProperty: o.tileServer,
      },
    },
    summary: {
      source: o.source,
      objects: Math.min(o.objects, MAX_VALIDATE_OBJECTS),
      objectsLeftOut: Math.max(0, o.objects - MAX_VALIDATE_OBJECTS),
      objectsUrl: o.objectsUrl,
    },
  };
}
