/**
 * The app shell: loads the project, wires the views to one selection store and keeps the URL in step
 * with the view. Manager mode shows every panel; volunteer mode the imagery, the confidence overlay
 * and the footprints, with nothing that changes anything.
 */
import { h, render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  api,
  managerToken,
  setManagerToken,
  type Cluster,
  type Imagery,
  type Job,
  type Project,
  type RunDetail,
} from './data/api.ts';
import { IOU_SCALE, NEW_TILE_COLOUR, NULL_COLOUR } from './data/colour.ts';
import { FailedTiles } from './panels/failed-tiles.ts';
import {
  COLOUR_BY,
  COLOUR_BY_LABEL,
  LatentLoader,
  pointsInMapRing,
  taskIdOfPoint,
  tileOfPoint,
  trainingPointOfIdx,
  type ColourBy,
  type LatentData,
  type Legend,
} from './data/latent-data.ts';
import { categoryAt, valueAt } from './data/columns.ts';
import { createMapView, type DrawMode, type MapView } from './map/map-view.ts';
import { type OverlayName, type OverlayStatus, type RasterLegend } from './map/overlays.ts';
import { legendElement } from '../../plugin/src/control.ts';
import { createSelectionStore, type Selection, type SelectionStore } from './state/selection.ts';
import { fromQuery, toQuery, type ViewState } from './state/url-state.ts';
import { createLatentPlot, type BrushMode, type LatentPlot } from './views/latent-plot.ts';
import { ClustersPanel } from './panels/clusters.ts';
import { GradientLegend, int, num, Swatch } from './panels/common.ts';
import { Inspector, type Inspected } from './panels/inspector.ts';
import { Gallery, Histograms } from './panels/selection-panels.ts';
import { ExportsPanel, ThresholdPanel } from './panels/thresholds.ts';
import { CalibrationPanel } from './panels/calibration.ts';
import { InsightsPanels } from './insights/index.ts';

declare global {
  interface Window {
    __tilelens?: Record<string, unknown>;
  }
}

const debug = (window.__tilelens = window.__tilelens ?? {});

function useSelection(store: SelectionStore): Selection {
  const [sel, setSel] = useState(store.get());
  useEffect(() => store.subscribe((s) => setSel(s)), [store]);
  return sel;
}

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

function LatentLegend(props: { legend: Legend | null; urbanised: number[] }) {
  const l = props.legend;
  if (!l) return null;
  const extra = h(
    'div',
    { class: 'legend-extra' },
    l.kind === 'continuous'
      ? h(Swatch, { colour: NULL_COLOUR, label: l.nullLabel ?? 'no value', shape: 'dot' })
      : null,
    h(Swatch, { colour: NEW_TILE_COLOUR, label: l.newTiles, shape: 'dot' }),
    props.urbanised.length
      ? h(Swatch, { colour: '#141414', label: 'outline: urbanised families', shape: 'ring' })
      : null,
  );
  if (l.kind === 'continuous')
    return h('div', { class: 'latent-legend' }, h(GradientLegend, { title: l.title, scale: l.scale, extra }));
  return h(
    'div',
    { class: 'latent-legend' },
    h(
      'div',
      { class: 'legend' },
      h('div', { class: 'legend-title' }, l.title),
      h(
        'div',
        { class: 'legend-cats' },
        l.items.map((it) => h(Swatch, { key: it.label, colour: it.colour, label: it.label, shape: 'dot' })),
      ),
      extra,
    ),
  );
}

function JobBar(props: { job: Job | null }) {
  const j = props.job;
  if (!j || j.status === 'done') return null;
  const share = j.total > 0 ? j.done / j.total : 0;
  return h(
    'div',
    {
      class: `jobbar ${j.status}`,
      role: 'progressbar',
      'aria-valuenow': Math.round(share * 100),
      'aria-valuemin': 0,
      'aria-valuemax': 100,
    },
    h('div', { class: 'jobbar-fill', style: { width: `${share * 100}%` } }),
    h(
      'span',
      null,
      j.status === 'failed'
        ? `Scoring failed: ${j.error ?? 'see the server log'}`
        : `Scoring the region: ${int(j.done)} of ${int(j.total)} tiles (${Math.round(share * 100)} %)`,
    ),
  );
}

function TokenBox() {
  const [has, setHas] = useState(!!managerToken());
  const [value, setValue] = useState('');
  if (has)
    return h(
      'span',
      { class: 'token ok' },
      'manager ✓ ',
      h('button', { class: 'link', onClick: () => (setManagerToken(null), setHas(false)) }, 'forget token'),
    );
  return h(
    'form',
    { class: 'token', onSubmit: (e: Event) => (e.preventDefault(), setManagerToken(value), setHas(!!value)) },
    h('input', {
      type: 'password',
      placeholder: 'Manager token',
      value,
      onInput: (e: Event) => setValue((e.target as HTMLInputElement).value),
      'aria-label': 'manager token',
    }),
    h('button', { type: 'submit' }, 'Use'),
  );
}

interface Loaded {
  project: Project;
  imagery: Imagery;
  run: RunDetail;
  clusters: Cluster[];
  urbanisedReason: string;
}

function App(props: { initial: ViewState; loaded: Loaded; store: SelectionStore }) {
  const { loaded, store } = props;
  const { project, imagery } = loaded;
  const volunteer = props.initial.mode === 'volunteer';
  const [view, setView] = useState<ViewState>(props.initial);
  const [data, setData] = useState<LatentData | null>(null);
  const [loading, setLoading] = useState<string | null>('Loading the latent space…');
  const [legend, setLegend] = useState<Legend | null>(null);
  const [brushMode, setBrushMode] = useState<BrushMode>('pan');
  const [drawMode, setDrawMode] = useState<DrawMode>('none');
  const [inspected, setInspected] = useState<Inspected>(null);
  const [job, setJob] = useState<Job | null>(project.job);
  const [scoreVersion, setScoreVersion] = useState(0);
  // The "high" tier: the tiles that likely hold buildings; lower it to add the tiles where the model is unsure.
  const [threshold, setThreshold] = useState(0.5);
  const [overlayStatus, setOverlayStatus] = useState<OverlayStatus | null>(null);
  const [hover, setHover] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const selection = useSelection(store);
  const mapEl = useRef<HTMLDivElement>(null);
  const plotEl = useRef<HTMLDivElement>(null);
  const mapView = useRef<MapView | null>(null);
  const plot = useRef<LatentPlot | null>(null);
  const dataRef = useRef<LatentData | null>(null);
  const loader = useMemo(
    () => new LatentLoader({ runId: project.runId, projectId: project.id }),
    [project.id, scoreVersion],
  );
  const urbanised = loaded.run.urbanised.clusters;

  // The URL follows the view.
  useEffect(() => {
    const next = `${location.pathname}?${toQuery({ ...view, patches: [...selection.patches], tiles: [...selection.tiles] })}`;
    history.replaceState(null, '', next);
  }, [view, selection.version]);

  // Map.
  useEffect(() => {
    if (!mapEl.current) return;
    const mv = createMapView({
      container: mapEl.current,
      store,
      project,
      imagery,
      view: view.center && view.zoom !== null ? { center: view.center, zoom: view.zoom } : undefined,
      layers: view.layers,
      patchTiles: (patches) => {
        const d = dataRef.current;
        if (!d) return [];
        const pointOf = trainingPointOfIdx(d);
        const out: string[] = [];
        for (const idx of patches) {
          const i = pointOf(idx);
          const t = i >= 0 ? tileOfPoint(d.training, i) : null;
          if (t) out.push(`${t.z}-${t.x}-${t.y}`);
        }
        return out;
      },
      onDraw: (ring, kind, additive) => {
        const d = dataRef.current;
        if (!d) return;
        const hit = pointsInMapRing(d, ring);
        store.set({
          ...hit,
          source: 'map',
          mode: additive ? 'add' : 'replace',
          brush: { kind: kind === 'rectangle' ? 'rectangle' : 'lasso', space: 'map', coordinates: ring },
        });
      },
      onPickTile: (taskId) => setInspected({ kind: 'tile', taskId }),
      onViewChange: (v) => setView((old) => ({ ...old, center: v.center, zoom: v.zoom })),
      onDrawModeChange: setDrawMode,
      onOverlayStatus: setOverlayStatus,
    });
    mapView.current = mv;
    debug.map = mv.map;
    debug.highlighted = () => mv.highlighted();
    debug.overlayVisible = (name: OverlayName) => mv.overlayVisible(name);
    return () => mv.destroy();
  }, [project.id]);

  // Latent plot.
  useEffect(() => {
    if (volunteer || !plotEl.current) return;
    const p = createLatentPlot({
      container: plotEl.current,
      store,
      onPick: (pick) => {
        const d = dataRef.current;
        if (pick.kind === 'tile') return setInspected(pick);
        if (!d) return;
        const i = trainingPointOfIdx(d)(pick.idx);
        const c = d.training.attributes.columns;
        setInspected({
          kind: 'patch',
          idx: pick.idx,
          iou: c.iou ? valueAt(c.iou, i) : undefined,
          iouHat: c.iouHat ? valueAt(c.iouHat, i) : undefined,
          group: c.group ? categoryAt(c.group, i) : null,
          taskId: taskIdOfPoint(d.training, i),
        });
      },
      onHover: (pick) =>
        setHover(
          pick
            ? pick.kind === 'tile'
              ? `new-region tile ${pick.taskId}`
              : `training tile #${pick.idx}`
            : null,
        ),
    });
    plot.current = p;
    debug.plot = p;
    return () => p.destroy();
  }, [project.id]);

  // Points per axis pair (and again once scoring has finished).
  useEffect(() => {
    let live = true;
    setLoading(
      `Loading ${volunteer ? '' : 'the latent space on '}components ${view.axes[0]} and ${view.axes[1]}…`,
    );
    const t0 = performance.now();
    debug.ready = false;
    loader
      .load(view.axes)
      .then(async (d) => {
        if (!live) return;
        dataRef.current = d;
        setData(d);
        debug.latent = d;
        if (plot.current) {
          await plot.current.setData(d, view.colourBy, urbanised);
          setLegend(plot.current.encoding()?.legend ?? null);
          // Show what a link asked for once the points it names exist.
          const sel = store.get();
          if (sel.source === 'url' && (sel.patches.length || sel.tiles.length))
            store.set({ patches: sel.patches, tiles: sel.tiles, source: 'url' });
        } else {
          store.set({ patches: store.get().patches, tiles: store.get().tiles, source: 'url' });
        }
        debug.loadMs = performance.now() - t0;
        debug.ready = true;
        setLoading(null);
      })
      .catch((err: Error) => live && setLoading(`Could not load the latent space: ${err.message}`));
    return () => {
      live = false;
    };
  }, [loader, view.axes[0], view.axes[1]]);

  useEffect(() => {
    plot.current?.setColourBy(view.colourBy);
    setLegend(plot.current?.encoding()?.legend ?? null);
  }, [view.colourBy]);
  useEffect(() => plot.current?.setSurfaceOpacity(view.surface), [view.surface, data]);
  useEffect(() => plot.current?.setMode(brushMode), [brushMode]);

  // Scoring progress.
  useEffect(() => {
    if (!job || job.status === 'done' || job.status === 'failed' || job.status === 'cancelled') return;
    const timer = setInterval(async () => {
      try {
        const next = await api.job(job.id);
        setJob(next);
        if (next.status === 'done') setScoreVersion((v) => v + 1);
      } catch {
        /* a missed poll is retried on the next tick */
      }
    }, 1000);
    return () => clearInterval(timer);
  }, [job?.id, job?.status]);

  const activeCluster = selection.brush?.kind === 'cluster' ? selection.brush.cluster : null;
  const setLayer = (name: OverlayName, on: boolean) => {
    setView((v) => ({ ...v, layers: { ...v.layers, [name]: on } }));
    mapView.current?.setLayer(name, on);
  };
  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      setMessage('Link copied: it opens this exact view.');
    } catch {
      setMessage('Copy the address bar: it holds this exact view.');
    }
    setTimeout(() => setMessage(null), 2500);
  };
  const startScoring = async () => {
    try {
      setJob(await api.startScoring(project.id));
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  const volunteerHref = `/?${toQuery({ ...view, mode: 'volunteer', layers: { priority: false, confidence: true, footprints: true }, patches: [], tiles: [] })}`;
  const nSel = selection.patches.length + selection.tiles.length;

  const header = h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, h('strong', null, 'tilelens'), h('span', null, project.name)),
    h(
      'div',
      { class: 'facts' },
      `${int(project.tileCount)} tiles · ${num(project.areaKm2, 1)} km² · model trust map from ${int(data?.training.n ?? 0)} training tiles`,
    ),
    h(JobBar, { job }),
    h(FailedTiles, { project, job, canRetry: !volunteer, onJob: setJob, onError: setMessage }),
    h(
      'div',
      { class: 'top-actions' },
      volunteer ? h('span', { class: 'badge' }, 'Volunteer view') : null,
      !volunteer && (!job || job.status === 'failed' || job.status === 'cancelled')
        ? h('button', { onClick: startScoring }, 'Score this region')
        : null,
      h('button', { onClick: copyLink, title: 'Copy a link to this view' }, 'Copy link'),
      !volunteer
        ? h(
            'a',
            { class: 'button', href: volunteerHref, target: '_blank', id: 'volunteer-link' },
            'Volunteer view ↗',
          )
        : null,
      !volunteer ? h(TokenBox, null) : null,
    ),
    message ? h('div', { class: 'toast' }, message) : null,
  );

  const mapToolbar = h(
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
          onChange: (e: Event) => setLayer(name, (e.target as HTMLInputElement).checked),
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

  const mapPanel = h(
    'section',
    { class: 'map-pane' },
    h(
      'div',
      { class: 'pane-head' },
      h('h2', null, volunteer ? 'Where the model needs your eyes' : 'The region to map'),
      mapToolbar,
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

  if (volunteer) {
    return h(
      'div',
      { class: 'app volunteer' },
      header,
      h(
        'main',
        { class: 'volunteer-main' },
        mapPanel,
        h(
          'aside',
          { class: 'side' },
          h(Inspector, { project, imagery, inspected, onClose: () => setInspected(null) }),
        ),
      ),
    );
  }

  const latentPanel = h(
    'section',
    { class: 'latent-pane' },
    h(
      'div',
      { class: 'pane-head' },
      h('h2', null, 'Where the model is at home'),
      h(
        'p',
        { class: 'pane-sub' },
        'Each dot is a tile as the model sees it: alike tiles lie close. Background: the model’s expected accuracy there (faded where it has no training tiles).',
      ),
    ),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'label',
        null,
        'Colour ',
        h(
          'select',
          {
            value: view.colourBy,
            'data-control': 'colour',
            onChange: (e: Event) =>
              setView((v) => ({ ...v, colourBy: (e.target as HTMLSelectElement).value as ColourBy })),
          },
          COLOUR_BY.map((c) => h('option', { key: c, value: c }, COLOUR_BY_LABEL[c])),
        ),
      ),
      h(
        'label',
        null,
        'Axes ',
        [0, 1].map((k) =>
          h(
            'select',
            {
              key: k,
              value: view.axes[k],
              'data-control': `axis${k}`,
              onChange: (e: Event) =>
                setView((v) => {
                  const a: [number, number] = [...v.axes];
                  a[k] = Number((e.target as HTMLSelectElement).value);
                  return a[0] === a[1] ? v : { ...v, axes: a };
                }),
            },
            Array.from({ length: 9 }, (_, i) =>
              h(
                'option',
                { key: i, value: i + 1 },
                `PC ${i + 1}${loaded.run.explainedVarianceRatio ? ` (${Math.round(loaded.run.explainedVarianceRatio[i] * 100)} %)` : ''}`,
              ),
            ),
          ),
        ),
      ),
      h(
        'span',
        { class: 'group' },
        (['pan', 'lasso', 'rectangle'] as BrushMode[]).map((m) =>
          h(
            'button',
            { key: m, class: brushMode === m ? 'on' : '', 'data-brush': m, onClick: () => setBrushMode(m) },
            m === 'pan' ? 'Pan / zoom' : m === 'lasso' ? 'Lasso' : 'Rectangle',
          ),
        ),
      ),
      h(
        'label',
        { class: 'opacity' },
        'Background ',
        h('input', {
          type: 'range',
          min: 0,
          max: 1,
          step: 0.05,
          value: view.surface,
          'data-control': 'surface',
          onInput: (e: Event) =>
            setView((v) => ({ ...v, surface: Number((e.target as HTMLInputElement).value) })),
        }),
      ),
    ),
    h(
      'div',
      { class: 'plot-wrap' },
      h('div', { ref: plotEl, class: 'plot', id: 'latent' }),
      loading ? h('div', { class: 'loading' }, h('div', { class: 'spinner' }), loading) : null,
      hover ? h('div', { class: 'hover' }, hover) : null,
    ),
    h(
      'div',
      { class: 'latent-legends' },
      h(LatentLegend, { legend, urbanised }),
      h(
        'div',
        { class: 'latent-legend' },
        h(GradientLegend, {
          title: 'Background: expected accuracy (smoothed IoU)',
          scale: IOU_SCALE,
          low: 'poor',
          high: 'good',
        }),
      ),
    ),
    h(
      'p',
      { class: 'hint' },
      brushMode === 'pan'
        ? 'Drag to pan, scroll to zoom. Shift-drag draws a lasso; Ctrl adds to the selection.'
        : 'Drag to select; hold Ctrl to add to the selection, Alt to remove from it.',
      nSel
        ? h(
            'span',
            null,
            ` · ${int(nSel)} selected `,
            h('button', { class: 'link', onClick: () => store.clear() }, 'clear'),
          )
        : null,
    ),
  );

  return h(
    'div',
    { class: 'app' },
    header,
    h(
      'main',
      { class: 'grid' },
      mapPanel,
      latentPanel,
      h(
        'aside',
        { class: 'side' },
        h(Inspector, { project, imagery, inspected, onClose: () => setInspected(null) }),
        h(ThresholdPanel, {
          project,
          version: scoreVersion + (job?.status === 'done' ? 1 : 0),
          threshold,
          onThreshold: setThreshold,
        }),
        h(CalibrationPanel, { project, threshold }),
        h(ExportsPanel, { project }),
      ),
      h(
        'section',
        { class: 'bottom' },
        h(Gallery, { project, imagery, data, selection, onInspect: setInspected }),
        h(Histograms, { data, selection }),
        h(ClustersPanel, {
          project,
          clusters: loaded.clusters,
          reason: loaded.urbanisedReason,
          data,
          store,
          activeCluster,
        }),
        h(InsightsPanels, {
          runId: project.runId,
          onSelectPatches: (patches) => store.set({ patches, source: 'cluster' }),
        }),
      ),
    ),
  );
}

export async function start(root: HTMLElement) {
  const initial = fromQuery(location.search, location.pathname);
  try {
    let project: Project;
    if (initial.project === null) {
      const projects = await api.projects();
      if (projects.length === 0) {
        render(
          h(
            'div',
            { class: 'empty' },
            h('h1', null, 'tilelens'),
            h(
              'p',
              null,
              'No project yet. Create one with POST /api/projects (or `npm run demo`), then reload.',
            ),
          ),
          root,
        );
        return;
      }
      initial.project = projects[projects.length - 1].id;
    }
    project = await api.project(initial.project!);
    const [imagery, run, clusters] = await Promise.all([
      api.imagery(),
      api.run(project.runId),
      api.clusters(project.runId),
    ]);
    const img = imagery.find((i) => i.id === project.imageryId);
    if (!img)
      throw new Error(
        `project ${project.id} uses imagery ${project.imageryId}, which the server no longer lists; register it again`,
      );
    const store = createSelectionStore({ patches: initial.patches, tiles: initial.tiles });
    debug.store = store;
    debug.project = project;
    document.title = `tilelens — ${project.name}${initial.mode === 'volunteer' ? ' (volunteer view)' : ''}`;
    render(
      h(App, {
        initial,
        store,
        loaded: {
          project,
          imagery: img,
          run,
          clusters: clusters.clusters,
          urbanisedReason: clusters.urbanisedReason,
        },
      }),
      root,
    );
  } catch (err) {
    render(
      h(
        'div',
        { class: 'empty' },
        h('h1', null, 'tilelens could not start'),
        h('p', { class: 'error' }, (err as Error).message),
      ),
      root,
    );
  }
}
