/**
 * The map pane: the map view (map/map-view.ts) with its overlay toggles, its drawing tools and its legends.
 * The layers shown are the view state's (one place, in the URL); this pane applies them to the map.
 */
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { legendElement } from '../../../plugin/src/control.ts';
import type { Imagery, Project } from '../data/api.ts';
import { patchTiles, pointsInMapRing, type LatentData } from '../data/latent-data.ts';
import { createMapView, type DrawMode, type MapView } from '../map/map-view.ts';
import type { OverlayName, OverlayStatus, RasterLegend } from '../map/overlays.ts';
import type { SelectionStore } from '../state/selection.ts';
import type { ViewState } from '../state/url-state.ts';
import { exposeForTests } from '../test-hooks.ts';
import { Swatch } from './common.ts';

const OVERLAY_LABEL: Record<OverlayName, string> = {
  priority: 'Priority (who looks first)',
  confidence: 'Low model confidence',
  footprints: 'Predicted buildings',
};

/** A raster overlay's legend as the plugin draws it from the server's manifest. */
function RasterLegendBox(props: { title: string; legend: RasterLegend | undefined }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (ref.current && props.legend) ref.current.replaceChildren(legendElement(props.legend));
  }, [props.legend]);
  return h(
    'div',
    { class: 'legend' },
    h('div', { class: 'legend-title' }, props.title),
    h('div', { ref, class: 'raster-legend' }),
  );
}

function MapLegend(props: { layers: Record<OverlayName, boolean>; status: OverlayStatus | null }) {
  const legends = props.status?.legends ?? {};
  return h(
    'div',
    { class: 'map-legend' },
    props.layers.priority
      ? h(RasterLegendBox, { title: 'Priority: who looks first', legend: legends.priority })
      : null,
    props.layers.confidence
      ? h(RasterLegendBox, { title: 'Model confidence (smoothed IoU)', legend: legends.confidence })
      : null,
    props.layers.footprints
      ? h(
          'div',
          { class: 'legend' },
          h(Swatch, { colour: '#00e5ff', label: 'building the model predicts', shape: 'ring' }),
        )
      : null,
    h('div', { class: 'legend' }, h(Swatch, { colour: '#f57c00', label: 'selected' })),
    props.status?.error
      ? h('div', { class: 'legend note' }, `Overlays unavailable: ${props.status.error}`)
      : null,
    props.layers.footprints && props.status?.footprintsMinZoom
      ? h('div', { class: 'legend note' }, `Buildings show from zoom ${props.status.footprintsMinZoom}`)
      : null,
  );
}

export function MapPanel(props: {
  project: Project;
  imagery: Imagery;
  store: SelectionStore;
  view: ViewState;
  setView: (update: (v: ViewState) => ViewState) => void;
  /** The latent data: the map highlights training patches by their tiles and selects them by drawing. */
  data: LatentData | null;
  volunteer: boolean;
  /** The scoring job in view (id and status): when it changes, the overlays follow the new one. */
  jobKey: string;
  onPickTile: (taskId: string) => void;
}) {
  const { project, view, setView, volunteer } = props;
  const mapEl = useRef<HTMLDivElement>(null);
  const mapView = useRef<MapView | null>(null);
  const dataRef = useRef<LatentData | null>(null);
  dataRef.current = props.data;
  const [drawMode, setDrawMode] = useState<DrawMode>('none');
  const [overlayStatus, setOverlayStatus] = useState<OverlayStatus | null>(null);

  useEffect(() => {
    if (!mapEl.current) return;
    const mv = createMapView({
      container: mapEl.current,
      store: props.store,
      project,
      imagery: props.imagery,
      view: view.center && view.zoom !== null ? { center: view.center, zoom: view.zoom } : undefined,
      layers: view.layers,
      compare: view.compare,
      patchTiles: (patches) => (dataRef.current ? patchTiles(dataRef.current, patches) : []),
      onDraw: (ring, kind, additive) => {
        const d = dataRef.current;
        if (!d) return;
        props.store.set({
          ...pointsInMapRing(d, ring),
          source: 'map',
          mode: additive ? 'add' : 'replace',
          brush: { kind: kind === 'rectangle' ? 'rectangle' : 'lasso', space: 'map', coordinates: ring },
        });
      },
      onPickTile: props.onPickTile,
      onViewChange: (v) => setView((old) => ({ ...old, center: v.center, zoom: v.zoom })),
      onDrawModeChange: setDrawMode,
      onOverlayStatus: setOverlayStatus,
    });
    mapView.current = mv;
    exposeForTests({
      map: mv.map,
      highlighted: () => mv.highlighted(),
      overlayVisible: (name: OverlayName) => mv.overlayVisible(name),
    });
    return () => mv.destroy();
  }, [project.id]);

  useEffect(() => mapView.current?.refreshOverlays(), [props.jobKey]);

  useEffect(() => {
    for (const name of Object.keys(view.layers) as OverlayName[])
      mapView.current?.setLayer(name, view.layers[name]);
  }, [view.layers]);

  const toolbar = h(
    'div',
    { class: 'toolbar' },
    (volunteer
      ? (['confidence', 'footprints'] as OverlayName[])
      : (['priority', 'confidence', 'footprints'] as OverlayName[])
    ).map((name) =>
      h(
        'label',
        { key: name, class: 'check' },
        h('input', {
          type: 'checkbox',
          checked: view.layers[name],
          'data-layer': name,
          onChange: (e: Event) => {
            const on = (e.target as HTMLInputElement).checked;
            setView((v) => ({ ...v, layers: { ...v.layers, [name]: on } }));
          },
        }),
        OVERLAY_LABEL[name],
      ),
    ),
    !volunteer
      ? h(
          'span',
          { class: 'group' },
          h('span', { class: 'label' }, 'Select on map:'),
          (['rectangle', 'polygon'] as DrawMode[]).map((m) =>
            h(
              'button',
              {
                key: m,
                class: drawMode === m ? 'on' : '',
                'data-draw': m,
                onClick: () => mapView.current?.setDrawMode(drawMode === m ? 'none' : m),
              },
              m === 'rectangle' ? 'Rectangle' : 'Polygon',
            ),
          ),
        )
      : null,
  );

  return h(
    'section',
    { class: 'map-pane' },
    h(
      'div',
      { class: 'pane-head' },
      h('h2', null, volunteer ? 'Where the model needs your eyes' : 'The region to map'),
      toolbar,
    ),
    h(
      'div',
      { class: 'map-wrap' },
      h('div', { ref: mapEl, class: 'map', id: 'map' }),
      h(MapLegend, { layers: view.layers, status: overlayStatus }),
    ),
    !volunteer && drawMode !== 'none'
      ? h(
          'p',
          { class: 'hint' },
          drawMode === 'rectangle'
            ? 'Drag a rectangle on the map; hold Shift to add to the selection.'
            : 'Click the corners; double-click to close the polygon.',
        )
      : null,
  );
}
