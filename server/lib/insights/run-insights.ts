/**
 * All of a run's insights in order: the evidence pass (model over the dataset again), label-error scores,
 * confidence intervals, failure families. Also a command:
 *
 *   npx tsx server/lib/insights/run-insights.ts --run 2 [--db data/tilelens.db]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { DatabaseHandle } from '../db/client.ts';
import type { PatchSource } from '../datasets/patch-source.ts';
import { loadModel, type SegmentationModel } from '../model/runtime.ts';
import { fitConfidenceIntervals, type ConfidenceRecord } from './confidence-intervals.ts';
import { buildFamilies, type FamiliesReport } from './failure-families.ts';
import { scoreLabelErrors } from './label-errors.ts';
import { computePatchEvidence } from './patch-evidence.ts';
import { openRunDataset, runModelPath } from './run-dataset.ts';

export interface InsightsSummary {
  runId: number;
  evidence: { patches: number; seconds: number } | null;
  labelErrors: { patches: number; usedEvidence: boolean; seconds: number };
  confidence: ConfidenceRecord;
  families: FamiliesReport;
  seconds: Record<string, number>;
}

export interface RunInsightsOptions {
  /** Skip the evidence pass (label errors then fall back to recall / precision, families lack boundary IoU). */
  skipEvidence?: boolean;
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
  if (!options.skipEvidence) {
    const model = options.model ?? (await loadModel(runModelPath(db, runId)));
    const source = options.source ?? openRunDataset(db, runId);
    try {
      evidence = await computePatchEvidence(db, runId, model, source, {
        onProgress: (d, t) => options.onProgress?.('evidence', d, t),
      });
      seconds.evidence = evidence.seconds;
    } finally {
      if (!options.source) await source.close();
      if (!options.model) await model.dispose();
    }
  }
  let t0 = performance.now();
  const labelErrors = scoreLabelErrors(db, runId);
  seconds.labelErrors = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const confidence = fitConfidenceIntervals(db, runId);
  seconds.confidence = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const families = buildFamilies(db, runId);
  seconds.families = (performance.now() - t0) / 1000;
  return { runId, evidence, labelErrors, confidence, families, seconds };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { run: { type: 'string' }, db: { type: 'string' }, 'skip-evidence': { type: 'boolean' } },
  });
  const { openDatabase } = await import('../db/client.ts');
  const { defaultDbPath } = await import('../paths.ts');
  if (!values.run) {
    console.error(
      'usage: npx tsx server/lib/insights/run-insights.ts --run <runId> [--db data/tilelens.db] [--skip-evidence]',
    );
    process.exit(2);
  }
  const db = openDatabase(values.db ?? defaultDbPath);
  try {
    const s = await runInsights(db, Number(values.run), { skipEvidence: values['skip-evidence'] });
    const m = s.confidence.methods.mlpMondrian;
    console.log(
      JSON.stringify({
        runId: s.runId,
        seconds: s.seconds,
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
    db.close();
  }
}
