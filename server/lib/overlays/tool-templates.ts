/**
 * The project's overlays as the tools volunteers map in take them: an XYZ template per layer with its zoom
 * range, JOSM's `tms[min,max]:` imagery URL, iD's custom imagery (or custom map data) template, and MapSwipe's
 * overlay settings for a COMPLETENESS project. The URLs are the overlay routes' own, read without the manager
 * token; their `?v=` lets a finished project's tiles be cached for a day and is ignored otherwise.
 */
import { mapswipeOverlaySchema, type MapswipeOverlay } from '../exports/mapswipe-overlay.ts';
import { OVERLAY_LAYER_DEFS } from './layers.ts';
import { FOOTPRINTS_LAYER, VECTOR_MIN_ZOOM } from './vector-tiles.ts';

/** The layers a volunteer's tool is offered: outlines to check, and where to doubt them or look first. */
export const TOOL_LAYERS = ['footprints', 'confidence', 'priority'] as const;
export type ToolLayer = (typeof TOOL_LAYERS)[number];

/** The outline colour volunteers see in MapSwipe: amber reads on green fields, bare soil and roofs alike. */
const OUTLINE = '#ffb000';

export interface ToolTemplate {
  id: ToolLayer;
  kind: 'raster' | 'vector';
  title: string;
  description: string;
  /** XYZ template ({z}/{x}/{y}), usable as it is by MapLibre, Leaflet, QGIS and iD. */
  xyz: string;
  minZoom: number;
  /** Past it the tool overzooms the last level (one scoring tile fills the map tile). */
  maxZoom: number;
  /** Layer inside the vector tiles that holds the outlines; null for raster layers. */
  sourceLayer: string | null;
  /** JOSM imagery URL; null where JOSM cannot show the layer as imagery (vector tiles). */
  josm: string | null;
  /** iD: Background → Custom (raster) or Map Data → Custom Map Data (vector). */
  iD: string;
  /** `completeness.overlayTileServerProperty` of a MapSwipe COMPLETENESS project. */
  mapswipe: MapswipeOverlay;
}

export interface ToolTemplateProject {
  id: number;
  /** Scoring zoom: the deepest level with its own tiles. */
  zoom: number;
}

/**
 * Templates for every tool layer of a project served at `base` (the public URL), `version` being the overlay
 * version (tileUrlVersion) and `credits` who made the overlay, shown by MapSwipe and JOSM.
 */
export function toolTemplates(
  base: string,
  project: ToolTemplateProject,
  version: string,
  credits: string,
): ToolTemplate[] {
  return TOOL_LAYERS.map((id) =>
    id === 'footprints'
      ? footprintTemplate(base, project, version, credits)
      : rasterTemplate(id, base, project, version, credits),
  );
}

/** Who made the overlay, as MapSwipe and JOSM credit it. */
export const overlayCredits = (projectName: string) => `tilelens model overlay (${projectName})`;

/** The MapSwipe overlay a COMPLETENESS project shows: the predicted outlines. */
export function completenessOverlay(
  base: string,
  project: ToolTemplateProject,
  version: string,
  credits: string,
): MapswipeOverlay {
  return footprintTemplate(base, project, version, credits).mapswipe;
}

const projectRoot = (base: string, id: number) => `${base.replace(/\/+$/, '')}/api/projects/${id}`;
const versionQuery = (version: string) => `?v=${encodeURIComponent(version)}`;

function footprintTemplate(
  base: string,
  project: ToolTemplateProject,
  version: string,
  credits: string,
): ToolTemplate {
  const xyz = `${projectRoot(base, project.id)}/vector/{z}/{x}/{y}.mvt${versionQuery(version)}`;
  const mapswipe = mapswipeOverlaySchema.parse({
    type: 'VECTOR_TILE',
    vector: {
      tileServer: {
        name: 'CUSTOM',
        custom: {
          url: xyz,
          credits,
          minZoom: VECTOR_MIN_ZOOM,
          maxZoom: project.zoom,
          sourceLayer: FOOTPRINTS_LAYER,
        },
      },
      fillColor: OUTLINE,
      fillOpacity: 0.12,
      lineColor: OUTLINE,
      lineOpacity: 0.95,
      lineWidth: 2,
      circleColor: 'transparent',
      circleOpacity: 0,
      circleRadius: 0,
    },
  });
  return {
    id: 'footprints',
    kind: 'vector',
    title: 'Predicted buildings',
    description: "The model's building outlines, as vector tiles: check whether they are right and complete.",
    xyz,
    minZoom: VECTOR_MIN_ZOOM,
    maxZoom: project.zoom,
    sourceLayer: FOOTPRINTS_LAYER,
    josm: null,
    iD: xyz,
    mapswipe,
  };
}

function rasterTemplate(
  id: Exclude<ToolLayer, 'footprints'>,
  base: string,
  project: ToolTemplateProject,
  version: string,
  credits: string,
): ToolTemplate {
  const def = OVERLAY_LAYER_DEFS[id];
  const xyz = `${projectRoot(base, project.id)}/overlay/${id}/{z}/{x}/{y}.png${versionQuery(version)}`;
  const mapswipe = mapswipeOverlaySchema.parse({
    type: 'RASTER_TILE',
    raster: {
      // The PNGs carry their own alpha (clear where there is nothing to say); this only tempers the rest.
      opacity: 0.8,
      tileServer: { name: 'CUSTOM', custom: { url: xyz, credits, minZoom: 0, maxZoom: project.zoom } },
    },
  });
  return {
    id,
    kind: 'raster',
    title: def.title,
    description: def.description,
    xyz,
    minZoom: 0,
    maxZoom: project.zoom,
    sourceLayer: null,
    josm: `tms[0,${project.zoom}]:${xyz.replace('{z}', '{zoom}')}`,
    iD: xyz,
    mapswipe,
  };
}
