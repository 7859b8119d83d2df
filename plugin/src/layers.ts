/**
 * The tilelens sources and layers as MapLibre style data, built from a project's overlay manifest
 * (`GET /api/projects/:id/overlays`). Pure: the control adds what this returns, a map app may add it
 * itself, and tests check it without a browser.
 *
 * - priority / confidence / novelty: raster tiles drawn by the server (every zoom; never one GeoJSON of
 *   the area), nearest-neighbour resampled so tile edges stay crisp past the scoring zoom.
 * - footprints: predicted buildings from the vector tiles, zoom 15 and up.
 * - grid: the scoring tiles' outlines from the same vector tiles; feature ids are
 *   `y · 2^scoringZoom + x`, and feature-state `{ selected: true }` draws a tile highlighted.
 */
import type { LayerSpecification, SourceSpecification } from 'maplibre-gl';
import type { OverlayManifest } from './api-client.ts';

export const RASTER_LAYERS = ['priority', 'confidence', 'novelty'] as const;
export const TILELENS_LAYERS = [...RASTER_LAYERS, 'footprints', 'grid'] as const;
export type RasterLayerName = (typeof RASTER_LAYERS)[number];
export type TilelensLayerName = (typeof TILELENS_LAYERS)[number];

export const DEFAULT_RASTER_OPACITY = 0.85;
const FOOTPRINT_COLOUR = '#00e5ff';

export interface LayerOptions {
  /** Layers to add, in drawing order of the array (later on top); defaults to priority, confidence, footprints. */
  layers?: TilelensLayerName[];
  /** Which of them start visible; defaults to all but the second and later raster layers (they cover each other). */
  visible?: Partial<Record<TilelensLayerName, boolean>>;
  opacity?: number;
}

export interface TilelensStyle {
  sources: Record<string, SourceSpecification>;
  layers: LayerSpecification[];
  /** The MapLibre layer ids behind each tilelens layer name (footprints has a fill and an outline). */
  layerIds: Partial<Record<TilelensLayerName, string[]>>;
}

export const sourceId = (projectId: number, name: RasterLayerName | 'vector') =>
  `tilelens-${projectId}-${name}`;
export const layerId = (projectId: number, name: TilelensLayerName, part = '') =>
  `tilelens-${projectId}-${name}${part}`;

/** Feature id of scoring tile (x, y) in the grid layer, for `map.setFeatureState`: the server's own. */
export { tileFeatureId as gridFeatureId } from '../../server/lib/geo/tiles.ts';

export function defaultVisibility(layers: TilelensLayerName[]): Record<TilelensLayerName, boolean> {
  let firstRaster = true;
  const out = {} as Record<TilelensLayerName, boolean>;
  for (const name of TILELENS_LAYERS) out[name] = false;
  for (const name of layers) {
    const raster = (RASTER_LAYERS as readonly string[]).includes(name);
    out[name] = !raster || firstRaster;
    if (raster) firstRaster = false;
  }
  return out;
}

export function tilelensStyle(manifest: OverlayManifest, options: LayerOptions = {}): TilelensStyle {
  const names = options.layers ?? ['priority', 'confidence', 'footprints'];
  for (const n of names) {
    if (!(TILELENS_LAYERS as readonly string[]).includes(n)) {
      throw new Error(`unknown tilelens layer "${n}"; choose from ${TILELENS_LAYERS.join(', ')}`);
    }
  }
  const visible = { ...defaultVisibility(names), ...options.visible };
  const visibility = (n: TilelensLayerName) => (visible[n] ? 'visible' : 'none') as 'visible' | 'none';
  const pid = manifest.projectId;
  const sources: Record<string, SourceSpecification> = {};
  const layers: LayerSpecification[] = [];
  const layerIds: TilelensStyle['layerIds'] = {};

  const needsVector = names.includes('footprints') || names.includes('grid');
  if (needsVector) {
    sources[sourceId(pid, 'vector')] = {
      type: 'vector',
      tiles: manifest.vector.tiles,
      minzoom: manifest.vector.minzoom,
      maxzoom: manifest.vector.maxzoom,
      // Bounds keep the map from asking for tiles where the project has none.
      bounds: manifest.bounds,
    };
  }

  for (const name of names) {
    if ((RASTER_LAYERS as readonly string[]).includes(name)) {
      const r = manifest.raster.find((l) => l.id === name);
      if (!r)
        throw new Error(
          `the server's overlay manifest has no "${name}" layer; is the server older than the plugin?`,
        );
      sources[sourceId(pid, name as RasterLayerName)] = {
        type: 'raster',
        tiles: r.tiles,
        tileSize: r.tileSize,
        minzoom: r.minzoom,
        maxzoom: r.maxzoom,
        bounds: manifest.bounds,
      };
      const id = layerId(pid, name);
      layers.push({
        id,
        type: 'raster',
        source: sourceId(pid, name as RasterLayerName),
        layout: { visibility: visibility(name) },
        paint: {
          'raster-opacity': options.opacity ?? DEFAULT_RASTER_OPACITY,
          'raster-resampling': 'nearest',
          'raster-fade-duration': 0,
        },
      });
      layerIds[name] = [id];
    } else if (name === 'footprints') {
      const fill = layerId(pid, name);
      const outline = layerId(pid, name, '-outline');
      layers.push(
        {
          id: fill,
          type: 'fill',
          source: sourceId(pid, 'vector'),
          'source-layer': manifest.vector.layers.footprints,
          minzoom: manifest.vector.minzoom,
          layout: { visibility: visibility(name) },
          paint: { 'fill-color': FOOTPRINT_COLOUR, 'fill-opacity': 0.3 },
        },
        {
          id: outline,
          type: 'line',
          source: sourceId(pid, 'vector'),
          'source-layer': manifest.vector.layers.footprints,
          minzoom: manifest.vector.minzoom,
          layout: { visibility: visibility(name) },
          paint: { 'line-color': FOOTPRINT_COLOUR, 'line-width': 1.5 },
        },
      );
      layerIds[name] = [fill, outline];
    } else {
      const id = layerId(pid, name);
      layers.push({
        id,
        type: 'line',
        source: sourceId(pid, 'vector'),
        'source-layer': manifest.vector.layers.tiles,
        minzoom: manifest.vector.minzoom,
        layout: { visibility: visibility(name) },
        paint: {
          'line-color': [
            'case',
            ['boolean', ['feature-state', 'selected'], false],
            '#00ffff',
            'rgba(255, 255, 255, 0.55)',
          ],
          'line-width': ['case', ['boolean', ['feature-state', 'selected'], false], 3, 1],
        },
      });
      layerIds[name] = [id];
    }
  }
  return { sources, layers, layerIds };
}
