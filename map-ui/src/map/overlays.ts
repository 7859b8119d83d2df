/**
 * The tilelens overlays on the map — priority, confidence (low confidence stands out), predicted
 * footprints — from the plugin: its API client reads the project's overlay manifest and its layer
 * definitions (plugin/src/layers.ts) become the map's sources and layers. Raster tiles drawn by the
 * server and vector footprints per tile, so a 200k-tile area is never one GeoJSON in the browser.
 * The app draws its own toggles and legends, so it adds the layers itself rather than through the
 * plugin's control panel; like the control, it points the sources at new tiles while a job runs.
 */
import type { Map as MlMap, RasterTileSource, VectorTileSource } from 'maplibre-gl';
import { createApiClient, type OverlayManifest } from '../../../plugin/src/api-client.ts';
import { sourceId, tilelensStyle, type TilelensStyle } from '../../../plugin/src/layers.ts';
import type { Project } from '../data/api.ts';

export type RasterLegend = OverlayManifest['raster'][number]['legend'];
export type OverlayName = 'priority' | 'confidence' | 'footprints';
export const OVERLAY_NAMES: OverlayName[] = ['priority', 'confidence', 'footprints'];

export type OverlayStatus = {
  ready: boolean;
  error: string | null;
  footprintsMinZoom: number | null;
  /** The server's own legends of its raster overlays, so the colours shown match the tiles drawn. */
  legends: Partial<Record<OverlayName, RasterLegend>>;
};

export interface Overlays {
  setVisible(name: OverlayName, visible: boolean): void;
  isVisible(name: OverlayName): boolean;
  destroy(): void;
}

/** Call once the style has loaded; layers go below `beforeId`. */
export function createOverlays(
  map: MlMap,
  project: Project,
  initial: Record<OverlayName, boolean>,
  beforeId: string | undefined,
  onStatus?: (s: OverlayStatus) => void,
): Overlays {
  const client = createApiClient({ server: location.origin });
  const visible = { ...initial };
  let style: TilelensStyle | null = null;
  let manifest: OverlayManifest | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let removed = false;

  const apply = () => {
    if (!style) return;
    for (const name of OVERLAY_NAMES) {
      for (const id of style.layerIds[name] ?? []) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible[name] ? 'visible' : 'none');
    }
  };

  // While scoring runs the manifest's version changes; new tile URLs make the map fetch the new tiles.
  const refresh = () => {
    if (removed || !manifest || manifest.final) return;
    timer = setTimeout(async () => {
      try {
        const next = await client.overlays(project.id);
        if (removed) return;
        if (next.version !== manifest!.version) {
          for (const r of next.raster) (map.getSource(sourceId(next.projectId, r.id)) as RasterTileSource | undefined)?.setTiles(r.tiles);
          (map.getSource(sourceId(next.projectId, 'vector')) as VectorTileSource | undefined)?.setTiles(next.vector.tiles);
        }
        manifest = next;
      } catch {
        /* the server restarting mid-job: try again next round */
      }
      refresh();
    }, 3000);
  };

  client.overlays(project.id).then(
    (m) => {
      if (removed) return;
      manifest = m;
      style = tilelensStyle(m, { layers: OVERLAY_NAMES, visible });
      for (const [id, source] of Object.entries(style.sources)) map.addSource(id, source);
      for (const layer of style.layers) map.addLayer(layer, beforeId && map.getLayer(beforeId) ? beforeId : undefined);
      apply();
      onStatus?.({ ready: true, error: null, footprintsMinZoom: m.vector.minzoom, legends: Object.fromEntries(m.raster.map((r) => [r.id, r.legend])) });
      refresh();
    },
    (err: Error) => onStatus?.({ ready: false, error: err.message, footprintsMinZoom: null, legends: {} }),
  );

  return {
    setVisible(name, v) {
      visible[name] = v;
      apply();
    },
    isVisible: (name) => {
      const id = style?.layerIds[name]?.[0];
      return !!id && !!map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none';
    },
    destroy() {
      removed = true;
      clearTimeout(timer);
    },
  };
}
