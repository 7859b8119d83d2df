/**
 * The training patches nearest a point of a run's principal-component space: the evidence shown beside a
 * tile's score. A streamed brute-force scan with a small sorted buffer: exact, O(n·k) time, O(k) memory,
 * fast enough (~0.1 s per million patches) for one click.
 */
import type { DatabaseHandle } from '../db/client.ts';
import { PC_COUNT, patchSummaries, runPatchComponents } from '../db/latent-repo.ts';

export interface NearPatch {
  idx: number;
  patchKey: string;
  group: string | null;
  iou: number | null;
  iouHat: number | null;
  cluster: number | null;
  distance: number;
}

/** The k patches nearest `pcs` (the first 9 components count), nearest first; patches without components never count. */
export async function nearestPatches(
  db: DatabaseHandle,
  runId: number,
  pcs: number[],
  k: number,
): Promise<NearPatch[]> {
  const dims = Math.min(PC_COUNT, pcs.length);
  const best: Array<{ d: number; idx: number }> = [];
  for await (const row of runPatchComponents(db, runId)) {
    let d = 0;
    for (let i = 0; i < dims; i++) {
      const v = row[i + 1] as number | null;
      if (v === null) {
        d = Number.POSITIVE_INFINITY;
        break;
      }
      d += (v - pcs[i]) ** 2;
    }
    if (!Number.isFinite(d) || (best.length === k && d >= best[k - 1].d)) continue;
    let at = best.length;
    while (at > 0 && best[at - 1].d > d) at--;
    best.splice(at, 0, { d, idx: row[0] as number });
    if (best.length > k) best.pop();
  }
  const byIdx = new Map(
    (
      await patchSummaries(
        db,
        runId,
        best.map((b) => b.idx),
      )
    ).map((p) => [p.idx, p]),
  );
  return best.map(({ d, idx }) => {
    const p = byIdx.get(idx)!;
    return {
      idx,
      patchKey: p.patchKey,
      group: p.groupName,
      iou: p.iou,
      iouHat: p.iouHat,
      cluster: p.cluster,
      distance: Math.sqrt(d),
    };
  });
}
