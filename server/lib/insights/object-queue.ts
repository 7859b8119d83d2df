/**
 * The review queue of label errors per object: each kind its own queue, strongest evidence first, with the
 * object's outline, the suggested fix and the patch it lies in.
 */
import { requireRun } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { getInsightRecord } from '../db/insight-records.ts';
import {
  countLabelObjects,
  labelObjectPage,
  type LabelObjectKind,
  type LabelObjectListed,
} from '../db/label-objects-repo.ts';
import { FIX_OF_KIND, instruction, josmLink } from '../exports/label-fixes.ts';
import { InsightsError } from './errors.ts';

export interface LabelObjectItem extends Omit<LabelObjectListed, 'z' | 'x' | 'y'> {
  tile: { z: number; x: number; y: number } | null;
  fix: (typeof FIX_OF_KIND)[LabelObjectKind];
  instruction: string;
  /** JOSM remote-control link, when the object is on a map. */
  josm: string | null;
}

async function requireEvidence(db: DatabaseHandle, runId: number): Promise<void> {
  await requireRun(db, runId);
  if (!(await getInsightRecord(db, runId, 'evidence'))) {
    throw new InsightsError(
      `run ${runId} has no label errors per object yet: the evidence pass has not run`,
      { hint: `npx tsx server/lib/insights/run-insights.ts --run ${runId}` },
    );
  }
}

/** Objects of each kind. */
export async function labelObjectCounts(
  db: DatabaseHandle,
  runId: number,
): Promise<Record<LabelObjectKind, number>> {
  await requireEvidence(db, runId);
  return await countLabelObjects(db, runId);
}

/** A page of one kind's queue. */
export async function labelObjectQueue(
  db: DatabaseHandle,
  runId: number,
  kind: LabelObjectKind,
  offset: number,
  limit: number,
): Promise<LabelObjectItem[]> {
  await requireEvidence(db, runId);
  return (await labelObjectPage(db, runId, kind, offset, Math.min(limit, 1000))).map(({ z, x, y, ...o }) => ({
    ...o,
    tile: z === null || x === null || y === null ? null : { z, x, y },
    fix: FIX_OF_KIND[o.kind],
    instruction: instruction(o),
    josm: o.outline ? josmLink(o.outline) : null,
  }));
}
