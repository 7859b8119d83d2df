/**
 * The latent view's drawing surface: regl-scatterplot (WebGL) for the points, a 2-D canvas behind it
 * for the smoothed-IoU surface, and a 2-D outline layer above them for the urbanised clusters. A small imperative
 * API in the regl-scatterplot manner; it talks to the rest of the app only through the selection store.
 */
import createScatterplot from 'regl-scatterplot';
import type { SelectionStore } from '../state/selection.ts';
import { colourOf, IOU_SCALE } from '../data/colour.ts';
import {
  clusterOutlines,
  encodePoints,
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

export type BrushMode = 'pan' | 'lasso' | 'rectangle';

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
  /** Selected point indices as the plot holds them (debug hook for tests). */
  selectedPoints(): number[];
  /** Screen position (relative to the container) of a data-space point on the current view. */
  toScreen(x: number, y: number): [number, number];
  encoding(): PointEncoding | null;
  resize(): void;
  destroy(): void;
}

/** The bit of d3-scale's linear scale regl-scatterplot uses to keep data-space axes in sync with the camera. */
function linearScale(domain: [number, number], range: [number, number] = [0, 1]) {
  let d: [number, number] = [...domain];
  let r: [number, number] = [...range];
  const scale = ((v: number) => r[0] + ((v - d[0]) / (d[1] - d[0])) * (r[1] - r[0])) as ((
    v: number,
  ) => number) & {
    domain(next?: [number, number]): any;
    range(next?: [number, number]): any;
    invert(v: number): number;
    copy(): any;
  };
  scale.domain = (next?: [number, number]) => (next ? ((d = [next[0], next[1]]), scale) : d);
  scale.range = (next?: [number, number]) => (next ? ((r = [next[0], next[1]]), scale) : r);
  scale.invert = (v: number) => d[0] + ((v - r[0]) / (r[1] - r[0])) * (d[1] - d[0]);
  scale.copy = () => linearScale(d, r);
  return scale;
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
  const xScale = linearScale([-1, 1]);
  const yScale = linearScale([-1, 1]);
  let pointOfIdx: (idx: number) => number = () => -1;
  let pointOfTile = new Map<string, number>();
  let selected: number[] = [];

  const { width, height } = container.getBoundingClientRect();
  const scatterplot = createScatterplot({
    canvas,
    width: Math.max(10, width),
    height: Math.max(10, height),
    xScale,
    yScale,
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
    lassoColor: [0.05, 0.35, 0.85, 1],
    lassoMinDelay: 0,
    lassoMinDist: 2,
    actionKeyMap: { lasso: 'shift', merge: 'ctrl', remove: 'alt' },
    deselectOnDblClick: false,
    showReticle: false,
  } as never) as any;

  // Additive brushes are decided here from the pointer event, not left to regl-scatterplot's merge key
  // alone, so the store holds the union whatever the library does with the modifier.
  let additive = false;
  const publishSelection = (points: number[]) => {
    if (!data) return;
    const nT = data.training.n;
    const patches: number[] = [];
    const tiles: string[] = [];
    for (const i of points) {
      if (i < nT) patches.push(patchIdxOf(data, i));
      else if (data.project) {
        const id = taskIdOfPoint(data.project, i - nT);
        if (id) tiles.push(id);
      }
    }
    const next = store.set({ patches, tiles, source: 'latent', mode: additive ? 'add' : 'replace' });
    selected = pointsOf(next);
    if (additive) scatterplot.select(selected, { preventEvent: true });
  };

  scatterplot.subscribe('select', ({ points }: { points: number[] }) => publishSelection([...points]));
  scatterplot.subscribe('deselect', () => {
    // Starting an additive brush on empty background makes regl-scatterplot deselect first; the store keeps its selection.
    if (additive) return;
    selected = [];
    if (!store.isEmpty()) store.clear('latent');
  });
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

  // A click without a drag on a point opens it in the inspector; regl-scatterplot selects it too.
  let down: [number, number] | null = null;
  let travelled = 0;
  canvas.addEventListener('pointerdown', (e) => {
    down = [e.clientX, e.clientY];
    travelled = 0;
    additive = e.ctrlKey || e.metaKey;
  });
  canvas.addEventListener('pointermove', (e) => {
    if (down) travelled = Math.max(travelled, Math.hypot(e.clientX - down[0], e.clientY - down[1]));
  });
  // A lasso closed where it began ends as a "click" at its start; regl-scatterplot would then select the
  // point under it in place of the lasso's points. A press that travelled is a drag, never a click.
  container.addEventListener(
    'click',
    (e) => {
      if (travelled > 3) e.stopPropagation();
    },
    true,
  );
  canvas.addEventListener('pointerup', (e) => {
    if (!down || travelled > 3 || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 3) return;
    setTimeout(() => {
      const hovered = scatterplot.get('hoveredPoint') as number | undefined;
      if (hovered !== undefined && hovered !== null && hovered >= 0) {
        const p = pick(hovered);
        if (p) options.onPick?.(p);
      }
    }, 0);
  });

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

  const unsubscribe = store.subscribe((sel) => {
    if (sel.source === 'latent' || !data) return;
    const points = pointsOf(sel);
    selected = points;
    if (points.length === 0) scatterplot.deselect({ preventEvent: true });
    else scatterplot.select(points, { preventEvent: true });
  });

  /**
   * NDC → screen pixels of the current view. regl-scatterplot's synced scales lag its aspect-ratio
   * projection until the first pan, so the transform is read off two drawn points instead: the one
   * with the smallest and the one with the largest NDC coordinate on each axis.
   */
  let ref: { xa: number; xb: number; ya: number; yb: number } | null = null;
  function screenTransform(): { sx: (v: number) => number; sy: (v: number) => number } | null {
    if (!enc || !ref || enc.x.length < 2) return null;
    const pa = scatterplot.getScreenPosition(ref.xa);
    const pb = scatterplot.getScreenPosition(ref.xb);
    const qa = scatterplot.getScreenPosition(ref.ya);
    const qb = scatterplot.getScreenPosition(ref.yb);
    if (!pa || !pb || !qa || !qb) return null;
    const kx = (pb[0] - pa[0]) / (enc.x[ref.xb] - enc.x[ref.xa] || 1);
    const ky = (qb[1] - qa[1]) / (enc.y[ref.yb] - enc.y[ref.ya] || 1);
    return {
      sx: (v) => pa[0] + (v - enc!.x[ref!.xa]) * kx,
      sy: (v) => qa[1] + (v - enc!.y[ref!.ya]) * ky,
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
    scatterplot.set({ width: Math.max(10, r.width), height: Math.max(10, r.height) });
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
      },
    );
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
      // Data-space scales let regl-scatterplot's programmatic lasso take data coordinates.
      scatterplot.set({ xScale: linearScale(next.xDomain), yScale: linearScale(next.yDomain) });
      enc = encodePoints(next, colourBy);
      findRefs(enc);
      // Cells sized to the data: a few hundred patches on a 96² grid would leave specks, not a surface.
      const cells = Math.round(Math.min(96, Math.max(16, 2 * Math.sqrt(next.training.n))));
      grid = surfaceGrid(next, cells, cells);
      gridImage = renderGridImage(grid);
      outlines = clusterOutlines(next, urbanised);
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
      if (mode === 'pan') {
        scatterplot.set({
          mouseMode: 'panZoom',
          actionKeyMap: { lasso: 'shift', merge: 'ctrl', remove: 'alt' },
        });
      } else {
        scatterplot.set({
          mouseMode: 'lasso',
          lassoType: mode === 'rectangle' ? 'rectangle' : 'freeform',
          actionKeyMap: { lasso: 'shift', merge: 'ctrl', remove: 'alt' },
        });
      }
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
      resizeObserver.disconnect();
      scatterplot.destroy();
      container.replaceChildren();
    },
  };
}
