/**
 * Label errors per object (table `label_objects`): written by the evidence pass batch by batch, read per kind
 * in the order of that kind's own evidence.
 */
import { type DatabaseHandle, sqliteOf } from './client.ts';
import { LABEL_OBJECT_KINDS } from './schema.ts';

export type LabelObjectKind = (typeof LABEL_OBJECT_KINDS)[number];

export interface LabelObjectRow {
  idx: number;
  n: number;
  kind: LabelObjectKind;
  score: number;
  areaPx: number;
  dxPx: number | null;
  dyPx: number | null;
  eastM: number | null;
  northM: number | null;
  outlinePx: Array<[number, number]>;
  outline: Array<[number, number]> | null;
  lon: number | null;
  lat: number | null;
  members: number | null;
  /** area_offset: patches the finding spans (1 unless neighbouring patches' offsets were merged into it). */
  patches?: number | null;
}

/** A stored object with the patch it lies in. */
export interface LabelObjectListed extends LabelObjectRow {
  /** 1-based rank within its kind. */
  rank: number;
  patchKey: string;
  group: string | null;
  z: number | null;
  x: number | null;
  y: number | null;
}

export async function clearLabelObjects(handle: DatabaseHandle, runId: number): Promise<void> {
  sqliteOf(handle, 'label objects').prepare('delete from label_objects where run_id = ?').run(runId);
}

export async function writeLabelObjects(
  handle: DatabaseHandle,
  runId: number,
  rows: LabelObjectRow[],
): Promise<void> {
  const insert = sqliteOf(handle, 'label objects').prepare(
    `insert or replace into label_objects
       (run_id, idx, n, kind, score, area_px, dx_px, dy_px, east_m, north_m, outline_px, outline, lon, lat, members,
        patches)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  sqliteOf(handle, 'label objects').transaction(() => {
    for (const r of rows) {
      insert.run(
        runId,
        r.idx,
        r.n,
        r.kind,
        r.score,
        r.areaPx,
        r.dxPx,
        r.dyPx,
        r.eastM,
        r.northM,
        JSON.stringify(r.outlinePx),
        r.outline ? JSON.stringify(r.outline) : null,
        r.lon,
        r.lat,
        r.members,
        r.patches ?? (r.kind === 'area_offset' ? 1 : null),
      );
    }
  })();
}

/** Objects of each kind the run holds (every kind present, 0 when none). */
export async function countLabelObjects(
  handle: DatabaseHandle,
  runId: number,
): Promise<Record<LabelObjectKind, number>> {
  const out = Object.fromEntries(LABEL_OBJECT_KINDS.map((k) => [k, 0])) as Record<LabelObjectKind, number>;
  const rows = sqliteOf(handle, 'label objects')
    .prepare('select kind, count(*) from label_objects where run_id = ? group by kind')
    .raw()
    .all(runId) as Array<[LabelObjectKind, number]>;
  for (const [kind, n] of rows) out[kind] = n;
  return out;
}

type RawRow = Omit<LabelObjectListed, 'outlinePx' | 'outline'> & {
  outlinePx: string;
  outline: string | null;
};

const SELECT = `select o.idx as idx, o.n as n, o.kind as kind, o.score as score, o.area_px as areaPx,
    o.dx_px as dxPx, o.dy_px as dyPx, o.east_m as eastM, o.north_m as northM, o.outline_px as outlinePx,
    o.outline as outline, o.lon as lon, o.lat as lat, o.members as members, o.patches as patches,
    p.patch_key as patchKey, p.group_name as "group", p.z as z, p.x as x, p.y as y
  from label_objects o join patches p on p.run_id = o.run_id and p.idx = o.idx
  where o.run_id = ? and o.kind = ?
  order by o.score desc, o.idx, o.n`;

function parse(r: RawRow, rank: number): LabelObjectListed {
  return {
    ...r,
    rank,
    outlinePx: JSON.parse(r.outlinePx) as Array<[number, number]>,
    outline: r.outline ? (JSON.parse(r.outline) as Array<[number, number]>) : null,
  };
}

/** A page of one kind's objects, strongest evidence first. */
export async function labelObjectPage(
  handle: DatabaseHandle,
  runId: number,
  kind: LabelObjectKind,
  offset: number,
  limit: number,
): Promise<LabelObjectListed[]> {
  const rows = sqliteOf(handle, 'label objects')
    .prepare(`${SELECT} limit ? offset ?`)
    .all(runId, kind, limit, offset) as RawRow[];
  return rows.map((r, i) => parse(r, offset + i + 1));
}

/** Every object of one kind, strongest first, streamed (exports). */
export async function* iterateLabelObjects(
  handle: DatabaseHandle,
  runId: number,
  kind: LabelObjectKind,
  limit = Number.MAX_SAFE_INTEGER,
): AsyncGenerator<LabelObjectListed> {
  let rank = 0;
  for (const r of sqliteOf(handle, 'label objects')
    .prepare(`${SELECT} limit ?`)
    .iterate(runId, kind, limit) as Iterable<RawRow>) {
    yield parse(r, ++rank);
  }
}

/** An area offset's shift and extent: what merging neighbours combines (area-offset-merge.ts). */
export interface AreaOffsetShift {
  dxPx: number;
  dyPx: number;
  eastM: number | null;
  northM: number | null;
  members: number;
  areaPx: number;
  /** Lon/lat ring, when on the map. */
  outline: Array<[number, number]> | null;
}

/** A stored area offset with where its patch lies. */
export interface StoredAreaOffset extends AreaOffsetShift {
  idx: number;
  n: number;
  score: number;
  patchKey: string;
  tile: { z: number; x: number; y: number } | null;
}

/** Every area offset of a run (at most one per patch). */
export async function listAreaOffsets(handle: DatabaseHandle, runId: number): Promise<StoredAreaOffset[]> {
  const rows = sqliteOf(handle, 'label objects')
    .prepare(
      `select o.idx as idx, o.n as n, o.score as score, o.dx_px as dxPx, o.dy_px as dyPx, o.east_m as eastM,
          o.north_m as northM, coalesce(o.members, 0) as members, o.area_px as areaPx, o.outline as outline,
          p.patch_key as patchKey, p.z as z, p.x as x, p.y as y
        from label_objects o join patches p on p.run_id = o.run_id and p.idx = o.idx
        where o.run_id = ? and o.kind = 'area_offset'
        order by o.idx, o.n`,
    )
    .all(runId) as Array<
    Omit<StoredAreaOffset, 'outline' | 'tile'> & {
      outline: string | null;
      z: number | null;
      x: number | null;
      y: number | null;
    }
  >;
  return rows.map(({ z, x, y, outline, ...r }) => ({
    ...r,
    outline: outline ? (JSON.parse(outline) as Array<[number, number]>) : null,
    tile: z === null || x === null || y === null ? null : { z, x, y },
  }));
}

/** One merged area offset: stored on its anchor's row, the other findings it absorbed removed. */
export interface AreaOffsetMergeWrite extends AreaOffsetShift {
  anchor: { idx: number; n: number };
  absorbed: Array<{ idx: number; n: number }>;
  lon: number | null;
  lat: number | null;
  patches: number;
}

export async function writeAreaOffsetMerges(
  handle: DatabaseHandle,
  runId: number,
  merges: AreaOffsetMergeWrite[],
): Promise<void> {
  const update = sqliteOf(handle, 'label objects').prepare(
    `update label_objects set dx_px = ?, dy_px = ?, east_m = ?, north_m = ?, members = ?, area_px = ?,
        outline = coalesce(?, outline), lon = coalesce(?, lon), lat = coalesce(?, lat), patches = ?
      where run_id = ? and idx = ? and n = ?`,
  );
  const remove = sqliteOf(handle, 'label objects').prepare(
    'delete from label_objects where run_id = ? and idx = ? and n = ?',
  );
  sqliteOf(handle, 'label objects').transaction(() => {
    for (const m of merges) {
      update.run(
        m.dxPx,
        m.dyPx,
        m.eastM,
        m.northM,
        m.members,
        m.areaPx,
        m.outline ? JSON.stringify(m.outline) : null,
        m.lon,
        m.lat,
        m.patches,
        runId,
        m.anchor.idx,
        m.anchor.n,
      );
      for (const a of m.absorbed) remove.run(runId, a.idx, a.n);
    }
  })();
}
