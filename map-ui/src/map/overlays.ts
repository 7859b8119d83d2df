/**
 * The tilelens overlays on the map: priority, confidence (low confidence stands out) and predicted
 * footprints. Scores come per viewport from `/api/projects/:id/tiles?bbox=` and only from zoom 14 up,
 * so a 200k-tile area never arrives in the browser at once; below that zoom the area outline and a
 * note ask the manager to zoom in.
 */
import type { GeoJSONSource, Map as MlMap } from 'maplibre-gl';
import type { Project } from '../data/api.ts';
import { PRIORITY_SCALE } from '../data/colour.ts';

export type OverlayName = 'priority' | 'confidence' | 'footprints';
export const OVERLAY_NAMES: OverlayName[] = ['priority', 'confidence', 'footprints'];

export interface Overlays {
  setVisible(name: OverlayName, visible: boolean): void;
  /** Tiles in the last viewport fetch (for the status line). */
  status(): { zoomTooLow: boolean; tiles: number; truncated: boolean };
  destroy(): void;
}

export const MIN_SCORE_ZOOM = 14;
const VIEWPORT_LIMIT = 5000;

const LAYERS: Record<OverlayName, string[]> = {
  priority: ['tl-priority'],
  confidence: ['tl-confidence'],
  footprints: ['tl-footprints-fill', 'tl-footprints-line'],
};

export type OverlayStatus = { zoomTooLow: boolean; tiles: number; truncated: boolean };

export function createOverlays(
  map: MlMap,
  project: Project,
  initial: Record<OverlayName, boolean>,
  onStatus?: (s: OverlayStatus) => void,
): Overlays {
  const empty: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };
  map.addSource('tl-scores', { type: 'geojson', data: empty });
  map.addSource('tl-footprints', { type: 'geojson', data: empty });
  const priorityStops = PRIORITY_SCALE.stops.flatMap((c, i) => [i / (PRIORITY_SCALE.stops.length - 1), c]);
  map.addLayer({
    id: 'tl-priority',
    type: 'fill',
    source: 'tl-scores',
    paint: {
      'fill-color': ['interpolate', ['linear'], ['coalesce', ['get', 'priority'], 0], ...priorityStops] as never,
      'fill-opacity': 0.45,
      'fill-outline-color': 'rgba(0,0,0,0.15)',
    },
  });
  // Confidence: transparent where the model is trusted, an increasingly solid magenta where it is not.
  map.addLayer({
    id: 'tl-confidence',
    type: 'fill',
    source: 'tl-scores',
    paint: {
      'fill-color': '#c2185b',
      'fill-opacity': ['interpolate', ['linear'], ['coalesce', ['get', 'iou_hat'], 0], 0, 0.7, 0.4, 0.45, 0.7, 0.08, 0.85, 0] as never,
    },
  });
  map.addLayer({ id: 'tl-footprints-fill', type: 'fill', source: 'tl-footprints', paint: { 'fill-color': '#00e5ff', 'fill-opacity': 0.25 } });
  map.addLayer({ id: 'tl-footprints-line', type: 'line', source: 'tl-footprints', paint: { 'line-color': '#00e5ff', 'line-width': 1.5 } });

  const visible = { ...initial };
  const apply = () => {
    for (const name of Object.keys(LAYERS) as OverlayName[]) {
      for (const id of LAYERS[name]) map.setLayoutProperty(id, 'visibility', visible[name] ? 'visible' : 'none');
    }
  };
  apply();

  let state = { zoomTooLow: false, tiles: 0, truncated: false };
  let controller: AbortController | null = null;
  const footprintCache = new Map<string, GeoJSON.Feature[]>();

  async function refresh() {
    controller?.abort();
    if (map.getZoom() < MIN_SCORE_ZOOM) {
      state = { zoomTooLow: true, tiles: 0, truncated: false };
      (map.getSource('tl-scores') as GeoJSONSource).setData(empty);
      (map.getSource('tl-footprints') as GeoJSONSource).setData(empty);
      onStatus?.(state);
      return;
    }
    const b = map.getBounds();
    const [pw, ps, pe, pn] = project.bbox;
    const bbox = [Math.max(b.getWest(), pw), Math.max(b.getSouth(), ps), Math.min(b.getEast(), pe), Math.min(b.getNorth(), pn)];
    if (!(bbox[0] < bbox[2] && bbox[1] < bbox[3])) {
      state = { zoomTooLow: false, tiles: 0, truncated: false };
      onStatus?.(state);
      return;
    }
    controller = new AbortController();
    try {
      const res = await fetch(`/api/projects/${project.id}/tiles?bbox=${bbox.map((v) => v.toFixed(7)).join(',')}&limit=${VIEWPORT_LIMIT}`, { signal: controller.signal });
      if (!res.ok) return;
      const fc = (await res.json()) as GeoJSON.FeatureCollection & { tilelens?: { truncated?: boolean } };
      (map.getSource('tl-scores') as GeoJSONSource).setData(fc);
      state = { zoomTooLow: false, tiles: fc.features.length, truncated: !!fc.tilelens?.truncated };
      onStatus?.(state);
      if (visible.footprints) void loadFootprints(fc, controller.signal);
    } catch (err) {
      if ((err as Error).name !== 'AbortError') console.warn('tilelens: overlay fetch failed', err);
    }
  }

  /** Footprints of the tiles in view that the model marks as holding buildings, fetched once per tile. */
  async function loadFootprints(fc: GeoJSON.FeatureCollection, signal: AbortSignal) {
    const ids = fc.features
      .filter((f) => Number(f.properties?.pred_fraction ?? 0) > 0)
      .map((f) => String(f.properties?.task_id))
      .slice(0, 400);
    const missing = ids.filter((id) => !footprintCache.has(id));
    for (let i = 0; i < missing.length; i += 8) {
      if (signal.aborted) return;
      await Promise.all(
        missing.slice(i, i + 8).map(async (id) => {
          const res = await fetch(`/api/projects/${project.id}/tiles/${id}`, { signal }).catch(() => null);
          if (!res?.ok) return;
          const t = (await res.json()) as { footprints?: GeoJSON.MultiPolygon };
          footprintCache.set(id, t.footprints ? [{ type: 'Feature', properties: { id }, geometry: t.footprints }] : []);
        }),
      );
    }
    const features = ids.flatMap((id) => footprintCache.get(id) ?? []);
    (map.getSource('tl-footprints') as GeoJSONSource).setData({ type: 'FeatureCollection', features });
  }

  map.on('moveend', refresh);
  void refresh();

  return {
    setVisible(name, v) {
      visible[name] = v;
      apply();
      if (name === 'footprints' && v) void refresh();
    },
    status: () => state,
    destroy() {
      controller?.abort();
      map.off('moveend', refresh);
    },
  };
}
