/**
 * The map: imagery from the server's XYZ endpoint, the tilelens overlays (priority, confidence,
 * predicted footprints), the selection highlighted, and drawing a rectangle or polygon to select.
 * It reads and writes the selection store only; the latent view never calls it.
 */
import * as maplibregl from 'maplibre-gl';
import type { GeoJSONSource, Map as MlMap, MapMouseEvent } from 'maplibre-gl';
import type { SelectionStore } from '../state/selection.ts';
import type { Imagery, Project } from '../data/api.ts';
import { createOverlays, type OverlayName, type Overlays, type OverlayStatus } from './overlays.ts';
import {
  bboxPolygon,
  lonLatToTile,
  parseTaskId,
  taskId,
  tileCentre,
  tileFootprint,
  tileRangeBBox,
  type TileCoord,
} from '../../../server/lib/geo/tiles.ts';

maplibregl.setWorkerUrl('/vendor/maplibre/maplibre-gl-worker.mjs');

export type DrawMode = 'none' | 'rectangle' | 'polygon';

export interface MapViewOptions {
  container: HTMLElement;
  store: SelectionStore;
  project: Project;
  imagery: Imagery;
  view?: { center: [number, number]; zoom: number };
  layers: Record<OverlayName, boolean>;
  /** Another project over the same region, whose change in priority the map draws. */
  compare: number | null;
  /** Tiles of training patches in the selection (they lie in the training region of the same imagery). */
  patchTiles: (patches: Uint32Array) => TileCoord[];
  /** A ring drawn on the map, in lon/lat. */
  onDraw: (ring: Array<[number, number]>, kind: 'rectangle' | 'polygon', additive: boolean) => void;
  onPickTile: (taskId: string) => void;
  onViewChange: (view: { center: [number, number]; zoom: number }) => void;
  onDrawModeChange?: (mode: DrawMode) => void;
  onOverlayStatus?: (s: OverlayStatus) => void;
}

export interface MapView {
  map: MlMap;
  setLayer(name: OverlayName, visible: boolean): void;
  setDrawMode(mode: DrawMode): void;
  /** Task ids highlighted now, sorted (what the end-to-end test compares). */
  highlighted(): string[];
  /** Whether an overlay's MapLibre layers are shown (for the test). */
  overlayVisible(name: OverlayName): boolean;
  /** A scoring job started: the overlays follow it. */
  refreshOverlays(): void;
  fitTiles(taskIds: string[]): void;
  destroy(): void;
}

/** More highlighted squares than this are drawn as their bounding box only: the map stays responsive. */
const MAX_HIGHLIGHT = 20_000;

/** The tile range (inclusive) the tiles span, at the zoom of the first. */
function tileBox(tiles: TileCoord[]) {
  let minX = Infinity,
    minY = Infinity,
    maxX = -Infinity,
    maxY = -Infinity;
  for (const t of tiles) {
    if (t.x < minX) minX = t.x;
    if (t.x > maxX) maxX = t.x;
    if (t.y < minY) minY = t.y;
    if (t.y > maxY) maxY = t.y;
  }
  return { z: tiles[0]?.z ?? 18, minX, minY, maxX, maxY };
}

export function createMapView(o: MapViewOptions): MapView {
  const [w, s, e, n] = o.project.bbox;
  const map = new maplibregl.Map({
    container: o.container,
    style: {
      version: 8,
      sources: {
        imagery: {
          type: 'raster',
          tiles: [`/imagery/${o.imagery.id}/{z}/{x}/{y}.jpg`],
          tileSize: 256,
          // The server builds overviews below the imagery's own zooms; further out the map asks for nothing.
          minzoom: o.imagery.overviewMinZoom,
          maxzoom: o.imagery.maxZoom,
          ...(o.imagery.bounds ? { bounds: o.imagery.bounds } : {}),
          attribution: o.imagery.attribution ?? '',
        },
      },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#e9e6df' } },
        { id: 'imagery', type: 'raster', source: 'imagery' },
      ],
    },
    ...(o.view
      ? { center: o.view.center, zoom: o.view.zoom }
      : { bounds: [w, s, e, n] as [number, number, number, number], fitBoundsOptions: { padding: 20 } }),
    maxZoom: 21,
    attributionControl: { compact: true },
    // Keeps the drawing buffer so screenshots and the test can read the canvas.
    canvasContextAttributes: { preserveDrawingBuffer: true },
  } as maplibregl.MapOptions);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');

  let overlays: Overlays | null = null;
  let debugOverlays: Overlays | null = null;
  let highlighted: TileCoord[] = [];
  let drawMode: DrawMode = 'none';
  const layers = { ...o.layers };

  const emptyFc = (): GeoJSON.FeatureCollection => ({ type: 'FeatureCollection', features: [] });

  // 'style.load', not 'load': the latter waits for every imagery tile in view, which can take seconds.
  map.once('style.load', () => {
    map.addSource('tl-area', { type: 'geojson', data: o.project.area });
    map.addLayer({
      id: 'tl-area-line',
      type: 'line',
      source: 'tl-area',
      paint: { 'line-color': '#ffffff', 'line-width': 2, 'line-dasharray': [3, 2] },
    });
    map.addSource('tl-selection', { type: 'geojson', data: emptyFc() });
    map.addLayer({
      id: 'tl-selection-fill',
      type: 'fill',
      source: 'tl-selection',
      paint: { 'fill-color': '#f57c00', 'fill-opacity': 0.25 },
    });
    map.addLayer({
      id: 'tl-selection-line',
      type: 'line',
      source: 'tl-selection',
      paint: { 'line-color': '#f57c00', 'line-width': 2 },
    });
    map.addSource('tl-draw', { type: 'geojson', data: emptyFc() });
    map.addLayer({
      id: 'tl-draw-fill',
      type: 'fill',
      source: 'tl-draw',
      paint: { 'fill-color': '#0d47a1', 'fill-opacity': 0.12 },
    });
    map.addLayer({
      id: 'tl-draw-line',
      type: 'line',
      source: 'tl-draw',
      paint: { 'line-color': '#0d47a1', 'line-width': 2 },
    });
    if (o.compare !== null) addComparison(map, o.project.id, o.compare, o.container);
    // Overlays under the selection and the drawing, so both stay visible on top of them.
    overlays = createOverlays(map, o.project, layers, 'tl-selection-fill', o.onOverlayStatus);
    debugOverlays = overlays;
    renderSelection();
  });

  /** The selected tiles as coordinates: no strings for the training patches, however many. */
  function selectedTiles(): TileCoord[] {
    const sel = o.store.get();
    const tiles = o.patchTiles(sel.patches);
    for (const id of sel.tiles) tiles.push(parseTaskId(id));
    return tiles;
  }

  function renderSelection() {
    const tiles = selectedTiles();
    highlighted = tiles;
    const src = map.getSource('tl-selection') as GeoJSONSource | undefined;
    if (!src) return;
    let features: GeoJSON.Feature[];
    if (tiles.length <= MAX_HIGHLIGHT) {
      features = tiles.map((t) => ({
        type: 'Feature',
        properties: {},
        geometry: tileFootprint(t.z, t.x, t.y),
      }));
    } else {
      const box = tileBox(tiles);
      features = [
        {
          type: 'Feature',
          properties: {},
          geometry: bboxPolygon(tileRangeBBox(box.z, box)),
        },
      ];
    }
    src.setData({ type: 'FeatureCollection', features });
  }

  const unsubscribe = o.store.subscribe((sel) => {
    renderSelection();
    // Brushed in another view: bring the tiles into sight if none is visible.
    if (sel.source !== 'map' && highlighted.length > 0) {
      const b = map.getBounds();
      const visible = highlighted.some((t) => b.contains(tileCentre(t.z, t.x, t.y)));
      if (!visible) fitTiles(highlighted);
    }
  });

  function fitTiles(tiles: TileCoord[]) {
    if (tiles.length === 0) return;
    const box = tileBox(tiles);
    map.fitBounds(tileRangeBBox(box.z, box), { padding: 40, maxZoom: 17, duration: 0 });
  }

  // Drawing: a rectangle by dragging, a polygon by clicks closed with a double-click (or a click on its start).
  let start: maplibregl.LngLat | null = null;
  let vertices: Array<[number, number]> = [];
  let additive = false;
  const drawSource = () => map.getSource('tl-draw') as GeoJSONSource | undefined;
  const showRing = (ring: Array<[number, number]>) =>
    drawSource()?.setData(
      ring.length >= 2
        ? {
            type: 'Feature',
            properties: {},
            geometry: { type: 'Polygon', coordinates: [[...ring, ring[0]]] },
          }
        : emptyFc(),
    );
  const rectRing = (a: maplibregl.LngLat, b: maplibregl.LngLat): Array<[number, number]> => [
    [a.lng, a.lat],
    [b.lng, a.lat],
    [b.lng, b.lat],
    [a.lng, b.lat],
  ];

  function finish(ring: Array<[number, number]>, kind: 'rectangle' | 'polygon') {
    start = null;
    vertices = [];
    if (ring.length >= 3) o.onDraw(ring, kind, additive);
    setTimeout(() => showRing([]), 400);
  }

  map.on('mousedown', (ev: MapMouseEvent) => {
    if (drawMode !== 'rectangle') return;
    ev.preventDefault();
    additive = ev.originalEvent.shiftKey || ev.originalEvent.ctrlKey;
    start = ev.lngLat;
  });
  map.on('mousemove', (ev: MapMouseEvent) => {
    if (drawMode === 'rectangle' && start) showRing(rectRing(start, ev.lngLat));
    else if (drawMode === 'polygon' && vertices.length > 0)
      showRing([...vertices, [ev.lngLat.lng, ev.lngLat.lat]]);
  });
  map.on('mouseup', (ev: MapMouseEvent) => {
    if (drawMode !== 'rectangle' || !start) return;
    finish(rectRing(start, ev.lngLat), 'rectangle');
  });
  map.on('click', (ev: MapMouseEvent) => {
    if (drawMode === 'polygon') {
      additive = ev.originalEvent.shiftKey || ev.originalEvent.ctrlKey;
      const p = map.project(ev.lngLat);
      if (vertices.length >= 3) {
        const first = map.project(vertices[0]);
        if (Math.hypot(first.x - p.x, first.y - p.y) < 8) return finish(vertices, 'polygon');
      }
      vertices.push([ev.lngLat.lng, ev.lngLat.lat]);
      showRing(vertices);
      return;
    }
    if (drawMode !== 'none') return;
    const t = lonLatToTile(ev.lngLat.lng, ev.lngLat.lat, o.project.zoom);
    const [pw, ps, pe, pn] = o.project.bbox;
    if (ev.lngLat.lng >= pw && ev.lngLat.lng <= pe && ev.lngLat.lat >= ps && ev.lngLat.lat <= pn) {
      o.onPickTile(taskId(o.project.zoom, t.x, t.y));
    }
  });
  map.on('dblclick', (ev: MapMouseEvent) => {
    if (drawMode !== 'polygon') return;
    ev.preventDefault();
    // The double-click's two clicks each added a vertex at the same spot; drop the duplicate.
    const ring = vertices.slice(0, -1);
    finish(ring, 'polygon');
  });
  map.on('moveend', () => {
    const c = map.getCenter();
    o.onViewChange({ center: [c.lng, c.lat], zoom: map.getZoom() });
  });

  function setDrawMode(mode: DrawMode) {
    drawMode = mode;
    start = null;
    vertices = [];
    showRing([]);
    if (mode === 'none') {
      map.dragPan.enable();
      map.doubleClickZoom.enable();
      map.getCanvas().style.cursor = '';
    } else {
      map.dragPan.disable();
      map.doubleClickZoom.disable();
      map.getCanvas().style.cursor = 'crosshair';
    }
    o.onDrawModeChange?.(mode);
  }

  return {
    map,
    setLayer(name, visible) {
      layers[name] = visible;
      overlays?.setVisible(name, visible);
    },
    setDrawMode,
    highlighted: () => [...new Set(highlighted.map((t) => taskId(t.z, t.x, t.y)))].sort(),
    overlayVisible: (name) => !!debugOverlays?.isVisible(name),
    refreshOverlays: () => overlays?.refresh(),
    fitTiles: (ids) => fitTiles(ids.map(parseTaskId)),
    destroy() {
      unsubscribe();
      overlays?.destroy();
      map.remove();
    },
  };
}

/**
 * Two models side by side: `?compare=B` in the URL draws, per tile matched with project B (the same region scored
 * by another model or run), how much the priority changes — red where B sends the tile earlier, blue where later.
 * One GeoJSON for the project: meant for a comparison of moderate size, not for a 100k-tile overlay.
 */
function addComparison(map: MlMap, projectId: number, other: number, container: HTMLElement): void {
  map.addSource('tl-compare', {
    type: 'geojson',
    data: `/api/projects/${projectId}/compare/${other}/layer.geojson`,
  });
  map.addLayer(
    {
      id: 'tl-compare-fill',
      type: 'fill',
      source: 'tl-compare',
      paint: {
        'fill-color': [
          'interpolate',
          ['linear'],
          ['get', 'd_priority'],
          -0.5,
          '#2166ac',
          0,
          '#f7f7f7',
          0.5,
          '#b2182b',
        ],
        'fill-opacity': 0.7,
      },
    },
    'tl-selection-fill',
  );
  const legend = document.createElement('div');
  legend.className = 'map-compare-legend';
  legend.dataset.compare = String(other);
  legend.textContent = `Δ priority vs project ${other}: blue = later, red = earlier`;
  legend.style.cssText =
    'position:absolute;top:8px;right:8px;background:#fff;padding:4px 8px;border-radius:4px;font:12px sans-serif;z-index:2';
  container.appendChild(legend);
}
