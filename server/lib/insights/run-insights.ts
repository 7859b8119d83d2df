/**
 * All of a run's insights in order: the evidence pass (model over the dataset again: per-patch evidence and
 * label errors per object), label-error scores, confidence intervals, failure families. A step that cannot run
 * (the dataset cannot be reopened) is skipped with its reason, in one line, and the rest run without it. Also a
 * command:
 *
 *   npx tsx server/lib/insights/run-insights.ts --run 2 [--db data/tilelens.db] [--skip-evidence]
 *                                               [--metres-per-pixel 0.3]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { DatabaseHandle } from '../db/client.ts';
import type { PatchSource } from '../datasets/patch-source.ts';
import { loadModel, type SegmentationModel } from '../model/runtime.ts';
import { fitConfidenceIntervals, type ConfidenceRecord } from './confidence-intervals.ts';
import { countLabelObjects, type LabelObjectKind } from '../db/label-objects-repo.ts';
import { InsightsError } from './errors.ts';
import { buildFamilies, type FamiliesReport } from './failure-families.ts';
import { scoreLabelErrors } from './label-errors.ts';
import { computePatchEvidence } from './patch-evidence.ts';
import { openRunDataset, runModelPath } from './run-dataset.ts';

export interface InsightsSummary {
  runId: number;
  evidence: { patches: number; objects: number; seconds: number } | null;
  /** Label errors per object, by kind (empty without the evidence pass). */
  labelObjects: Record<LabelObjectKind, number>;
  /** Steps not run, each with why. */
  skipped: Array<{ step: string; why: string }>;
  labelErrors: { patches: number; usedEvidence: boolean; seconds: number };
  confidence: ConfidenceRecord;
  families: FamiliesReport;
  seconds: Record<string, number>;
}

export interface RunInsightsOptions {
  /** Skip the evidence pass (label errors then fall back to recall / precision, families lack boundary IoU). */
  skipEvidence?: boolean;
  /** Ground size of a dataset pixel, for shifts in metres where patches are not map tiles. */
  metresPerPixel?: number;
  /** Defaults: the run's own model and dataset, reopened. */
  model?: SegmentationModel;
  source?: PatchSource;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export async function runInsights(
  db: DatabaseHandle,
  runId: number,
  options: RunInsightsOptions = {},
): Promise<InsightsSummary> {
  const seconds: Record<string, number> = {};
  let evidence: InsightsSummary['evidence'] = null;
  const skipped: InsightsSummary['skipped'] = [];
  if (options.skipEvidence) skipped.push({ step: 'evidence', why: 'asked to (--skip-evidence)' });
  else {
    let source = options.source;
    try {
      source ??= await openRunDataset(db, runId);
    } catch (err) {
      if (!(err instanceof InsightsError) && (err as { name?: string }).name !== 'DatasetError') throw err;
      skipped.push({ step: 'evidence', why: (err as Error).message });
    }
    if (source) {
      const model = options.model ?? (await loadModel(await runModelPath(db, runId)));
      try {
        evidence = await computePatchEvidence(db, runId, model, source, {
          onProgress: (d, t) => options.onProgress?.('evidence', d, t),
          ...(options.metresPerPixel ? { objects: { metresPerPixel: options.metresPerPixel } } : {}),
        });
        seconds.evidence = evidence.seconds;
      } finally {
        if (!options.source) await source.close();
        if (!options.model) await model.dispose();
      }
    }
  }
  let t0 = performance.now();
  const labelErrors = await scoreLabelErrors(db, runId);
  seconds.labelErrors = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const confidence = await fitConfidenceIntervals(db, runId);
  seconds.confidence = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const families = await buildFamilies(db, runId);
  seconds.families = (performance.now() - t0) / 1000;
  const labelObjects = await countLabelObjects(db, runId);
  return { runId, evidence, labelObjects, skipped, labelErrors, confidence, families, seconds };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      run: { type: 'string' },
      db: { type: 'string' },
      'skip-evidence': { type: 'boolean' },
      'metres-per-pixel': { type: 'string' },
    },
  });
  const { openDatabase } = await import('../db/client.ts');
  const { defaultDbPath } = await import('../paths.ts');
  if (!values.run) {
    console.error(
      'usage: npx tsx server/lib/insights/run-insights.ts --run <runId> [--db data/tilelens.db] [--skip-evidence] [--metres-per-pixel M]',
    );
    process.exit(2);
  }
  const db = await openDatabase(values.db ?? defaultDbPath);
  try {
    const mpp = values['metres-per-pixel'] === undefined ? undefined : Number(values['metres-per-pixel']);
    if (mpp !== undefined && !(mpp > 0)) {
      console.error(
        `--metres-per-pixel ${values['metres-per-pixel']}: give the ground size of a pixel in metres, > 0`,
      );
      process.exit(2);
    }
    const s = await runInsights(db, Number(values.run), {
      skipEvidence: values['skip-evidence'],
      metresPerPixel: mpp,
    });
    for (const k of s.skipped) console.error(`run-insights: skipped ${k.step} — ${k.why}`);
    const m = s.confidence.methods.mlpMondrian;
    console.log(
      JSON.stringify({
        runId: s.runId,
        seconds: s.seconds,
        skipped: s.skipped,
        labelObjects: s.labelObjects,
        coverage: m.coverage,
        nominal: s.confidence.nominal,
        meanWidth: m.meanWidth,
        families: s.families.families.map((f) => ({
          id: f.id,
          size: f.size,
          dominantError: f.dominantError,
        })),
      }),
    );
  } finally {
    await db.close();
  }
}
