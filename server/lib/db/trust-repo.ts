/**
 * Storage of the labelled side: calibration samples with their tiles, label imports and tile labels
 * (tables in schema.ts). Writes of one sample or one import happen in one transaction, so a refused or
 * failed import leaves nothing behind.
 */
import { and, asc, count, desc, eq, gt, isNotNull, or, sql, type AnyColumn } from 'drizzle-orm';
import { inTransaction, type DatabaseHandle } from './client.ts';
import { aliasOf, insertBatches, proposedValues, sumOf } from './dialect.ts';
import {
  type CalibrationSampleRow,
  type CalibrationSampleTileRow,
  type LabelPurpose,
  type LabelSource,
  type LabelValue,
} from './schema.ts';
import type { SampleDesign, TileRectJson } from './json.ts';

export interface NewSampleTile {
  z: number;
  x: number;
  y: number;
  taskId: string;
  stratum: number;
  inclusionProb: number;
  priority: number;
  buildingProb: number;
}

export async function insertSample(
  db: DatabaseHandle,
  projectId: number,
  design: SampleDesign,
  rects: TileRectJson[],
  tiles: NewSampleTile[],
): Promise<number> {
  return inTransaction(db, async (tx) => {
    const { calibrationSamples, calibrationSampleTiles } = tx.t;
    const [{ id }] = await tx.db
      .insert(calibrationSamples)
      .values({ projectId, seed: design.seed, size: design.size, design, rects })
      .returning({ id: calibrationSamples.id });
    const rows = tiles.map((t) => ({ ...t, sampleId: id }));
    for (const batch of insertBatches(tx, calibrationSampleTiles, rows)) {
      await tx.db.insert(calibrationSampleTiles).values(batch);
    }
    return id;
  });
}

export async function getSampleRow(
  db: DatabaseHandle,
  sampleId: number,
): Promise<CalibrationSampleRow | undefined> {
  const { calibrationSamples } = db.t;
  const [row] = await db.db.select().from(calibrationSamples).where(eq(calibrationSamples.id, sampleId));
  return row;
}

export async function sampleTileRows(
  db: DatabaseHandle,
  sampleId: number,
): Promise<CalibrationSampleTileRow[]> {
  const { calibrationSampleTiles } = db.t;
  return db.db
    .select()
    .from(calibrationSampleTiles)
    .where(eq(calibrationSampleTiles.sampleId, sampleId))
    .orderBy(calibrationSampleTiles.stratum, calibrationSampleTiles.y, calibrationSampleTiles.x);
}

export async function latestSampleId(db: DatabaseHandle, projectId: number): Promise<number | undefined> {
  const { calibrationSamples } = db.t;
  const [row] = await db.db
    .select({ id: calibrationSamples.id })
    .from(calibrationSamples)
    .where(eq(calibrationSamples.projectId, projectId))
    .orderBy(desc(calibrationSamples.id))
    .limit(1);
  return row?.id;
}

export interface SampleSummaryRow {
  id: number;
  seed: number;
  size: number;
  createdAt: Date;
  /** Sample tiles with a building / no-building label (either purpose). */
  labelled: number;
  badImagery: number;
}

/**
 * A sample's tiles with the label each counts with: its calibration answer if there is one, else the
 * mapping's (`label` null when neither). The two labels are the same table under two names.
 */
function labelledSampleTiles(db: DatabaseHandle, projectId: AnyColumn | number) {
  const { calibrationSampleTiles: t, tileLabels } = db.t;
  const ls = aliasOf(db, tileLabels, 'ls');
  const lm = aliasOf(db, tileLabels, 'lm');
  const on = (l: typeof ls | typeof lm, purpose: 'sample' | 'mapping') =>
    and(eq(l.projectId, projectId), eq(l.purpose, purpose), eq(l.z, t.z), eq(l.x, t.x), eq(l.y, t.y));
  return {
    label: sql<LabelValue | null>`coalesce(${ls.label}, ${lm.label})`,
    join: <Q extends { leftJoin: (...args: any[]) => any }>(q: Q) =>
      q.leftJoin(ls, on(ls, 'sample')).leftJoin(lm, on(lm, 'mapping')) as Q,
  };
}

export async function listSamples(db: DatabaseHandle, projectId: number): Promise<SampleSummaryRow[]> {
  const { calibrationSamples: s, calibrationSampleTiles: t } = db.t;
  const { label, join } = labelledSampleTiles(db, s.projectId);
  const rows = await join(
    db.db
      .select({
        id: s.id,
        seed: s.seed,
        size: s.size,
        createdAt: s.createdAt,
        labelled: sumOf(sql`case when ${label} in ('building', 'no_building') then 1 else 0 end`),
        badImagery: sumOf(sql`case when ${label} = 'bad_imagery' then 1 else 0 end`),
      })
      .from(s)
      .leftJoin(t, eq(t.sampleId, s.id)),
  )
    .where(eq(s.projectId, projectId))
    .groupBy(s.id)
    .orderBy(asc(s.id));
  return rows.map((r) => ({ ...r, labelled: r.labelled ?? 0, badImagery: r.badImagery ?? 0 }));
}

/** Every sample rectangle of the project, for recognising answers to a sample draft's extra tiles. */
export async function sampleRects(db: DatabaseHandle, projectId: number): Promise<TileRectJson[]> {
  const { calibrationSamples } = db.t;
  const rows = await db.db
    .select({ rects: calibrationSamples.rects })
    .from(calibrationSamples)
    .where(eq(calibrationSamples.projectId, projectId));
  return rows.flatMap((r) => r.rects);
}

/** The label a sample tile counts with: a calibration answer if there is one, else the mapping's. */
export async function sampleLabels(
  db: DatabaseHandle,
  projectId: number,
  sampleId: number,
): Promise<Map<string, LabelValue>> {
  const { calibrationSampleTiles: t } = db.t;
  const { label, join } = labelledSampleTiles(db, projectId);
  const rows = await join(db.db.select({ taskId: t.taskId, label }).from(t)).where(
    and(eq(t.sampleId, sampleId), isNotNull(label)),
  );
  return new Map(rows.map((r) => [r.taskId, r.label!]));
}

/** Which of these tiles the project holds (any status), by task id. */
export async function projectTilesAmong(
  db: DatabaseHandle,
  projectId: number,
  tiles: ReadonlyArray<{ z: number; x: number; y: number }>,
): Promise<Set<string>> {
  const { tileScores } = db.t;
  const found = new Set<string>();
  // Three parameters a tile: far below either store's limit per statement.
  const CHUNK = 300;
  for (let i = 0; i < tiles.length; i += CHUNK) {
    const part = tiles.slice(i, i + CHUNK);
    const rows = await db.db
      .select({ taskId: tileScores.taskId })
      .from(tileScores)
      .where(
        and(
          eq(tileScores.projectId, projectId),
          or(...part.map((t) => and(eq(tileScores.z, t.z), eq(tileScores.x, t.x), eq(tileScores.y, t.y)))),
        ),
      );
    for (const r of rows) found.add(r.taskId);
  }
  return found;
}

export interface NewLabel {
  z: number;
  x: number;
  y: number;
  taskId: string;
  label: LabelValue;
  noCount?: number | null;
  yesCount?: number | null;
  maybeCount?: number | null;
  badCount?: number | null;
  agreement?: number | null;
}

export interface NewImport {
  projectId: number;
  source: LabelSource;
  purpose: LabelPurpose;
  mapswipeProjectId?: string | null;
  rows: number;
  outside: number;
}

/** One import and its labels in one transaction; a label already there for the tile and purpose is replaced. */
export async function storeLabels(
  db: DatabaseHandle,
  imp: NewImport,
  labels: NewLabel[],
): Promise<{ importId: number; stored: number }> {
  return inTransaction(db, async (tx) => {
    const { labelImports, tileLabels } = tx.t;
    const [{ id }] = await tx.db
      .insert(labelImports)
      .values({ ...imp, mapswipeProjectId: imp.mapswipeProjectId ?? null, stored: labels.length })
      .returning({ id: labelImports.id });
    const now = new Date();
    const values = labels.map((l) => ({
      projectId: imp.projectId,
      purpose: imp.purpose,
      z: l.z,
      x: l.x,
      y: l.y,
      taskId: l.taskId,
      label: l.label,
      noCount: l.noCount ?? null,
      yesCount: l.yesCount ?? null,
      maybeCount: l.maybeCount ?? null,
      badCount: l.badCount ?? null,
      agreement: l.agreement ?? null,
      importId: id,
      updatedAt: now,
    }));
    for (const batch of insertBatches(tx, tileLabels, values)) {
      await tx.db
        .insert(tileLabels)
        .values(batch)
        .onConflictDoUpdate({
          target: [tileLabels.projectId, tileLabels.purpose, tileLabels.z, tileLabels.x, tileLabels.y],
          set: proposedValues(tileLabels, [
            'label',
            'noCount',
            'yesCount',
            'maybeCount',
            'badCount',
            'agreement',
            'importId',
            'updatedAt',
          ]),
        });
    }
    return { importId: id, stored: labels.length };
  });
}

export async function countLabels(
  db: DatabaseHandle,
  projectId: number,
  purpose: LabelPurpose,
): Promise<Record<LabelValue, number>> {
  const { tileLabels } = db.t;
  const out: Record<LabelValue, number> = { building: 0, no_building: 0, bad_imagery: 0 };
  const rows = await db.db
    .select({ label: tileLabels.label, n: count() })
    .from(tileLabels)
    .where(and(eq(tileLabels.projectId, projectId), eq(tileLabels.purpose, purpose)))
    .groupBy(tileLabels.label);
  for (const r of rows) out[r.label] = r.n;
  return out;
}

export interface MappedTileRow {
  taskId: string;
  z: number;
  x: number;
  y: number;
  status: string;
  priority: number;
  buildingProb: number | null;
  label: LabelValue | null;
  yesCount: number | null;
  maybeCount: number | null;
  noCount: number | null;
  badCount: number | null;
}

/**
 * Every tile of the project with its mapping answer, if any: keyset pages of 1,000 by (y, x), so a region
 * never sits in memory and no statement stays open between pages.
 */
export async function* tilesWithMappingLabels(
  db: DatabaseHandle,
  projectId: number,
): AsyncGenerator<MappedTileRow> {
  const { tileScores: s, tileLabels: l } = db.t;
  let after: { y: number; x: number } | undefined;
  for (;;) {
    const rows: MappedTileRow[] = await db.db
      .select({
        taskId: s.taskId,
        z: s.z,
        x: s.x,
        y: s.y,
        status: s.status,
        priority: s.priority,
        buildingProb: s.buildingProb,
        label: l.label,
        yesCount: l.yesCount,
        maybeCount: l.maybeCount,
        noCount: l.noCount,
        badCount: l.badCount,
      })
      .from(s)
      .leftJoin(
        l,
        and(eq(l.projectId, s.projectId), eq(l.purpose, 'mapping'), eq(l.z, s.z), eq(l.x, s.x), eq(l.y, s.y)),
      )
      .where(
        and(
          eq(s.projectId, projectId),
          after === undefined ? undefined : or(gt(s.y, after.y), and(eq(s.y, after.y), gt(s.x, after.x))),
        ),
      )
      .orderBy(asc(s.y), asc(s.x))
      .limit(MAPPED_PAGE_ROWS);
    yield* rows;
    if (rows.length < MAPPED_PAGE_ROWS) return;
    after = rows[rows.length - 1];
  }
}

const MAPPED_PAGE_ROWS = 1000;
