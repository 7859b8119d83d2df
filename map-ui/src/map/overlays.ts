/**
 * The tilelens overlays on the map — priority, confidence (low confidence stands out), predicted
 * footprints — through the plugin's own `TilelensControl`, exactly as any MapLibre host adds them:
 * the control reads the project's overlay manifest, adds the layers of plugin/src/layers.ts as soon
 * as the style is in (not after every imagery tile) and repoints the sources while a job runs. Raster
 * tiles drawn by the server and vector footprints per tile, so a 200k-tile area is never one GeoJSON
 * in the browser. The app draws its own toggles and legends, so the control's panel is off.
 */
import type { Map as MlMap } from 'maplibre-gl';
import type { OverlayManifest } from '../../../plugin/src/api-client.ts';
import { TilelensControl } from '../../../plugin/src/control.ts';
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
  /** A job started: follow the project's overlays again until it ends. */
  refresh(): void;
  isVisible(name: OverlayName): boolean;
  destroy(): void;
}

/** Layers go below `beforeId` when the map has it. */
export function createOverlays(
  map: MlMap,
  project: Project,
  initial: Record<OverlayName, boolean>,
  beforeId: string | undefined,
  onStatus?: (s: OverlayStatus) => void,
): Overlays {
  const visible = { ...initial };
  const control = new TilelensControl({
    server: location.origin,
    projectId: project.id,
    layers: OVERLAY_NAMES,
    visible,
    beforeId: beforeId && map.getLayer(beforeId) ? beforeId : undefined,
    refreshMs: 3000,
    panel: false,
  });
  let ready = false;
  map.addControl(control);
  control.ready.then(
    (m) => {
      ready = true;
      // Toggles flipped while the manifest was loading apply now.
      for (const name of OVERLAY_NAMES) control.setVisible(name, visible[name]);
      onStatus?.({
        ready: true,
        error: null,
        footprintsMinZoom: m.vector.minzoom,
        legends: Object.fromEntries(m.raster.map((r) => [r.id, r.legend])),
      });
    },
    (err: Error) => onStatus?.({ ready: false, error: err.message, footprintsMinZoom: null, legends: {} }),
  );

  return {
    setVisible(name, v) {
      visible[name] = v;
      if (ready) control.setVisible(name, v);
    },
    isVisible: (name) => ready && control.isVisible(name),
    refresh: () => control.refresh(),
    destroy() {
      if (map.hasControl(control)) map.removeControl(control);
    },
  };
}
