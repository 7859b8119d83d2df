/**
 * The latent view's drawing surface: regl-scatterplot (WebGL) for the points, a 2-D canvas behind it
 * for the smoothed-IoU surface, a 2-D outline layer above them for the urbanised clusters, and the
 * brushes (views/latent-brush.ts) answered off the main thread (views/point-selector.ts). A small
 * imperative API in the regl-scatterplot manner; it talks to the rest of the app only through the
 * selection store.
 */
import createScatterplot from 'regl-scatterplot';
import type { SelectionStore } from '../state/selection.ts';
import { colourOf, IOU_SCALE } from '../data/colour.ts';
import {
  clusterOutlines,
  encodePoints,
  fromNdc,
  patchIdxOf,
  taskIdOfPoint,
  toNdc,
  trainingPointOfIdx,
  surfaceGrid,
  type ColourBy,
  type LatentData,
  type PointEncoding,
  type SurfaceGrid,
} from '../data/latent-data.ts';
import { createLatentBrush, type BrushEnd, type BrushMode, type BrushOp } from './latent-brush.ts';
import { createPointSelector } from './point-selector.ts';

export type { BrushMode };

export interface LatentPlotOptions {
  container: HTMLElement;
  store: SelectionStore;
  /** A click on one point: training patch idx or new-region task id. */
  onPick?: (pick: { kind: 'patch'; idx: number } | { kind: 'tile'; taskId: string }) => void;
  onHover?: (pick: { kind: 'patch'; idx: number } | { kind: 'tile'; taskId: string } | null) => void;
}

export interface LatentPlot {
  setData(data: LatentData, colourBy: ColourBy, urbanised: number[]): Promise<void>;
  setColourBy(colourBy: ColourBy): void;
  setSurfaceOpacity(opacity: number): void;
  setMode(mode: BrushMode): void;
  /** Selected point indices as the plot holds them (what the end-to-end test compares). */
  selectedPoints(): number[];
  /** Screen position (relative to the container) of a data-space point on the current view. */
  toScreen(x: number, y: number): [number, number];
  encoding(): PointEncoding | null;
  resize(): void;
  destroy(): void;
}

/**
 * Point size in CSS pixels for n points: a few hundred points must read as dots, a million must not
 * merge into one blob, so the size falls with the logarithm of the count.
 */
export function pointSizeFor(n: number): number {
  return Math.min(9, Math.max(2, 9 - 1.5 * Math.log10(Math.max(1, n) / 100)));
}

/** Opacity for n points: opaque up to 10k, then lighter so dense regions still show their structure. */
export function pointOpacityFor(n: number): number {
  return n <= 10_000 ? 1 : Math.max(0.35, 1 - 0.2 * Math.log10(n / 10_000));
}

/**
 * The palette's pale middle (IoU ≈ 0.5) is near white and vanishes on the plot's white ground; such
 * colours are darkened, hue kept, until their luminance is at most 0.6.
 */
export function legiblePointColour(hex: string): string {
  const m = /^#([0-9a-f]{6})$/i.exec(hex);
  if (!m) return hex;
  const v = parseInt(m[1], 16);
  const rgb = [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  const lum = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255;
  if (lum <= 0.6) return hex;
  const k = 0.6 / lum;
  return `#${rgb
    .map((c) =>
      Math.round(c * k)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

export function createLatentPlot(options: LatentPlotOptions): LatentPlot {
  const { container, store } = options;
  container.classList.add('latent-plot');
  const surface = document.createElement('canvas');
  surface.className = 'latent-surface';
  const canvas = document.createElement('canvas');
  canvas.className = 'latent-points';
  // Outlines live on their own 2-D layer above the points, placed with the very transform read off the
  // drawn points, so they cannot drift from them whatever the camera or aspect ratio does.
  const overlay = document.createElement('canvas');
  overlay.className = 'latent-outlines';
  container.append(surface, canvas, overlay);

  let data: LatentData | null = null;
  let enc: PointEncoding | null = null;
  let grid: SurfaceGrid | null = null;
  let gridImage: HTMLCanvasElement | null = null;
  let surfaceOpacity = 0.45;
  let pointOfIdx: (idx: number) => number = () => -1;
  let pointOfTile = new Map<string, number>();
  let selected: number[] = [];
  /** The points' k-d tree from the brush worker, for regl-scatterplot's hover and click. */
  let spatialIndex: ArrayBuffer | undefined;
  /** Whether regl-scatterplot holds the current points: until then it can place none of them on screen. */
  let pointsDrawn = false;

  const { width, height } = container.getBoundingClientRect();
  const scatterplot = createScatterplot({
    canvas,
    width: Math.max(10, width),
    height: Math.max(10, height),
    backgroundColor: [0, 0, 0, 0],
    pointSize: [6, 10],
    sizeBy: 'valueB',
    colorBy: 'valueA',
    // Unselected points stay readable as context (dimmed, not hidden) while a selection exists.
    opacityInactiveScale: 0.75,
    opacityInactiveMax: 0.55,
    pointColorActive: [0.96, 0.49, 0, 1],
    pointSizeSelected: 14,
    pointOutlineWidth: 2,
    // Selection is the brush's (latent-brush.ts): regl-scatterplot pans, zooms and hovers only.
    mouseMode: 'panZoom',
    actionKeyMap: {},
    deselectOnDblClick: false,
    showReticle: false,
  } as never) as any;

  // Brushes: a ring of screen pixels → the NDC the points are drawn in → the worker's grid → the store.
  const selector = createPointSelector();
  /** Publishes point indices (ascending) as patches and tiles. */
  const publish = (points: Uint32Array, op: BrushOp, brush?: BrushEnd) => {
    if (!data) return;
    const nT = data.training.n;
    let k = 0;
    while (k < points.length && points[k] < nT) k++;
    // Point i is patch i unless the run's idx have gaps: then its idx column says.
    const patches = data.training.attributes.columns.idx
      ? Array.from(points.subarray(0, k), (i) => patchIdxOf(data!, i))
      : points.subarray(0, k);
    const tiles: string[] = [];
    if (data.project)
      for (let j = k; j < points.length; j++) {
        const id = taskIdOfPoint(data.project, points[j] - nT);
        if (id) tiles.push(id);
      }
    const d = data;
    const t = screenTransform();
    store.set({
      patches,
      tiles,
      source: 'latent',
      mode: op,
      brush:
        brush && t
          ? {
              kind: brush.kind,
              space: 'latent',
              coordinates: pairs(brush.ring).map(([x, y]) => [
                fromNdc(t.fromX(x), d.xDomain),
                fromNdc(t.fromY(y), d.yDomain),
              ]),
            }
          : null,
    });
  };
  const brush = createLatentBrush(
    container,
    (b) => {
      const t = screenTransform();
      if (!t) return;
      const ring = new Float64Array(b.ring.length);
      for (let v = 0; v < ring.length; v += 2) {
        ring[v] = t.fromX(b.ring[v]);
        ring[v + 1] = t.fromY(b.ring[v + 1]);
      }
      const current = data;
      void selector.select(ring).then((points) => {
        // Points of a data set replaced while the brush was answered mean nothing any more.
        if (data === current) publish(points, b.op, b);
      });
    },
    (_e, op) => {
      // A click on a point selects it and opens it; on empty ground it does nothing.
      const hovered = scatterplot.get('hoveredPoint') as number | undefined;
      if (hovered === undefined || hovered === null || hovered < 0) return;
      publish(Uint32Array.of(hovered), op);
      const p = pick(hovered);
      if (p) options.onPick?.(p);
    },
  );

  // The 2-D layers follow every frame regl-scatterplot draws, not only 'view' events: a resize changes
  // its aspect ratio a frame later without one, and layers drawn earlier would sit off the points.
  let overlayFrame = 0;
  const redrawLayers = () => {
    if (overlayFrame) return;
    overlayFrame = requestAnimationFrame(() => {
      overlayFrame = 0;
      drawSurface();
      drawOutlines();
    });
  };
  scatterplot.subscribe('view', redrawLayers);
  scatterplot.subscribe('draw', redrawLayers);
  const pick = (i: number) => {
    if (!data) return null;
    if (i < data.training.n) return { kind: 'patch' as const, idx: patchIdxOf(data, i) };
    const id = data.project ? taskIdOfPoint(data.project, i - data.training.n) : null;
    return id ? { kind: 'tile' as const, taskId: id } : null;
  };
  scatterplot.subscribe('pointOver', (i: number) => options.onHover?.(pick(i)));
  scatterplot.subscribe('pointOut', () => options.onHover?.(null));

  function pointsOf(sel: { patches: Uint32Array; tiles: readonly string[] }): number[] {
    const points: number[] = [];
    for (const idx of sel.patches) {
      const i = pointOfIdx(idx);
      if (i >= 0) points.push(i);
    }
    for (const t of sel.tiles) {
      const i = pointOfTile.get(t);
      if (i !== undefined) points.push(i);
    }
    return points;
  }

  // Every selection, the plot's own included, is drawn from the store: one path, whoever brushed.
  const unsubscribe = store.subscribe((sel) => {
    if (!data) return;
    const points = pointsOf(sel);
    selected = points;
    if (points.length === 0) scatterplot.deselect({ preventEvent: true });
    else scatterplot.select(points, { preventEvent: true });
  });

  /**
   * NDC ↔ screen pixels of the current view. regl-scatterplot's camera is read off two drawn points: the
   * one with the smallest and the one with the largest NDC coordinate on each axis.
   */
  let ref: { xa: number; xb: number; ya: number; yb: number } | null = null;
  function screenTransform() {
    if (!pointsDrawn || !enc || !ref || enc.x.length < 2) return null;
    const e = enc;
    const r = ref;
    const pa = scatterplot.getScreenPosition(r.xa);
    const pb = scatterplot.getScreenPosition(r.xb);
    const qa = scatterplot.getScreenPosition(r.ya);
    const qb = scatterplot.getScreenPosition(r.yb);
    if (!pa || !pb || !qa || !qb) return null;
    const kx = (pb[0] - pa[0]) / (e.x[r.xb] - e.x[r.xa] || 1);
    const ky = (qb[1] - qa[1]) / (e.y[r.yb] - e.y[r.ya] || 1);
    return {
      sx: (v: number) => pa[0] + (v - e.x[r.xa]) * kx,
      sy: (v: number) => qa[1] + (v - e.y[r.ya]) * ky,
      fromX: (px: number) => e.x[r.xa] + (px - pa[0]) / kx,
      fromY: (py: number) => e.y[r.ya] + (py - qa[1]) / ky,
    };
  }
  function findRefs(e: PointEncoding) {
    let xa = 0,
      xb = 0,
      ya = 0,
      yb = 0;
    for (let i = 1; i < e.x.length; i++) {
      if (e.x[i] < e.x[xa]) xa = i;
      if (e.x[i] > e.x[xb]) xb = i;
      if (e.y[i] < e.y[ya]) ya = i;
      if (e.y[i] > e.y[yb]) yb = i;
    }
    ref = { xa, xb, ya, yb };
  }

  function drawSurface() {
    const ctx = surface.getContext('2d');
    if (!ctx) return;
    const w = surface.width;
    const h = surface.height;
    ctx.clearRect(0, 0, w, h);
    if (!grid || !gridImage || surfaceOpacity <= 0) return;
    const t = screenTransform();
    if (!t) return;
    const dpr = w / Math.max(1, surface.clientWidth);
    // The grid spans the data domain, which is NDC −1..1 by construction.
    const x0 = t.sx(-1) * dpr;
    const x1 = t.sx(1) * dpr;
    const y0 = t.sy(1) * dpr;
    const y1 = t.sy(-1) * dpr;
    ctx.globalAlpha = surfaceOpacity;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(gridImage, x0, y0, x1 - x0, y1 - y0);
    ctx.globalAlpha = 1;
  }

  function renderGridImage(g: SurfaceGrid): HTMLCanvasElement {
    const img = document.createElement('canvas');
    img.width = g.cols;
    img.height = g.rows;
    const ctx = img.getContext('2d')!;
    const pixels = ctx.createImageData(g.cols, g.rows);
    for (let k = 0; k < g.mean.length; k++) {
      const v = g.mean[k];
      if (!Number.isFinite(v)) continue;
      const [r, gg, b] = colourOf(IOU_SCALE, v);
      pixels.data[k * 4] = r;
      pixels.data[k * 4 + 1] = gg;
      pixels.data[k * 4 + 2] = b;
      pixels.data[k * 4 + 3] = Math.round(255 * g.support[k]);
    }
    ctx.putImageData(pixels, 0, 0);
    return img;
  }

  function sizeCanvases() {
    const r = container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    surface.width = Math.max(1, Math.round(r.width * dpr));
    surface.height = Math.max(1, Math.round(r.height * dpr));
    surface.style.width = `${r.width}px`;
    surface.style.height = `${r.height}px`;
    overlay.width = surface.width;
    overlay.height = surface.height;
    const width = Math.max(10, r.width);
    const height = Math.max(10, r.height);
    // Setting the same size still redraws every point: a million of them cost a frame.
    if (scatterplot.get('width') !== width || scatterplot.get('height') !== height)
      scatterplot.set({ width, height });
  }

  let outlines: ReturnType<typeof clusterOutlines> = [];
  function drawOutlines() {
    const ctx = overlay.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (!data || outlines.length === 0) return;
    const t = screenTransform();
    if (!t) return;
    const d = data;
    const dpr = overlay.width / Math.max(1, overlay.clientWidth);
    ctx.save();
    ctx.scale(dpr, dpr);
    ctx.lineJoin = 'round';
    for (const o of outlines) {
      if (o.hull.length < 3) continue;
      ctx.beginPath();
      o.hull.forEach(([x, y], k) => {
        const px = t.sx(toNdc(x, d.xDomain));
        const py = t.sy(toNdc(y, d.yDomain));
        if (k === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      });
      ctx.closePath();
      // A white halo under the dark line keeps it legible over dark points and the surface alike.
      ctx.strokeStyle = 'rgba(255,255,255,0.9)';
      ctx.lineWidth = 5;
      ctx.stroke();
      ctx.strokeStyle = 'rgba(20,20,20,0.9)';
      ctx.setLineDash([7, 4]);
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.restore();
  }

  async function draw(transition: boolean) {
    if (!data || !enc) return;
    pointsDrawn = false;
    const n = enc.x.length;
    const size = pointSizeFor(n);
    const base = enc.palette.map(legiblePointColour);
    // regl-scatterplot takes per-category active colours only when base, active and hover palettes are
    // the same length; otherwise it silently draws selected points in their own colour.
    scatterplot.set({
      pointColor: base,
      pointColorActive: base.map(() => '#f57c00'),
      pointColorHover: base,
      pointSize: [size, size * 1.6],
      // An absolute size, not an increment: selected points are drawn well above the largest dot.
      pointSizeSelected: size + 3,
      opacity: pointOpacityFor(n),
    });
    await scatterplot.draw(
      { x: enc.x, y: enc.y, valueA: enc.valueA, valueB: enc.valueB },
      {
        zDataType: 'categorical',
        wDataType: 'categorical',
        transition,
        select: selected.length ? selected : undefined,
        spatialIndex,
      },
    );
    pointsDrawn = true;
  }

  const resizeObserver = new ResizeObserver(() => {
    sizeCanvases();
    drawSurface();
    drawOutlines();
  });
  resizeObserver.observe(container);
  sizeCanvases();

  return {
    async setData(next, colourBy, urbanised) {
      const sameCount =
        data !== null &&
        data.training.n === next.training.n &&
        (data.project?.n ?? 0) === (next.project?.n ?? 0);
      data = next;
      pointOfIdx = trainingPointOfIdx(next);
      pointOfTile = new Map();
      if (next.project)
        for (let j = 0; j < next.project.n; j++)
          pointOfTile.set(taskIdOfPoint(next.project, j)!, next.training.n + j);
      // The selection as these points number it (a finished scoring job may have added tiles).
      selected = pointsOf(store.get());
      enc = encodePoints(next, colourBy);
      const tree = selector.setPoints(enc.x, enc.y);
      findRefs(enc);
      // Cells sized to the data: a few hundred patches on a 96² grid would leave specks, not a surface.
      const cells = Math.round(Math.min(96, Math.max(16, 2 * Math.sqrt(next.training.n))));
      grid = surfaceGrid(next, cells, cells);
      gridImage = renderGridImage(grid);
      outlines = clusterOutlines(next, urbanised);
      const index = await tree;
      // Newer data arrived while the worker indexed these points: theirs is the draw that counts.
      if (data !== next) return;
      spatialIndex = index;
      await draw(sameCount);
      drawSurface();
      drawOutlines();
    },
    setColourBy(colourBy) {
      if (!data) return;
      enc = encodePoints(data, colourBy);
      void draw(false).then(() => drawOutlines());
    },
    setSurfaceOpacity(opacity) {
      surfaceOpacity = opacity;
      drawSurface();
    },
    setMode(mode) {
      brush.setMode(mode);
    },
    selectedPoints: () => [...selected],
    toScreen: (x, y) => {
      const t = screenTransform();
      if (!t || !data) return [Number.NaN, Number.NaN];
      return [t.sx(toNdc(x, data.xDomain)), t.sy(toNdc(y, data.yDomain))];
    },
    encoding: () => enc,
    resize() {
      sizeCanvases();
      drawSurface();
      drawOutlines();
    },
    destroy() {
      cancelAnimationFrame(overlayFrame);
      unsubscribe();
      brush.destroy();
      selector.destroy();
      resizeObserver.disconnect();
      scatterplot.destroy();
      container.replaceChildren();
    },
  };
}

function pairs(ring: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let v = 0; v < ring.length; v += 2) out.push([ring[v], ring[v + 1]]);
  return out;
}
