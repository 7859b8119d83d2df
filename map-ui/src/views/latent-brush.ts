/**
 * The latent view's brushes: a freeform lasso or a rectangle dragged over the plot, drawn on a layer of
 * their own and handed over as a ring of screen pixels. regl-scatterplot keeps panning, zooming and
 * hovering, but never selects: a drag that is a brush is taken from it before its own handlers see it, so
 * every selection goes through the one path (the brush worker, then the selection store).
 */

export type BrushMode = 'pan' | 'lasso' | 'rectangle';
export type BrushKind = 'lasso' | 'rectangle';
/** What a brush does to the selection: Ctrl (⌘) adds, Alt removes. */
export type BrushOp = 'replace' | 'add' | 'remove';

export interface BrushEnd {
  kind: BrushKind;
  op: BrushOp;
  /** Vertices in CSS pixels relative to the container, [x0, y0, x1, y1, …], not closed. */
  ring: number[];
}

export interface LatentBrush {
  setMode(mode: BrushMode): void;
  /** Whether the last press travelled (a drag, not a click). */
  dragged(): boolean;
  destroy(): void;
}

/** A lasso gains a vertex once the pointer moved this far (CSS px); a press that moves less is a click. */
const MIN_STEP = 2;
const CLICK_SLOP = 3;

export function createLatentBrush(
  container: HTMLElement,
  onEnd: (brush: BrushEnd) => void,
  onClick: (e: MouseEvent, op: BrushOp) => void,
): LatentBrush {
  const layer = document.createElement('canvas');
  layer.className = 'latent-brush';
  container.append(layer);

  let mode: BrushMode = 'pan';
  let active: { kind: BrushKind; op: BrushOp; ring: number[] } | null = null;
  let down: [number, number] | null = null;
  let travelled = 0;

  const opOf = (e: MouseEvent): BrushOp => (e.ctrlKey || e.metaKey ? 'add' : e.altKey ? 'remove' : 'replace');
  const local = (e: MouseEvent): [number, number] => {
    const r = container.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  function draw() {
    const r = container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    if (layer.width !== Math.round(r.width * dpr) || layer.height !== Math.round(r.height * dpr)) {
      layer.width = Math.round(r.width * dpr);
      layer.height = Math.round(r.height * dpr);
    }
    const ctx = layer.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, layer.width, layer.height);
    if (!active || active.ring.length < 4) return;
    ctx.scale(dpr, dpr);
    ctx.beginPath();
    for (let v = 0; v < active.ring.length; v += 2) {
      if (v === 0) ctx.moveTo(active.ring[0], active.ring[1]);
      else ctx.lineTo(active.ring[v], active.ring[v + 1]);
    }
    ctx.closePath();
    ctx.fillStyle = 'rgba(13, 89, 217, 0.08)';
    ctx.fill();
    ctx.strokeStyle = 'rgba(13, 89, 217, 1)';
    ctx.lineWidth = 2;
    ctx.stroke();
  }

  const onDown = (e: MouseEvent) => {
    if (e.button !== 0) return;
    down = [e.clientX, e.clientY];
    travelled = 0;
    if (mode === 'pan' && !e.shiftKey) return;
    // Taken from regl-scatterplot (its handlers sit on the canvas below): no pan, no lasso of its own.
    e.stopPropagation();
    e.preventDefault();
    const [x, y] = local(e);
    active = { kind: mode === 'rectangle' ? 'rectangle' : 'lasso', op: opOf(e), ring: [x, y] };
  };
  const onMove = (e: MouseEvent) => {
    if (down) travelled = Math.max(travelled, Math.hypot(e.clientX - down[0], e.clientY - down[1]));
    if (!active) return;
    // Nobody else hears the brush's moves: regl-scatterplot would hover (and redraw every point) at each.
    e.stopPropagation();
    const [x, y] = local(e);
    if (active.kind === 'rectangle') {
      const [x0, y0] = active.ring;
      active.ring = [x0, y0, x, y0, x, y, x0, y];
    } else {
      const n = active.ring.length;
      if (Math.hypot(x - active.ring[n - 2], y - active.ring[n - 1]) < MIN_STEP) return;
      active.ring.push(x, y);
    }
    draw();
  };
  const onUp = (e: MouseEvent) => {
    if (!active) return;
    e.stopPropagation();
    const brush = active;
    active = null;
    draw();
    if (travelled <= CLICK_SLOP) return;
    const [x, y] = local(e);
    if (brush.kind === 'rectangle') {
      const [x0, y0] = brush.ring;
      brush.ring = [x0, y0, x, y0, x, y, x0, y];
    } else brush.ring.push(x, y);
    if (brush.ring.length >= 6) onEnd(brush);
  };
  // A press that did not travel is a click, whatever the mode; one that did is never a click.
  const onClickCapture = (e: MouseEvent) => {
    e.stopPropagation();
    if (travelled <= CLICK_SLOP) onClick(e, opOf(e));
  };

  container.addEventListener('mousedown', onDown, true);
  container.addEventListener('click', onClickCapture, true);
  // Capture on window runs before every other listener of the page, regl-scatterplot's included.
  window.addEventListener('mousemove', onMove, true);
  window.addEventListener('mouseup', onUp, true);

  return {
    setMode(next) {
      mode = next;
      container.style.cursor = next === 'pan' ? '' : 'crosshair';
    },
    dragged: () => travelled > CLICK_SLOP,
    destroy() {
      container.removeEventListener('mousedown', onDown, true);
      container.removeEventListener('click', onClickCapture, true);
      window.removeEventListener('mousemove', onMove, true);
      window.removeEventListener('mouseup', onUp, true);
      layer.remove();
    },
  };
}
