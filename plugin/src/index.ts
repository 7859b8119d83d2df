/**
 * tilelens for MapLibre: a control that shows a tilelens project's priority, confidence and footprints
 * on any MapLibre map, the layer definitions behind it, the typed API client, and the MapSwipe /
 * Tasking Manager adapters. See plugin/README.md.
 */
export { TilelensControl, legendElement, type TilelensControlOptions } from './control.ts';
export {
  tilelensStyle,
  defaultVisibility,
  gridFeatureId,
  layerId,
  sourceId,
  RASTER_LAYERS,
  TILELENS_LAYERS,
  DEFAULT_RASTER_OPACITY,
  type LayerOptions,
  type RasterLayerName,
  type TilelensLayerName,
  type TilelensStyle,
} from './layers.ts';
export { createApiClient, TilelensApiError, type ApiClient, type ApiClientOptions } from './api-client.ts';
export type * from './api-client.ts';
export {
  mapswipeProjects,
  taskingManagerProject,
  exportPacks,
  type MapswipeProjectPack,
  type TaskingManagerPack,
} from './adapters.ts';
