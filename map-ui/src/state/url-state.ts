/**
 * The view in the URL, so a link reproduces it: project, mode, map centre / zoom, overlays, colouring,
 * axes, surface opacity, the project compared with, and the selection as compact ids (patch idx and tile
 * x / y as base-36 deltas). The app reads the address only through `fromQuery`.
 */
import { parseTaskId, taskId } from '../../../server/lib/geo/tiles.ts';
import { COLOUR_BY, type ColourBy } from '../data/latent-data.ts';
import type { OverlayName } from '../map/overlays.ts';

export interface ViewState {
  project: number | null;
  mode: 'manager' | 'volunteer';
  center: [number, number] | null;
  zoom: number | null;
  layers: Record<OverlayName, boolean>;
  colourBy: ColourBy;
  axes: [number, number];
  surface: number;
  /** Another project over the same region: the map draws the change in priority (`?compare=B`). */
  compare: number | null;
  patches: number[];
  tiles: string[];
}

export const DEFAULT_VIEW: ViewState = {
  project: null,
  mode: 'manager',
  center: null,
  zoom: null,
  layers: { priority: true, confidence: false, footprints: true },
  colourBy: 'iou',
  axes: [1, 2],
  surface: 0.6,
  compare: null,
  patches: [],
  tiles: [],
};

/** Sorted non-negative integers as base-36 gaps: 100 neighbouring ids cost ~100 characters. */
export function encodeIds(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  let prev = 0;
  return sorted
    .map((v, i) => {
      const d = i === 0 ? v : v - prev;
      prev = v;
      return d.toString(36);
    })
    .join('.');
}

export function decodeIds(text: string): number[] {
  if (!text) return [];
  let acc = 0;
  return text.split('.').map((part, i) => {
    const d = Number.parseInt(part, 36);
    if (!Number.isFinite(d) || d < 0)
      throw new Error(`"${part}" in the selection is not a base-36 number; the link was cut — copy it again`);
    acc = i === 0 ? d : acc + d;
    return acc;
  });
}

/** Tiles z-x-y of one zoom as "z:" + ids of x·2^z + y, so they share encodeIds' compactness. */
export function encodeTiles(taskIds: string[]): string {
  if (taskIds.length === 0) return '';
  const parsed = taskIds.map(parseTaskId);
  const z = parsed[0].z;
  const n = 2 ** z;
  return `${z}:${encodeIds(parsed.filter((t) => t.z === z).map((t) => t.x * n + t.y))}`;
}

export function decodeTiles(text: string): string[] {
  if (!text) return [];
  const [zText, ids] = text.split(':');
  const z = Number(zText);
  const n = 2 ** z;
  return decodeIds(ids ?? '').map((v) => taskId(z, Math.floor(v / n), v % n));
}

/** Links longer than this are refused by some chat tools; beyond it the selection is left out. */
export const MAX_SELECTION_CHARS = 6000;

export function toQuery(v: ViewState): string {
  const q = new URLSearchParams();
  if (v.project !== null) q.set('project', String(v.project));
  if (v.mode === 'volunteer') q.set('mode', 'volunteer');
  if (v.center && v.zoom !== null)
    q.set('map', `${v.zoom.toFixed(2)}/${v.center[1].toFixed(6)}/${v.center[0].toFixed(6)}`);
  q.set('layers', (Object.keys(v.layers) as OverlayName[]).filter((k) => v.layers[k]).join(',') || 'none');
  if (v.colourBy !== DEFAULT_VIEW.colourBy) q.set('colour', v.colourBy);
  if (v.axes[0] !== 1 || v.axes[1] !== 2) q.set('axes', `${v.axes[0]},${v.axes[1]}`);
  if (v.surface !== DEFAULT_VIEW.surface) q.set('surface', v.surface.toFixed(2));
  if (v.compare !== null) q.set('compare', String(v.compare));
  // Every id costs at least two characters: a larger selection cannot fit, and is not encoded to find out.
  if (2 * (v.patches.length + v.tiles.length) <= MAX_SELECTION_CHARS) {
    const p = encodeIds(v.patches);
    const t = encodeTiles(v.tiles);
    if (p.length + t.length <= MAX_SELECTION_CHARS) {
      if (p) q.set('sp', p);
      if (t) q.set('st', t);
    }
  }
  return q.toString();
}

export function fromQuery(search: string, pathname = '/'): ViewState {
  const q = new URLSearchParams(search);
  const v: ViewState = structuredClone(DEFAULT_VIEW);
  const project = Number(q.get('project'));
  if (Number.isInteger(project) && project > 0) v.project = project;
  if (q.get('mode') === 'volunteer' || pathname.replace(/\/+$/, '').endsWith('/volunteer'))
    v.mode = 'volunteer';
  const map = q.get('map')?.split('/').map(Number);
  if (map && map.length === 3 && map.every(Number.isFinite)) {
    v.zoom = map[0];
    v.center = [map[2], map[1]];
  }
  const layers = q.get('layers');
  if (layers !== null) {
    const on = new Set(layers.split(','));
    v.layers = {
      priority: on.has('priority'),
      confidence: on.has('confidence'),
      footprints: on.has('footprints'),
    };
  } else if (v.mode === 'volunteer') {
    v.layers = { priority: false, confidence: true, footprints: true };
  }
  const colour = q.get('colour');
  if (colour && (COLOUR_BY as readonly string[]).includes(colour)) v.colourBy = colour as ColourBy;
  const axes = q.get('axes')?.split(',').map(Number);
  if (
    axes &&
    axes.length === 2 &&
    axes.every((a) => Number.isInteger(a) && a >= 1 && a <= 9) &&
    axes[0] !== axes[1]
  )
    v.axes = [axes[0], axes[1]];
  const surface = Number(q.get('surface'));
  if (q.has('surface') && surface >= 0 && surface <= 1) v.surface = surface;
  const compare = Number(q.get('compare'));
  if (Number.isInteger(compare) && compare > 0) v.compare = compare;
  try {
    v.patches = decodeIds(q.get('sp') ?? '');
    v.tiles = decodeTiles(q.get('st') ?? '');
  } catch {
    v.patches = [];
    v.tiles = [];
  }
  return v;
}
