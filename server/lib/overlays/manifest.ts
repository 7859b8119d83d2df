/**
 * The overlay manifest a map reads first (the plugin's `addTo`): the tile URL templates of the imagery, the
 * raster overlays and the vector tiles, their zoom ranges and bounds, and the legends.
 */
import { cssRgba, NO_SCORE_RGBA } from './colour-scales.ts';
import { OVERLAY_LAYER_DEFS, OVERLAY_LAYERS } from './layers.ts';
import type { OverlayProject } from './overlay-tiles.ts';
import { FOOTPRINTS_LAYER, TILES_LAYER, VECTOR_MIN_ZOOM } from './vector-tiles.ts';

/** Manifest consumed by the plugin: everything a map needs to add the layers, and the legends. */
export function overlayManifest(
  base: string,
  project: OverlayProject & { imageryId: number },
  version: { version: string; final: boolean },
  imagery?: { minZoom: number; maxZoom: number; attribution: string | null },
) {
  const root = `${base}/api/projects/${project.id}`;
  const v = `?v=${encodeURIComponent(version.version)}`;
  return {
    projectId: project.id,
    version: version.version,
    /** The scoring job has ended: the tiles will not change until a new job starts. */
    final: version.final,
    scoringZoom: project.zoom,
    bounds: project.bbox,
    imagery: {
      id: project.imageryId,
      tiles: [`${base}/imagery/${project.imageryId}/{z}/{x}/{y}.jpg`],
      minzoom: imagery?.minZoom ?? 0,
      maxzoom: imagery?.maxZoom ?? 19,
      attribution: imagery?.attribution ?? null,
    },
    raster: OVERLAY_LAYERS.map((id) => {
      const def = OVERLAY_LAYER_DEFS[id];
      return {
        id,
        title: def.title,
        description: def.description,
        tiles: [`${root}/overlay/${id}/{z}/{x}/{y}.png${v}`],
        tileSize: 256,
        minzoom: 0,
        // Past the scoring zoom one scoring tile fills the map tile: the map may overzoom the last level.
        maxzoom: project.zoom,
        legend: {
          domain: def.scale.domain,
          stops: def.scale.stops.map((s) => ({ value: s.value, color: cssRgba(s.rgba) })),
          lowLabel: def.lowLabel,
          highLabel: def.highLabel,
          noScore: id === 'priority' ? null : cssRgba(NO_SCORE_RGBA),
        },
      };
    }),
    vector: {
      tiles: [`${root}/vector/{z}/{x}/{y}.mvt${v}`],
      minzoom: VECTOR_MIN_ZOOM,
      maxzoom: project.zoom,
      layers: { tiles: TILES_LAYER, footprints: FOOTPRINTS_LAYER },
      /** Feature ids in the `tiles` layer: y · 2^scoringZoom + x, for feature-state highlights. */
      featureId: 'y * 2^scoringZoom + x',
    },
  };
}

export type OverlayManifest = ReturnType<typeof overlayManifest>;
