/**
 * Storage of the labelled side: calibration samples with their tiles, label imports and tile labels
 * (tables in schema.ts). Writes of one sample or one import happen in one transaction, so a refused or
 * failed import leaves nothing behind.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { type DatabaseHandle, sqliteDb, sqliteOf } from './client.ts';
import {
  calibrationSamples,
  calibrationSampleTiles,
  labelImports,
  tileLabels,
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
  return sqliteOf(db, 'calibration and label imports').transaction(() => {
    const { id } = sqliteDb(db, 'calibration and label imports')
      .insert(calibrationSamples)
      .values({ projectId, seed: design.seed, size: design.size, design, rects })
      .returning({ id: calibrationSamples.id })
      .get();
    // 10 columns × 50 rows stays far below SQLite's bound-parameter limit.
    for (let i = 0; i < tiles.length; i += 50) {
      sqliteDb(db, 'calibration and label imports')
        .insert(calibrationSampleTiles)
        .values(tiles.slice(i, i + 50).map((t) => ({ ...t, sampleId: id })))
        .run();
    }
    return id;
  })();
}

export async function getSampleRow(
  db: DatabaseHandle,
  sampleId: number,
): Promise<CalibrationSampleRow | undefined> {
  return sqliteDb(db, 'calibration and label imports')
    .select()
    .from(calibrationSamples)
    .where(eq(calibrationSamples.id, sampleId))
    .get();
}

export async function sampleTileRows(
  db: DatabaseHandle,
  sampleId: number,
): Promise<CalibrationSampleTileRow[]> {
  return sqliteDb(db, 'calibration and label imports')
    .select()
    .from(calibrationSampleTiles)
    .where(eq(calibrationSampleTiles.sampleId, sampleId))
    .orderBy(calibrationSampleTiles.stratum, calibrationSampleTiles.y, calibrationSampleTiles.x)
    .all();
}

export async function latestSampleId(db: DatabaseHandle, projectId: number): Promise<number | undefined> {
  return sqliteDb(db, 'calibration and label imports')
    .select({ id: calibrationSamples.id })
    .from(calibrationSamples)
    .where(eq(calibrationSamples.projectId, projectId))
    .orderBy(desc(calibrationSamples.id))
    .limit(1)
    .get()?.id;
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

export async function listSamples(db: DatabaseHandle, projectId: number): Promise<SampleSummaryRow[]> {
  const rows = sqliteOf(db, 'calibration and label imports')
    .prepare(
      `select s.id, s.seed, s.size, s.created_at as createdAt,
         sum(case when coalesce(ls.label, lm.label) in ('building', 'no_building') then 1 else 0 end) as labelled,
         sum(case when coalesce(ls.label, lm.label) = 'bad_imagery' then 1 else 0 end) as badImagery
       from calibration_samples s
       left join calibration_sample_tiles t on t.sample_id = s.id
       left join tile_labels ls on ls.project_id = s.project_id and ls.purpose = 'sample' and ls.z = t.z and ls.x = t.x and ls.y = t.y
       left join tile_labels lm on lm.project_id = s.project_id and lm.purpose = 'mapping' and lm.z = t.z and lm.x = t.x and lm.y = t.y
       where s.project_id = ? group by s.id order by s.id`,
    )
    .all(projectId) as Array<Omit<SampleSummaryRow, 'createdAt'> & { createdAt: number }>;
  return rows.map((r) => ({
    ...r,
    labelled: r.labelled ?? 0,
    badImagery: r.badImagery ?? 0,
    createdAt: new Date(r.createdAt),
  }));
}

/** Every sample rectangle of the project, for recognising answers to a sample draft's extra tiles. */
export async function sampleRects(db: DatabaseHandle, projectId: number): Promise<TileRectJson[]> {
  return sqliteDb(db, 'calibration and label imports')
    .select({ rects: calibrationSamples.rects })
    .from(calibrationSamples)
    .where(eq(calibrationSamples.projectId, projectId))
    .all()
    .flatMap((r) => r.rects);
}

/** The label a sample tile counts with: a calibration answer if there is one, else the mapping's. */
export async function sampleLabels(
  db: DatabaseHandle,
  projectId: number,
  sampleId: number,
): Promise<Map<string, LabelValue>> {
  const rows = sqliteOf(db, 'calibration and label imports')
    .prepare(
      `select t.task_id as taskId, coalesce(ls.label, lm.label) as label
       from calibration_sample_tiles t
       left join tile_labels ls on ls.project_id = ? and ls.purpose = 'sample' and ls.z = t.z and ls.x = t.x and ls.y = t.y
       left join tile_labels lm on lm.project_id = ? and lm.purpose = 'mapping' and lm.z = t.z and lm.x = t.x and lm.y = t.y
       where t.sample_id = ? and coalesce(ls.label, lm.label) is not null`,
    )
    .all(projectId, projectId, sampleId) as Array<{ taskId: string; label: LabelValue }>;
  return new Map(rows.map((r) => [r.taskId, r.label]));
}

/** Which of these tiles the project holds (any status), by task id. */
export async function projectTilesAmong(
  db: DatabaseHandle,
  projectId: number,
  tiles: ReadonlyArray<{ z: number; x: number; y: number }>,
): Promise<Set<string>> {
  const found = new Set<string>();
  const stmt = (n: number) =>
    sqliteOf(db, 'calibration and label imports').prepare(
      `select z || '-' || x || '-' || y as taskId from tile_scores
       where project_id = ? and (z, x, y) in (values ${Array.from({ length: n }, () => '(?, ?, ?)').join(', ')})`,
    );
  const CHUNK = 300;
  const full = stmt(CHUNK);
  for (let i = 0; i < tiles.length; i += CHUNK) {
    const part = tiles.slice(i, i + CHUNK);
    const s = part.length === CHUNK ? full : stmt(part.length);
    const args = part.flatMap((t) => [t.z, t.x, t.y]);
    for (const r of s.all(projectId, ...args) as Array<{ taskId: string }>) found.add(r.taskId);
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
  return sqliteOf(db, 'calibration and label imports').transaction(() => {
    const { id } = sqliteDb(db, 'calibration and label imports')
      .insert(labelImports)
      .values({ ...imp, mapswipeProjectId: imp.mapswipeProjectId ?? null, stored: labels.length })
      .returning({ id: labelImports.id })
      .get();
    const now = new Date();
    for (let i = 0; i < labels.length; i += 50) {
      const values = labels.slice(i, i + 50).map((l) => ({
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
      sqliteDb(db, 'calibration and label imports')
        .insert(tileLabels)
        .values(values)
        .onConflictDoUpdate({
          target: [tileLabels.projectId, tileLabels.purpose, tileLabels.z, tileLabels.x, tileLabels.y],
          set: {
            label: sql`excluded.label`,
            noCount: sql`excluded.no_count`,
            yesCount: sql`excluded.yes_count`,
            maybeCount: sql`excluded.maybe_count`,
            badCount: sql`excluded.bad_count`,
            agreement: sql`excluded.agreement`,
            importId: sql`excluded.import_id`,
            updatedAt: sql`excluded.updated_at`,
          },
        })
        .run();
    }
    return { importId: id, stored: labels.length };
  })();
}

export async function countLabels(
  db: DatabaseHandle,
  projectId: number,
  purpose: LabelPurpose,
): Promise<Record<LabelValue, number>> {
  const out: Record<LabelValue, number> = { building: 0, no_building: 0, bad_imagery: 0 };
  const rows = sqliteDb(db, 'calibration and label imports')
    .select({ label: tileLabels.label, n: sql<number>`count(*)` })
    .from(tileLabels)
    .where(and(eq(tileLabels.projectId, projectId), eq(tileLabels.purpose, purpose)))
    .groupBy(tileLabels.label)
    .all();
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
  const page = sqliteOf(db, 'calibration and label imports').prepare(
    `select s.task_id as taskId, s.z, s.x, s.y, s.status, s.priority, s.building_prob as buildingProb,
       l.label, l.yes_count as yesCount, l.maybe_count as maybeCount, l.no_count as noCount, l.bad_count as badCount
     from tile_scores s
     left join tile_labels l on l.project_id = s.project_id and l.purpose = 'mapping' and l.z = s.z and l.x = s.x and l.y = s.y
     where s.project_id = ? and (s.y > ? or (s.y = ? and s.x > ?))
     order by s.y, s.x limit 1000`,
  );
  let y = -1;
  let x = -1;
  for (;;) {
    const rows = page.all(projectId, y, y, x) as MappedTileRow[];
    yield* rows;
    if (rows.length < 1000) return;
    y = rows[rows.length - 1].y;
    x = rows[rows.length - 1].x;
  }
}
