/**
 * One patch's label errors as they are stored and exported: the objects findLabelObjects tags at the model's
 * resolution, with an area-wide offset reported once in place of the footprints it explains, carried back to
 * the patch's own pixels and — where the patch is a map tile or geo-referenced imagery — to lon/lat and metres.
 */
import { groundOffset, worldPixelToLonLat } from '../geo/tiles.ts';
import type { LabelObjectRow } from '../db/label-objects-repo.ts';
import type { Patch } from '../datasets/patch-source.ts';
import { findAreaOffset, type AreaOffsetFinding } from './area-offset.ts';
import { findLabelObjects, type FoundObject, type LabelObjectOptions } from './label-objects.ts';

export interface PatchObjectOptions extends LabelObjectOptions {
  /** Ground size of one dataset pixel, for patches not on the map (tiles and geo-referenced imagery know theirs). */
  metresPerPixel?: number;
}

type Where = Pick<Patch, 'width' | 'height' | 'tile' | 'place'>;

/**
 * Label objects of one patch: `probs` and `gt` at the model's `width × height`, the patch as the dataset gave
 * it (its size, and its tile when it is one). `idx` is the patch's index in the run.
 */
export function patchLabelObjects(
  idx: number,
  patch: Where,
  probs: ArrayLike<number>,
  gt: ArrayLike<number>,
  width: number,
  height: number,
  options: PatchObjectOptions = {},
): { rows: LabelObjectRow[]; objects: FoundObject[]; area: AreaOffsetFinding | null } {
  const objects = findLabelObjects(probs, gt, width, height, options);
  const area = findAreaOffset(objects, probs, gt, width, height, options);
  const sx = patch.width / width;
  const sy = patch.height / height;
  const tile = patch.tile;
  // Patch pixel → lon/lat: a map tile's own, or the georeference of the imagery it was cut from.
  const toLonLat: ((px: number, py: number) => [number, number]) | null = tile
    ? (px, py) =>
        worldPixelToLonLat(tile.x * patch.width + px, tile.y * patch.height + py, tile.z, patch.width)
    : (patch.place ?? null);
  const cx = patch.width / 2;
  const cy = patch.height / 2;
  const centreLonLat = toLonLat ? toLonLat(cx, cy) : null;
  // On the map a shift's metres come from where its ends lie (a rotated or non-square raster included);
  // elsewhere from the ground size of a pixel the caller gave, with y down meaning south.
  const moved = (dx: number, dy: number) => {
    const dxPx = dx * sx;
    const dyPx = dy * sy;
    if (toLonLat && centreLonLat) {
      const [eastM, northM] = groundOffset(centreLonLat, toLonLat(cx + dxPx, cy + dyPx));
      return { dxPx, dyPx, eastM, northM };
    }
    const mpp = options.metresPerPixel ?? null;
    return { dxPx, dyPx, eastM: mpp === null ? null : dxPx * mpp, northM: mpp === null ? null : -dyPx * mpp };
  };
  const ring = (outline: Array<[number, number]>) => {
    const px = outline.map(([x, y]) => [x * sx, y * sy] as [number, number]);
    const geo = toLonLat ? px.map(([x, y]) => toLonLat(x, y)) : null;
    return { px, geo: geo && geo.length ? [...geo, geo[0]] : null };
  };
  const members = new Set(area?.kind === 'area_offset' ? area.memberIndices : []);
  const rows: LabelObjectRow[] = [];
  objects.forEach((o, i) => {
    if (o.kind === 'ok' || (o.kind === 'offset' && members.has(i))) return;
    const { px, geo } = ring(o.outline);
    const c = toLonLat ? toLonLat(o.centre[0] * sx, o.centre[1] * sy) : null;
    rows.push({
      idx,
      n: rows.length,
      kind: o.kind,
      score: o.score,
      areaPx: o.area * sx * sy,
      ...(o.kind === 'offset' && o.shift
        ? moved(o.shift.dx, o.shift.dy)
        : { dxPx: null, dyPx: null, eastM: null, northM: null }),
      outlinePx: px,
      outline: geo,
      lon: c?.[0] ?? null,
      lat: c?.[1] ?? null,
      members: null,
    });
  });
  if (area?.kind === 'area_offset') {
    const { px, geo } = ring([
      [0, 0],
      [width, 0],
      [width, height],
      [0, height],
    ]);
    rows.push({
      idx,
      n: rows.length,
      kind: 'area_offset',
      score: area.score,
      areaPx: patch.width * patch.height,
      ...moved(area.dx, area.dy),
      outlinePx: px,
      outline: geo,
      lon: centreLonLat?.[0] ?? null,
      lat: centreLonLat?.[1] ?? null,
      members: area.members,
    });
  }
  return { rows, objects, area };
}
