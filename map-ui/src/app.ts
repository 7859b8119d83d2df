/**
 * The app shell: lays out the panes and panels and wires them to one selection store, the view state
 * (kept in the URL) and the latent data. Manager mode shows every panel; volunteer mode the imagery, the
 * confidence overlay and the footprints, with nothing that changes anything.
 */
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Cluster, Imagery, Project, RunDetail } from './data/api.ts';
import type { LatentData } from './data/latent-data.ts';
import { useLatentData } from './hooks/use-latent-data.ts';
import { useScoringJob } from './hooks/use-scoring-job.ts';
import { useSelection } from './hooks/use-selection.ts';
import { useUrlView } from './hooks/use-url-view.ts';
import { InsightsPanels } from './insights/index.ts';
import { CalibrationPanel } from './panels/calibration.ts';
import { ClustersPanel } from './panels/clusters.ts';
import { Header } from './panels/header.ts';
import { Inspector, type Inspected } from './panels/inspector.ts';
import { LatentPanel } from './panels/latent-panel.ts';
import { MapPanel } from './panels/map-panel.ts';
import { Gallery, Histograms } from './panels/selection-panels.ts';
import { ExportsPanel, ThresholdPanel } from './panels/thresholds.ts';
import type { SelectionStore } from './state/selection.ts';
import { toQuery, type ViewState } from './state/url-state.ts';
import { exposeForTests } from './test-hooks.ts';

export interface Loaded {
  project: Project;
  imagery: Imagery;
  run: RunDetail;
  clusters: Cluster[];
  urbanisedReason: string;
}

/** A link's selection is shown once the points it names exist: published again when new data is drawn. */
function showLinkedSelection(store: SelectionStore) {
  const sel = store.get();
  if (sel.source === 'url' && (sel.patches.length || sel.tiles.length))
    store.set({ patches: sel.patches, tiles: sel.tiles, source: 'url' });
}

export function App(props: { initial: ViewState; loaded: Loaded; store: SelectionStore }) {
  const { loaded, store } = props;
  const { project, imagery } = loaded;
  const volunteer = props.initial.mode === 'volunteer';
  const selection = useSelection(store);
  const [view, setView] = useUrlView(props.initial, selection);
  const scoring = useScoringJob(project);
  const { data, loading } = useLatentData(
    { runId: project.runId, projectId: project.id },
    view.axes,
    scoring.finished,
  );
  const [inspected, setInspected] = useState<Inspected>(null);
  // The "high" tier: the tiles that likely hold buildings; lower it to add the tiles where the model is unsure.
  const [threshold, setThreshold] = useState(0.5);
  const urbanised = loaded.run.urbanised.clusters;

  const shown = (d: LatentData) => {
    showLinkedSelection(store);
    exposeForTests({ latent: d, ready: true });
  };
  useEffect(() => exposeForTests({ ready: false }), [data]);
  // The volunteer view draws no plot: its data is shown once loaded.
  useEffect(() => {
    if (volunteer && data) shown(data);
  }, [data]);

  const header = h(Header, {
    project,
    volunteer,
    trainingTiles: data?.training.n ?? 0,
    job: scoring.job,
    onStartScoring: scoring.start,
    onRetryFailed: scoring.retryFailed,
    volunteerHref: `/?${toQuery({ ...view, mode: 'volunteer', layers: { priority: false, confidence: true, footprints: true }, patches: [], tiles: [] })}`,
  });
  const mapPanel = h(MapPanel, {
    project,
    imagery,
    store,
    view,
    setView,
    data,
    volunteer,
    jobKey: `${scoring.job?.id ?? ''}-${scoring.job?.status ?? ''}`,
    onPickTile: (taskId) => setInspected({ kind: 'tile', taskId }),
  });
  const inspector = h(Inspector, { project, imagery, inspected, onClose: () => setInspected(null) });

  if (volunteer) {
    return h(
      'div',
      { class: 'app volunteer' },
      header,
      h('main', { class: 'volunteer-main' }, mapPanel, h('aside', { class: 'side' }, inspector)),
    );
  }
  return h(
    'div',
    { class: 'app' },
    header,
    h(
      'main',
      { class: 'grid' },
      mapPanel,
      h(LatentPanel, {
        store,
        data,
        loading,
        view,
        setView,
        urbanised,
        explainedVarianceRatio: loaded.run.explainedVarianceRatio,
        selected: selection.patches.length + selection.tiles.length,
        onInspect: setInspected,
        onDrawn: shown,
      }),
      h(
        'aside',
        { class: 'side' },
        inspector,
        h(ThresholdPanel, { project, version: scoring.scoresVersion, threshold, onThreshold: setThreshold }),
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
          activeCluster: selection.brush?.kind === 'cluster' ? selection.brush.cluster : null,
        }),
        h(InsightsPanels, {
          runId: project.runId,
          onSelectPatches: (patches) => store.set({ patches, source: 'cluster' }),
        }),
      ),
    ),
  );
}
