/**
 * What the selection holds: IoU histograms of all training tiles against the selected ones, and a
 * virtualised gallery of the selection (image / ground truth / prediction, or one image with the
 * errors coloured), sortable. Both subscribe to the selection store and render only what is visible.
 */
import { h } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type Imagery, type Project } from '../data/api.ts';
import { valueAt } from '../data/columns.ts';
import { categoryAt } from '../data/columns.ts';
import { trainingPointOfIdx, type LatentData } from '../data/latent-data.ts';
import { IOU_SCALE, rgbToHex, sampleScale } from '../data/colour.ts';
import type { Selection } from '../state/selection.ts';
import { int, num, Panel } from './common.ts';
import { parseTaskId } from '../../../server/lib/geo/tiles.ts';
import type { Inspected } from './inspector.ts';

const BINS = 10;

/** Shares of IoU per bin (0..1 in 10 bins) and the count of undefined IoU. */
export function iouHistogram(
  data: LatentData,
  points: Iterable<number> | null,
): { shares: number[]; counts: number[]; undefinedCount: number; total: number } {
  const col = data.training.attributes.columns.iou;
  const counts = new Array(BINS).fill(0);
  let undefinedCount = 0;
  let total = 0;
  const add = (i: number) => {
    total++;
    const v = col ? valueAt(col, i) : Number.NaN;
    if (!Number.isFinite(v)) undefinedCount++;
    else counts[Math.min(BINS - 1, Math.floor(v * BINS))]++;
  };
  if (points === null) for (let i = 0; i < data.training.n; i++) add(i);
  else for (const i of points) add(i);
  const defined = total - undefinedCount;
  return { counts, shares: counts.map((c) => (defined > 0 ? c / defined : 0)), undefinedCount, total };
}

export function Histograms(props: { data: LatentData | null; selection: Selection }) {
  const { data, selection } = props;
  const all = useMemo(() => (data ? iouHistogram(data, null) : null), [data]);
  const sel = useMemo(() => {
    if (!data || selection.patches.length === 0) return null;
    const pointOf = trainingPointOfIdx(data);
    return iouHistogram(
      data,
      [...selection.patches].map(pointOf).filter((i) => i >= 0),
    );
  }, [data, selection.version]);
  if (!data || !all)
    return h(
      Panel,
      { title: 'Model accuracy (IoU): all vs selected' },
      h('p', { class: 'muted' }, 'Loading…'),
    );
  const W = 300;
  const H = 110;
  const bw = W / BINS;
  const max = Math.max(...all.shares, ...(sel?.shares ?? [0]), 0.01);
  return h(
    Panel,
    {
      title: 'Model accuracy (IoU): all vs selected',
      id: 'histograms',
      subtitle: 'Share of training tiles per IoU range. Grey: all; orange: the selection.',
    },
    h(
      'svg',
      {
        class: 'histogram',
        width: W,
        height: H + 18,
        viewBox: `0 0 ${W} ${H + 18}`,
        role: 'img',
        'aria-label': 'IoU histogram',
      },
      all.shares.map((s, k) =>
        h('rect', {
          key: `a${k}`,
          x: k * bw + 1,
          y: H - (s / max) * H,
          width: bw - 2,
          height: (s / max) * H,
          fill: '#c9c9c9',
        }),
      ),
      sel
        ? sel.shares.map((s, k) =>
            h('rect', {
              key: `s${k}`,
              x: k * bw + bw * 0.25,
              y: H - (s / max) * H,
              width: bw * 0.5,
              height: (s / max) * H,
              fill: '#f57c00',
            }),
          )
        : null,
      [0, 0.5, 1].map((t) =>
        h(
          'text',
          {
            key: t,
            x: Math.min(W - 10, Math.max(8, t * W)),
            y: H + 14,
            'text-anchor': 'middle',
            class: 'axis',
          },
          String(t),
        ),
      ),
    ),
    h(
      'p',
      { class: 'small muted' },
      `All: ${int(all.total)} tiles, ${int(all.undefinedCount)} with no building in label or prediction (IoU undefined).`,
      sel
        ? ` Selected: ${int(sel.total)}, ${int(sel.undefinedCount)} undefined.`
        : ' Brush points or draw on the map to compare.',
    ),
  );
}

type Item =
  | { kind: 'patch'; idx: number; point: number; iou: number; iouHat: number; label: string }
  | { kind: 'tile'; taskId: string };
type SortKey = 'iou-asc' | 'iou-desc' | 'conf-asc' | 'order';

/** One image with true positives, false positives and misses coloured, computed from the mask and prediction PNGs. */
function ErrorOverlay(props: { runId: number; idx: number; size: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    let live = true;
    const load = (kind: 'image' | 'mask' | 'prediction') =>
      new Promise<HTMLImageElement>((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = () => reject(new Error(`${kind} of patch ${props.idx} did not load`));
        img.src = api.patchImage(props.runId, props.idx, kind);
      });
    Promise.all([load('image'), load('mask'), load('prediction')]).then(
      ([image, mask, pred]) => {
        const canvas = ref.current;
        if (!live || !canvas) return;
        const s = props.size;
        const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
        const read = (img: HTMLImageElement) => {
          ctx.drawImage(img, 0, 0, s, s);
          return ctx.getImageData(0, 0, s, s).data;
        };
        const m = read(mask);
        const p = read(pred);
        ctx.drawImage(image, 0, 0, s, s);
        const out = ctx.getImageData(0, 0, s, s);
        for (let k = 0; k < s * s; k++) {
          const gt = m[k * 4] >= 128;
          const pr = p[k * 4] >= 128;
          const c = gt && pr ? [46, 204, 64] : pr ? [255, 65, 54] : gt ? [0, 116, 217] : null;
          if (!c) continue;
          for (let j = 0; j < 3; j++) out.data[k * 4 + j] = out.data[k * 4 + j] * 0.35 + c[j] * 0.65;
        }
        ctx.putImageData(out, 0, 0);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [props.runId, props.idx]);
  return h('canvas', { ref, width: props.size, height: props.size, class: 'error-overlay' });
}

const ROW = 104;

export function Gallery(props: {
  project: Project;
  imagery: Imagery;
  data: LatentData | null;
  selection: Selection;
  onInspect: (i: Inspected) => void;
}) {
  const { project, imagery, data, selection } = props;
  const [sort, setSort] = useState<SortKey>('iou-asc');
  const [errors, setErrors] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  const items: Item[] = useMemo(() => {
    if (!data) return [];
    const pointOf = trainingPointOfIdx(data);
    const iou = data.training.attributes.columns.iou;
    const iouHat = data.training.attributes.columns.iouHat;
    const group = data.training.attributes.columns.group;
    const patches: Item[] = [];
    for (const idx of selection.patches) {
      const i = pointOf(idx);
      if (i < 0) continue;
      patches.push({
        kind: 'patch',
        idx,
        point: i,
        iou: iou ? valueAt(iou, i) : Number.NaN,
        iouHat: iouHat ? valueAt(iouHat, i) : Number.NaN,
        label: group ? (categoryAt(group, i) ?? '') : '',
      });
    }
    const key = (v: number, asc: boolean) => (Number.isFinite(v) ? (asc ? v : -v) : Number.POSITIVE_INFINITY);
    if (sort === 'iou-asc') patches.sort((a, b) => key((a as any).iou, true) - key((b as any).iou, true));
    if (sort === 'iou-desc') patches.sort((a, b) => key((a as any).iou, false) - key((b as any).iou, false));
    if (sort === 'conf-asc')
      patches.sort((a, b) => key((a as any).iouHat, true) - key((b as any).iouHat, true));
    return [...patches, ...selection.tiles.map((taskId) => ({ kind: 'tile' as const, taskId }))];
  }, [data, selection.version, sort]);
  useEffect(() => setScrollTop(0), [selection.version]);

  const height = 330;
  const first = Math.max(0, Math.floor(scrollTop / ROW) - 2);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / ROW) + 2);
  const rows = items.slice(first, last).map((it, k) => {
    const top = (first + k) * ROW;
    if (it.kind === 'patch') {
      const caption = `${it.label} · IoU ${Number.isFinite(it.iou) ? num(it.iou) : 'undefined'} · confidence ${num(it.iouHat)}`;
      const colour = Number.isFinite(it.iou) ? rgbToHex(sampleScale(IOU_SCALE, it.iou)) : '#9a9a9a';
      return h(
        'div',
        {
          key: `p${it.idx}`,
          class: 'gallery-row',
          style: { top: `${top}px`, borderLeftColor: colour },
          onClick: () =>
            props.onInspect({ kind: 'patch', idx: it.idx, iou: it.iou, iouHat: it.iouHat, group: it.label }),
        },
        errors
          ? h(
              'div',
              { class: 'triplet-row' },
              h(ErrorOverlay, { runId: project.runId, idx: it.idx, size: 84 }),
            )
          : h(
              'div',
              { class: 'triplet-row' },
              (['image', 'mask', 'prediction'] as const).map((kind) =>
                h('img', {
                  key: kind,
                  src: api.patchImage(project.runId, it.idx, kind),
                  width: 84,
                  height: 84,
                  loading: 'lazy',
                  alt: kind,
                }),
              ),
            ),
        h('div', { class: 'gallery-caption' }, caption),
      );
    }
    const t = parseTaskId(it.taskId);
    return h(
      'div',
      {
        key: it.taskId,
        class: 'gallery-row new',
        style: { top: `${top}px` },
        onClick: () => props.onInspect({ kind: 'tile', taskId: it.taskId }),
      },
      h(
        'div',
        { class: 'triplet-row' },
        h('img', {
          src: api.tileImage(imagery.id, t.z, t.x, t.y),
          width: 84,
          height: 84,
          loading: 'lazy',
          alt: it.taskId,
        }),
      ),
      h('div', { class: 'gallery-caption' }, `new region · ${it.taskId}`),
    );
  });
  return h(
    Panel,
    {
      title: `Selected tiles (${int(items.length)})`,
      id: 'gallery',
      actions: h(
        'span',
        { class: 'row' },
        h(
          'select',
          {
            value: sort,
            onChange: (e: Event) => setSort((e.target as HTMLSelectElement).value as SortKey),
            'aria-label': 'Sort the gallery',
          },
          h('option', { value: 'iou-asc' }, 'worst IoU first'),
          h('option', { value: 'iou-desc' }, 'best IoU first'),
          h('option', { value: 'conf-asc' }, 'least confident first'),
          h('option', { value: 'order' }, 'in id order'),
        ),
        h(
          'label',
          { class: 'check' },
          h('input', {
            type: 'checkbox',
            checked: errors,
            onChange: (e: Event) => setErrors((e.target as HTMLInputElement).checked),
          }),
          'errors',
        ),
      ),
    },
    errors
      ? h(
          'p',
          { class: 'small legend-inline' },
          h('span', { class: 'dot', style: { background: '#2ecc40' } }),
          'found ',
          h('span', { class: 'dot', style: { background: '#ff4136' } }),
          'false alarm ',
          h('span', { class: 'dot', style: { background: '#0074d9' } }),
          'missed',
        )
      : h('p', { class: 'small muted' }, 'Each row: imagery · ground truth · prediction. Click to inspect.'),
    items.length === 0
      ? h(
          'p',
          { class: 'muted' },
          'Nothing selected yet. Drag a lasso or rectangle in the latent view, draw on the map, or click a cluster.',
        )
      : h(
          'div',
          {
            class: 'gallery',
            style: { height: `${height}px` },
            onScroll: (e: Event) => setScrollTop((e.target as HTMLElement).scrollTop),
          },
          h('div', { style: { height: `${items.length * ROW}px`, position: 'relative' } }, rows),
        ),
  );
}
