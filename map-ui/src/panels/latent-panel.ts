/**
 * The latent pane, "Where the model is at home": the latent plot (views/latent-plot.ts) with its colouring,
 * axes, brushes, background and legends. The plot is drawn from the data it is given and reads and writes
 * the selection store; this pane only wires its controls.
 */
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { IOU_SCALE, NEW_TILE_COLOUR, NULL_COLOUR } from '../data/colour.ts';
import {
  categoryAt,
  COLOUR_BY,
  COLOUR_BY_LABEL,
  taskIdOfPoint,
  trainingPointOfIdx,
  valueAt,
  type ColourBy,
  type LatentData,
  type Legend,
} from '../data/latent-data.ts';
import type { SelectionStore } from '../state/selection.ts';
import type { ViewState } from '../state/url-state.ts';
import { exposeForTests } from '../test-hooks.ts';
import { createLatentPlot, type BrushMode, type LatentPlot } from '../views/latent-plot.ts';
import { GradientLegend, int, Swatch } from './common.ts';
import type { Inspected } from './inspector.ts';

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

/** What the inspector shows of a training patch picked in the plot. */
function inspectedPatch(d: LatentData, idx: number): Inspected {
  const i = trainingPointOfIdx(d)(idx);
  const c = d.training.attributes.columns;
  return {
    kind: 'patch',
    idx,
    iou: c.iou ? valueAt(c.iou, i) : undefined,
    iouHat: c.iouHat ? valueAt(c.iouHat, i) : undefined,
    group: c.group ? categoryAt(c.group, i) : null,
    taskId: taskIdOfPoint(d.training, i),
  };
}

export function LatentPanel(props: {
  store: SelectionStore;
  data: LatentData | null;
  loading: string | null;
  view: ViewState;
  setView: (update: (v: ViewState) => ViewState) => void;
  urbanised: number[];
  explainedVarianceRatio: number[] | null | undefined;
  selected: number;
  onInspect: (inspected: Inspected) => void;
  /** The plot has drawn this data. */
  onDrawn: (data: LatentData) => void;
}) {
  const { view, setView, data } = props;
  const plotEl = useRef<HTMLDivElement>(null);
  const plot = useRef<LatentPlot | null>(null);
  const dataRef = useRef<LatentData | null>(null);
  dataRef.current = data;
  const [legend, setLegend] = useState<Legend | null>(null);
  const [brushMode, setBrushMode] = useState<BrushMode>('pan');
  const [drawing, setDrawing] = useState(false);
  const [hover, setHover] = useState<string | null>(null);

  useEffect(() => {
    if (!plotEl.current) return;
    const p = createLatentPlot({
      container: plotEl.current,
      store: props.store,
      onPick: (pick) => {
        const d = dataRef.current;
        if (pick.kind === 'tile') props.onInspect(pick);
        else if (d) props.onInspect(inspectedPatch(d, pick.idx));
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
    exposeForTests({ plot: p });
    return () => p.destroy();
  }, []);

  useEffect(() => {
    const p = plot.current;
    if (!p || !data) return;
    let live = true;
    setDrawing(true);
    void p.setData(data, view.colourBy, props.urbanised).then(() => {
      if (!live) return;
      setDrawing(false);
      setLegend(p.encoding()?.legend ?? null);
      props.onDrawn(data);
    });
    return () => {
      live = false;
    };
  }, [data]);
  useEffect(() => {
    plot.current?.setColourBy(view.colourBy);
    setLegend(plot.current?.encoding()?.legend ?? null);
  }, [view.colourBy]);
  useEffect(() => plot.current?.setSurfaceOpacity(view.surface), [view.surface, data]);
  useEffect(() => plot.current?.setMode(brushMode), [brushMode]);

  const status =
    props.loading ??
    (drawing && data ? `Drawing ${int(data.training.n + (data.project?.n ?? 0))} points…` : null);
  const evr = props.explainedVarianceRatio;
  return h(
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
                `PC ${i + 1}${evr ? ` (${Math.round(evr[i] * 100)} %)` : ''}`,
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
      status ? h('div', { class: 'loading' }, h('div', { class: 'spinner' }), status) : null,
      hover ? h('div', { class: 'hover' }, hover) : null,
    ),
    h(
      'div',
      { class: 'latent-legends' },
      h(LatentLegend, { legend, urbanised: props.urbanised }),
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
      props.selected
        ? h(
            'span',
            null,
            ` · ${int(props.selected)} selected `,
            h('button', { class: 'link', onClick: () => props.store.clear() }, 'clear'),
          )
        : null,
    ),
  );
}
