/**
 * The evidence pass: the run's model over the run's dataset once more, keeping per patch only the few numbers
 * the label-error score and the failure families need that confusion counts cannot give — how confident the
 * model is inside the labelled footprints and outside them, and the boundary IoU — and the label errors per
 * object (patch-objects.ts). Patches stream in batches; rows are written per batch.
 */
import { iteratePatchKeys, requireRun } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { saveInsightRecord } from '../db/insight-records.ts';
import { clearLabelObjects, writeLabelObjects, type LabelObjectRow } from '../db/label-objects-repo.ts';
import { clearPatchEvidence, writePatchEvidence, type PatchEvidenceRow } from '../db/patch-insights-repo.ts';
import type { PatchSource, Patch } from '../datasets/patch-source.ts';
import { defaultReferenceOptions } from '../analysis/reference.ts';
import { resizeMask, type SegmentationModel } from '../model/runtime.ts';
import { boundaryIou } from './boundary-iou.ts';
import { InsightsError } from './errors.ts';
import { mergeRunAreaOffsets } from './area-offset-merge.ts';
import { LABEL_OBJECT_MODEL_SIDE, labelObjectOptionsAtScale } from './label-objects.ts';
import { patchLabelObjects, type PatchObjectOptions } from './patch-objects.ts';

export interface PatchEvidenceValues {
  probInside: number | null;
  probOutside: number | null;
  boundaryIou: number | null;
}

/** The evidence of one patch from its probabilities and its 0/1 mask at the same size. */
export function evidenceFor(
  probs: ArrayLike<number>,
  gt: ArrayLike<number>,
  width: number,
  height: number,
  threshold = 0.5,
): PatchEvidenceValues {
  let inSum = 0;
  let inN = 0;
  let outSum = 0;
  let outN = 0;
  const pred = new Uint8Array(width * height);
  for (let i = 0; i < pred.length; i++) {
    const p = probs[i];
    pred[i] = p >= threshold ? 1 : 0;
    if (gt[i]) {
      inSum += p;
      inN++;
    } else if (pred[i]) {
      outSum += p;
      outN++;
    }
  }
  return {
    probInside: inN ? inSum / inN : null,
    probOutside: outN ? outSum / outN : null,
    boundaryIou: boundaryIou(gt, pred, width, height),
  };
}

export interface EvidenceOptions {
  batchSize?: number;
  threshold?: number;
  onProgress?: (done: number, total: number) => void;
  /** How label objects are found and measured. */
  objects?: PatchObjectOptions;
}

export async function computePatchEvidence(
  db: DatabaseHandle,
  runId: number,
  model: SegmentationModel,
  source: PatchSource,
  options: EvidenceOptions = {},
): Promise<{ patches: number; objects: number; seconds: number }> {
  const t0 = performance.now();
  const run = await requireRun(db, runId);
  const threshold = options.threshold ?? run.settings.threshold ?? defaultReferenceOptions.threshold;
  const batchSize = options.batchSize ?? 16;
  const idxOf = new Map<string, number>();
  for await (const { idx, key } of iteratePatchKeys(db, runId)) idxOf.set(key, idx);
  const [h, w] = model.info.inputSize;
  // The detector's sizes are set for a 128-px model; one with more pixels gets them in the same ground terms.
  const scale = w / LABEL_OBJECT_MODEL_SIDE;
  const objectOptions = { ...labelObjectOptionsAtScale(scale), threshold, ...options.objects };
  await clearPatchEvidence(db, runId);
  await clearLabelObjects(db, runId);
  let done = 0;
  let objectCount = 0;
  let batch: Patch[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const { width, height } = batch[0];
    const pixels = new Uint8Array(batch.length * width * height * 3);
    batch.forEach((p, i) => pixels.set(p.image, i * width * height * 3));
    const out = await model.predict(pixels, batch.length, [height, width]);
    const rows: PatchEvidenceRow[] = [];
    const objectRows: LabelObjectRow[] = [];
    batch.forEach((p, i) => {
      const idx = idxOf.get(p.key);
      if (idx === undefined) {
        throw new InsightsError(
          `patch ${p.key} of dataset ${source.name} is not in run ${runId}; the dataset changed since the analysis — re-run it`,
        );
      }
      const gt = h === p.height && w === p.width ? p.mask : resizeMask(p.mask, p.height, p.width, h, w);
      const probs = out.probs.subarray(i * h * w, (i + 1) * h * w);
      rows.push({ idx, ...evidenceFor(probs, gt, w, h, threshold) });
      objectRows.push(...patchLabelObjects(idx, p, probs, gt, w, h, objectOptions).rows);
    });
    await writePatchEvidence(db, runId, rows);
    await writeLabelObjects(db, runId, objectRows);
    objectCount += objectRows.length;
    done += batch.length;
    options.onProgress?.(done, source.size);
    batch = [];
  };
  for await (const p of source.patches()) {
    batch.push(p);
    if (batch.length === batchSize) await flush();
  }
  await flush();
  // An imagery offset found in neighbouring patches is one finding, reported once.
  const { absorbed } = await mergeRunAreaOffsets(db, runId);
  objectCount -= absorbed;
  const seconds = (performance.now() - t0) / 1000;
  await saveInsightRecord(db, runId, 'evidence', {
    patches: done,
    threshold,
    objects: objectCount,
    areaOffsetsMerged: absorbed,
    seconds,
  });
  return { patches: done, objects: objectCount, seconds };
}
