/**
 * One JSON record per run and insight kind (table `insight_records`): the settings, measurements and fitted
 * state an insight pass keeps beside the run. A pass writes its record in the same transaction as its
 * per-patch rows, so a record never describes rows that are not there.
 */
import { and, eq } from 'drizzle-orm';
import type { DatabaseHandle } from './client.ts';
import type { INSIGHT_KINDS } from './schema.ts';

export type InsightKind = (typeof INSIGHT_KINDS)[number];

/** Stores (or replaces) the run's record of this kind. */
export async function saveInsightRecord(
  handle: DatabaseHandle,
  runId: number,
  kind: InsightKind,
  record: object,
): Promise<void> {
  const { insightRecords } = handle.t;
  const value = record as Record<string, unknown>;
  await handle.db
    .insert(insightRecords)
    .values({ runId, kind, record: value })
    .onConflictDoUpdate({
      target: [insightRecords.runId, insightRecords.kind],
      set: { record: value, createdAt: new Date() },
    });
}

/**
 * The run's record of this kind as its writer stored it, or undefined when the pass has not run. `T` is the
 * writer's own record type: the insight module that wrote it reads it back.
 */
export async function getInsightRecord<T extends object>(
  handle: DatabaseHandle,
  runId: number,
  kind: InsightKind,
): Promise<T | undefined> {
  const { insightRecords } = handle.t;
  const [row] = await handle.db
    .select({ record: insightRecords.record })
    .from(insightRecords)
    .where(and(eq(insightRecords.runId, runId), eq(insightRecords.kind, kind)));
  return row?.record as T | undefined;
}

/** The kinds of record the run has, i.e. the insight passes that ran on it. */
export async function insightKinds(handle: DatabaseHandle, runId: number): Promise<InsightKind[]> {
  const { insightRecords } = handle.t;
  const rows = await handle.db
    .select({ kind: insightRecords.kind })
    .from(insightRecords)
    .where(eq(insightRecords.runId, runId));
  return rows.map((r) => r.kind);
}
