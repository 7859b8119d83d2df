/**
 * One imagery offset over many patches is one finding. Each patch's evidence pass sees only itself, so an
 * offset that covers a neighbourhood comes out as an area offset in every patch of it; neighbouring patches
 * whose shifts agree are merged here into one finding — the area they cover, one shift, every footprint that
 * fits it counted once — so a mapper is asked once to check the imagery offset, not once per tile.
 *
 * Neighbours: map tiles of one zoom that touch (sides or corners), or windows of one image that touch or
 * overlap. Agreement: shifts within `agreeMetres` where both are in metres, else within `agreePixels`.
 */
import { parseWindowKey } from '../datasets/cut.ts';
import type { DatabaseHandle } from '../db/client.ts';
import {
  listAreaOffsets,
  writeAreaOffsetMerges,
  type AreaOffsetShift,
  type StoredAreaOffset,
} from '../db/label-objects-repo.ts';

/** A finding to merge: a stored area offset, with the caller's id in place of its row's key. */
export type AreaOffsetItem = Omit<StoredAreaOffset, 'idx' | 'n'> & { id: number };

export interface MergedAreaOffset extends AreaOffsetShift {
  /** The strongest finding of the group: where the merged one is stored. */
  anchor: number;
  /** Every finding of the group, the anchor included. */
  ids: number[];
  score: number;
  lon: number | null;
  lat: number | null;
}

export interface MergeOptions {
  agreeMetres?: number;
  agreePixels?: number;
}

/** Where a patch lies for the neighbour test: a cell of a grid named by `space`, with its extent in that grid. */
function placeOf(
  item: AreaOffsetItem,
): { space: string; x0: number; y0: number; x1: number; y1: number } | null {
  if (item.tile) {
    const { z, x, y } = item.tile;
    return { space: `tile:${z}`, x0: x, y0: y, x1: x + 1, y1: y + 1 };
  }
  const win = parseWindowKey(item.patchKey);
  return win
    ? { space: `file:${win.file}`, x0: win.x, y0: win.y, x1: win.x + win.w, y1: win.y + win.h }
    : null;
}

/**
 * Groups of neighbouring findings whose shifts agree; a finding with no agreeing neighbour is a group of one.
 * Neighbours are found through a grid hash of each space's largest cell, so the cost grows with the findings,
 * not with their pairs.
 */
export function mergeAreaOffsets(items: AreaOffsetItem[], options: MergeOptions = {}): MergedAreaOffset[] {
  const agreeMetres = options.agreeMetres ?? 1;
  const agreePixels = options.agreePixels ?? 1.5;
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const places = items.map(placeOf);
  const cellSize = new Map<string, number>();
  for (const p of places) {
    if (p) cellSize.set(p.space, Math.max(cellSize.get(p.space) ?? 1, p.x1 - p.x0, p.y1 - p.y0));
  }
  const grid = new Map<string, number[]>();
  const cellOf = (space: string, x: number, y: number) => {
    const s = cellSize.get(space)!;
    return [Math.floor(x / s), Math.floor(y / s)];
  };
  places.forEach((p, i) => {
    if (!p) return;
    const [cx, cy] = cellOf(p.space, p.x0, p.y0);
    const key = `${p.space}|${cx}|${cy}`;
    const cell = grid.get(key);
    if (cell) cell.push(i);
    else grid.set(key, [i]);
  });
  const agree = (a: AreaOffsetItem, b: AreaOffsetItem) =>
    a.eastM !== null && a.northM !== null && b.eastM !== null && b.northM !== null
      ? Math.hypot(a.eastM - b.eastM, a.northM - b.northM) <= agreeMetres
      : Math.hypot(a.dxPx - b.dxPx, a.dyPx - b.dyPx) <= agreePixels;
  places.forEach((p, i) => {
    if (!p) return;
    const [cx, cy] = cellOf(p.space, p.x0, p.y0);
    for (let gy = cy - 1; gy <= cy + 1; gy++) {
      for (let gx = cx - 1; gx <= cx + 1; gx++) {
        for (const j of grid.get(`${p.space}|${gx}|${gy}`) ?? []) {
          if (j <= i) continue;
          const q = places[j]!;
          // Touching (sides or corners) or overlapping extents.
          const touch = p.x0 <= q.x1 && q.x0 <= p.x1 && p.y0 <= q.y1 && q.y0 <= p.y1;
          if (touch && agree(items[i], items[j])) parent[find(j)] = find(i);
        }
      }
    }
  });
  const groups = new Map<number, number[]>();
  items.forEach((_, i) => {
    const root = find(i);
    const group = groups.get(root);
    if (group) group.push(i);
    else groups.set(root, [i]);
  });
  return [...groups.values()].map((g) => merged(g.map((i) => items[i])));
}

function merged(group: AreaOffsetItem[]): MergedAreaOffset {
  const anchor = group.reduce((a, b) => (b.score > a.score ? b : a));
  // The group's shift: each patch's weighted by the footprints that fit it (at least 1, so none drops out).
  let wSum = 0;
  const sum = { dx: 0, dy: 0, east: 0, north: 0 };
  const inMetres = group.every((g) => g.eastM !== null && g.northM !== null);
  for (const g of group) {
    const w = Math.max(1, g.members);
    wSum += w;
    sum.dx += w * g.dxPx;
    sum.dy += w * g.dyPx;
    if (inMetres) {
      sum.east += w * g.eastM!;
      sum.north += w * g.northM!;
    }
  }
  let outline: Array<[number, number]> | null = null;
  if (group.every((g) => g.outline && g.outline.length)) {
    let w = Infinity;
    let s = Infinity;
    let e = -Infinity;
    let n = -Infinity;
    for (const g of group)
      for (const [lon, lat] of g.outline!) {
        w = Math.min(w, lon);
        e = Math.max(e, lon);
        s = Math.min(s, lat);
        n = Math.max(n, lat);
      }
    outline = [
      [w, n],
      [e, n],
      [e, s],
      [w, s],
      [w, n],
    ];
  }
  return {
    anchor: anchor.id,
    ids: group.map((g) => g.id),
    score: anchor.score,
    dxPx: sum.dx / wSum,
    dyPx: sum.dy / wSum,
    eastM: inMetres ? sum.east / wSum : null,
    northM: inMetres ? sum.north / wSum : null,
    members: group.reduce((t, g) => t + g.members, 0),
    areaPx: group.reduce((t, g) => t + g.areaPx, 0),
    outline,
    lon: outline ? (outline[0][0] + outline[1][0]) / 2 : null,
    lat: outline ? (outline[0][1] + outline[2][1]) / 2 : null,
  };
}

/** Merges a run's stored area offsets in place; returns how many findings remain and how many were absorbed. */
export async function mergeRunAreaOffsets(
  handle: DatabaseHandle,
  runId: number,
  options: MergeOptions = {},
): Promise<{ findings: number; absorbed: number }> {
  const stored = await listAreaOffsets(handle, runId);
  const groups = mergeAreaOffsets(
    stored.map((s, id) => ({ ...s, id })),
    options,
  );
  const merges = groups
    .filter((g) => g.ids.length > 1)
    .map((g) => ({
      ...g,
      anchor: { idx: stored[g.anchor].idx, n: stored[g.anchor].n },
      absorbed: g.ids.filter((id) => id !== g.anchor).map((id) => ({ idx: stored[id].idx, n: stored[id].n })),
      patches: g.ids.length,
    }));
  await writeAreaOffsetMerges(handle, runId, merges);
  return { findings: groups.length, absorbed: stored.length - groups.length };
}
