/**
 * Per-patch results of the insight passes — the evidence pass (table `patch_evidence`) and the confidence
 * intervals (table `patch_intervals`) — and the one read that joins them to the patches for the insights.
 * Whole-run reads are keyset pages on idx (keyset-pages.ts), never a run's rows at once.
 */
import { and, asc, count, eq, gt } from 'drizzle-orm';
import { inTransaction, type DatabaseHandle } from './client.ts';
import { insertBatches, jsonNumber, jsonText, proposedValues, selectValues } from './dialect.ts';
import { saveInsightRecord } from './insight-records.ts';
import { keysetRows } from './keyset-pages.ts';
import { pcColumns } from './latent-repo.ts';

export interface PatchEvidenceRow {
  idx: number;
  probInside: number | null;
  probOutside: number | null;
  boundaryIou: number | null;
}

/** Clears the run's evidence before a pass writes it again batch by batch (`writePatchEvidence`). */
export async function clearPatchEvidence(handle: DatabaseHandle, runId: number): Promise<void> {
  const { patchEvidence } = handle.t;
  await handle.db.delete(patchEvidence).where(eq(patchEvidence.runId, runId));
}

/** One batch of evidence rows in one transaction; a patch's earlier row is replaced. */
export async function writePatchEvidence(
  handle: DatabaseHandle,
  runId: number,
  rows: PatchEvidenceRow[],
): Promise<void> {
  await inTransaction(handle, async (tx) => {
    const { patchEvidence } = tx.t;
    for (const batch of insertBatches(tx, patchEvidence, rows)) {
      await tx.db
        .insert(patchEvidence)
        .values(batch.map((e) => ({ runId, ...e })))
        .onConflictDoUpdate({
          target: [patchEvidence.runId, patchEvidence.idx],
          set: proposedValues(patchEvidence, ['probInside', 'probOutside', 'boundaryIou']),
        });
    }
  });
}

export interface PatchIntervalRow {
  idx: number;
  iouLow: number;
  iouHigh: number;
}

/** Replaces the run's intervals and its 'confidence' record in one transaction. */
export async function replacePatchIntervals(
  handle: DatabaseHandle,
  runId: number,
  rows: Iterable<PatchIntervalRow>,
  record: object,
): Promise<void> {
  await inTransaction(handle, async (tx) => {
    const { patchIntervals } = tx.t;
    await tx.db.delete(patchIntervals).where(eq(patchIntervals.runId, runId));
    for (const batch of insertBatches(tx, patchIntervals, rows)) {
      await tx.db.insert(patchIntervals).values(batch.map((r) => ({ runId, ...r })));
    }
    await saveInsightRecord(tx, runId, 'confidence', record);
  });
}

/** The run's intervals as columns, in idx order. */
export async function readPatchIntervals(
  handle: DatabaseHandle,
  runId: number,
): Promise<{ idx: number[]; iouLow: number[]; iouHigh: number[] }> {
  const { patchIntervals } = handle.t;
  const out = { idx: [] as number[], iouLow: [] as number[], iouHigh: [] as number[] };
  const rows = keysetRows(
    (after: number | undefined, limit) =>
      selectValues(
        handle,
        handle.db
          .select({ idx: patchIntervals.idx, iouLow: patchIntervals.iouLow, iouHigh: patchIntervals.iouHigh })
          .from(patchIntervals)
          .where(
            and(
              eq(patchIntervals.runId, runId),
              after === undefined ? undefined : gt(patchIntervals.idx, after),
            ),
          )
          .orderBy(asc(patchIntervals.idx))
          .limit(limit),
      ),
    (row) => row[0] as number,
  );
  for await (const [idx, lo, hi] of rows) {
    out.idx.push(idx as number);
    out.iouLow.push(lo as number);
    out.iouHigh.push(hi as number);
  }
  return out;
}

/** What the insights read of a run before its patches: how many, how many components, the surface's target. */
export interface InsightRunShape {
  patches: number;
  /** The run's principal components (absent from very old runs: 9). */
  components: number;
  surfaceEmpty: string | null;
}

export async function insightRunShape(handle: DatabaseHandle, runId: number): Promise<InsightRunShape> {
  const { analysisRuns, patches } = handle.t;
  const [settings] = await handle.db
    .select({
      components: jsonNumber(handle, analysisRuns.settings, ['nComponents']),
      surfaceEmpty: jsonText(handle, analysisRuns.settings, ['surfaceEmpty']),
    })
    .from(analysisRuns)
    .where(eq(analysisRuns.id, runId));
  const [counted] = await handle.db.select({ n: count() }).from(patches).where(eq(patches.runId, runId));
  return {
    patches: counted?.n ?? 0,
    components: settings?.components ?? 9,
    surfaceEmpty: settings?.surfaceEmpty ?? null,
  };
}

/**
 * One patch with its evidence as the insights read it: idx, key, group, iou, iouHat, novelty, gtFraction,
 * predFraction, tp, fp, fn, cluster, empty, estimatorHoldout, probInside, probOutside, boundaryIou,
 * evidence idx (null when the evidence pass has not seen the patch), then pc1..pc`components`.
 */
export type InsightPatchTuple = unknown[];

/** Streams the patches in idx order with their evidence, as raw tuples (see InsightPatchTuple): one pass, no objects. */
export function iterateInsightPatches(
  handle: DatabaseHandle,
  runId: number,
  components: number,
): AsyncGenerator<InsightPatchTuple> {
  const { patches, patchEvidence } = handle.t;
  const k = Math.max(0, Math.min(9, Math.floor(components)));
  const fields = {
    idx: patches.idx,
    patchKey: patches.patchKey,
    groupName: patches.groupName,
    iou: patches.iou,
    iouHat: patches.iouHat,
    novelty: patches.novelty,
    gtFraction: patches.gtFraction,
    predFraction: patches.predFraction,
    tp: patches.tp,
    fp: patches.fp,
    fn: patches.fn,
    cluster: patches.cluster,
    empty: patches.empty,
    estimatorHoldout: patches.estimatorHoldout,
    probInside: patchEvidence.probInside,
    probOutside: patchEvidence.probOutside,
    boundaryIou: patchEvidence.boundaryIou,
    evidenceIdx: patchEvidence.idx,
    ...Object.fromEntries(
      pcColumns(patches)
        .slice(0, k)
        .map((c, j) => [`pc${j + 1}`, c]),
    ),
  };
  return keysetRows(
    (after: number | undefined, limit) =>
      selectValues(
        handle,
        handle.db
          .select(fields)
          .from(patches)
          .leftJoin(
            patchEvidence,
            and(eq(patchEvidence.runId, patches.runId), eq(patchEvidence.idx, patches.idx)),
          )
          .where(and(eq(patches.runId, runId), after === undefined ? undefined : gt(patches.idx, after)))
          .orderBy(asc(patches.idx))
          .limit(limit),
      ),
    (row) => row[0] as number,
  );
}
