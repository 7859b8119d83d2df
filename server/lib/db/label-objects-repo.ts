/**
 * Label errors per object (table `label_objects`): written by the evidence pass batch by batch, read per kind
 * in the order of that kind's own evidence.
 */
import { and, asc, count, desc, eq, lt, or, sql } from 'drizzle-orm';
import { inTransaction, type DatabaseHandle } from './client.ts';
import { insertBatches, proposedValues } from './dialect.ts';
import { PAGE_ROWS } from './keyset-pages.ts';
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
  const { labelObjects } = handle.t;
  await handle.db.delete(labelObjects).where(eq(labelObjects.runId, runId));
}

/** One batch of objects in one transaction; an object already stored under its run, patch and number is replaced. */
export async function writeLabelObjects(
  handle: DatabaseHandle,
  runId: number,
  rows: LabelObjectRow[],
): Promise<void> {
  await inTransaction(handle, async (tx) => {
    const { labelObjects } = tx.t;
    const values = rows.map((r) => ({
      ...r,
      runId,
      patches: r.patches ?? (r.kind === 'area_offset' ? 1 : null),
    }));
    for (const batch of insertBatches(tx, labelObjects, values)) {
      await tx.db
        .insert(labelObjects)
        .values(batch)
        .onConflictDoUpdate({
          target: [labelObjects.runId, labelObjects.idx, labelObjects.n],
          set: proposedValues(labelObjects, [
            'kind',
            'score',
            'areaPx',
            'dxPx',
            'dyPx',
            'eastM',
            'northM',
            'outlinePx',
            'outline',
            'lon',
            'lat',
            'members',
            'patches',
          ]),
        });
    }
  });
}

/** Objects of each kind the run holds (every kind present, 0 when none). */
export async function countLabelObjects(
  handle: DatabaseHandle,
  runId: number,
): Promise<Record<LabelObjectKind, number>> {
  const { labelObjects } = handle.t;
  const out = Object.fromEntries(LABEL_OBJECT_KINDS.map((k) => [k, 0])) as Record<LabelObjectKind, number>;
  const rows = await handle.db
    .select({ kind: labelObjects.kind, n: count() })
    .from(labelObjects)
    .where(eq(labelObjects.runId, runId))
    .groupBy(labelObjects.kind);
  for (const { kind, n } of rows) out[kind] = n;
  return out;
}

/** Where a kind's objects stand in its order: strongest evidence first, then patch and number. */
type ObjectKey = { score: number; idx: number; n: number };

/** A kind's objects with their patches, strongest first, after `after` in that order. */
function objectsOfKind(
  handle: DatabaseHandle,
  runId: number,
  kind: LabelObjectKind,
  after: ObjectKey | undefined,
) {
  const { labelObjects: o, patches: p } = handle.t;
  return handle.db
    .select({
      idx: o.idx,
      n: o.n,
      kind: o.kind,
      score: o.score,
      areaPx: o.areaPx,
      dxPx: o.dxPx,
      dyPx: o.dyPx,
      eastM: o.eastM,
      northM: o.northM,
      outlinePx: o.outlinePx,
      outline: o.outline,
      lon: o.lon,
      lat: o.lat,
      members: o.members,
      patches: o.patches,
      patchKey: p.patchKey,
      group: p.groupName,
      z: p.z,
      x: p.x,
      y: p.y,
    })
    .from(o)
    .innerJoin(p, and(eq(p.runId, o.runId), eq(p.idx, o.idx)))
    .where(
      and(
        eq(o.runId, runId),
        eq(o.kind, kind),
        after === undefined
          ? undefined
          : or(
              lt(o.score, after.score),
              and(eq(o.score, after.score), sql`(${o.idx}, ${o.n}) > (${after.idx}, ${after.n})`),
            ),
      ),
    )
    .orderBy(desc(o.score), asc(o.idx), asc(o.n));
}

/** A page of one kind's objects, strongest evidence first. */
export async function labelObjectPage(
  handle: DatabaseHandle,
  runId: number,
  kind: LabelObjectKind,
  offset: number,
  limit: number,
): Promise<LabelObjectListed[]> {
  const rows = await objectsOfKind(handle, runId, kind, undefined).limit(limit).offset(offset);
  return rows.map((r, i) => ({ ...r, rank: offset + i + 1 }));
}

/** Every object of one kind, strongest first, streamed in keyset pages (exports). */
export async function* iterateLabelObjects(
  handle: DatabaseHandle,
  runId: number,
  kind: LabelObjectKind,
  limit = Number.MAX_SAFE_INTEGER,
): AsyncGenerator<LabelObjectListed> {
  let rank = 0;
  let after: ObjectKey | undefined;
  while (rank < limit) {
    const page = Math.min(PAGE_ROWS, limit - rank);
    const rows = await objectsOfKind(handle, runId, kind, after).limit(page);
    for (const r of rows) yield { ...r, rank: ++rank };
    if (rows.length < page) return;
    after = rows[rows.length - 1];
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
  const { labelObjects: o, patches: p } = handle.t;
  const rows = await handle.db
    .select({
      idx: o.idx,
      n: o.n,
      score: o.score,
      dxPx: o.dxPx,
      dyPx: o.dyPx,
      eastM: o.eastM,
      northM: o.northM,
      members: o.members,
      areaPx: o.areaPx,
      outline: o.outline,
      patchKey: p.patchKey,
      z: p.z,
      x: p.x,
      y: p.y,
    })
    .from(o)
    .innerJoin(p, and(eq(p.runId, o.runId), eq(p.idx, o.idx)))
    .where(and(eq(o.runId, runId), eq(o.kind, 'area_offset')))
    .orderBy(asc(o.idx), asc(o.n));
  return rows.map(({ z, x, y, dxPx, dyPx, members, ...r }) => ({
    ...r,
    // The evidence pass writes every area offset with its shift (patch-objects.ts).
    dxPx: dxPx!,
    dyPx: dyPx!,
    members: members ?? 0,
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
  await inTransaction(handle, async (tx) => {
    const { labelObjects: o } = tx.t;
    const at = (key: { idx: number; n: number }) =>
      and(eq(o.runId, runId), eq(o.idx, key.idx), eq(o.n, key.n));
    for (const m of merges) {
      await tx.db
        .update(o)
        .set({
          dxPx: m.dxPx,
          dyPx: m.dyPx,
          eastM: m.eastM,
          northM: m.northM,
          members: m.members,
          areaPx: m.areaPx,
          patches: m.patches,
          // What the merge does not know (no map position) stays as the anchor had it.
          ...(m.outline ? { outline: m.outline } : {}),
          ...(m.lon !== null ? { lon: m.lon } : {}),
          ...(m.lat !== null ? { lat: m.lat } : {}),
        })
        .where(at(m.anchor));
      for (const a of m.absorbed) await tx.db.delete(o).where(at(a));
    }
  });
}
