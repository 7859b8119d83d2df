/**
 * How much volunteer effort the ranking saves, measured where the truth is known (the demo world, whose
 * generator recorded every tile's building share): the share of tiles volunteers can skip while still
 * seeing 95 % / 99 % of the building tiles, ranked by priority, by the model's building probability
 * alone, and in random order (which skips 1 − recall in expectation: the baseline).
 */
import { getDataset, getRun } from '../db/analysis-repo.ts';
import { readDemoTiles } from '../datasets/demo-world.ts';
import type { ScoringContext } from './context.ts';
import { skippedAtRecall, type RecallResult, type TruthTile } from './effort.ts';
import { ScoringError } from './errors.ts';
import { iterateScoredTiles } from './tiles-repo.ts';
import { randomScore } from './random-order.ts';

const EVALUATION_RECALLS = [0.95, 0.99] as const;

async function truthFor(ctx: ScoringContext, runId: number): Promise<Map<string, boolean>> {
  const run = await getRun(ctx.db, runId);
  const dataset = run ? await getDataset(ctx.db, run.datasetId) : undefined;
  const world = dataset?.kind === 'demo_world' ? dataset.source.world : undefined;
  if (typeof world !== 'string') {
    throw new ScoringError(
      'no-truth',
      `the truth of this project's tiles is not known: its reference run ${runId} is not on a demo world`,
      {
        hint: 'evaluation needs known ground truth; for real regions compare with MapSwipe results through tiles.csv',
      },
    );
  }
  const truth = new Map<string, boolean>();
  for (const t of readDemoTiles(world)) truth.set(t.taskId, t.gtFraction > 0);
  return truth;
}

const pick = (r: RecallResult) => ({
  skippedShare: Number(r.skippedShare.toFixed(4)),
  skipped: r.skipped,
  sent: r.sent,
  threshold: r.threshold,
  achievedRecall: Number(r.achievedRecall.toFixed(4)),
});

export async function evaluateProject(ctx: ScoringContext, project: { id: number; runId: number }) {
  const truth = await truthFor(ctx, project.runId);
  const counts = { tiles: 0, buildingTiles: 0, unscored: 0, outsideTruth: 0 };
  // Each ranking re-reads the tiles from the database: a pass costs time, never memory.
  async function* truthTiles(count = false): AsyncGenerator<TruthTile & { taskId: string }> {
    for await (const t of iterateScoredTiles(ctx, project.id)) {
      const holds = truth.get(t.taskId);
      if (t.status !== 'scored' || holds === undefined) {
        if (count) counts[t.status !== 'scored' ? 'unscored' : 'outsideTruth']++;
        continue;
      }
      if (count) {
        counts.tiles++;
        if (holds) counts.buildingTiles++;
      }
      yield { taskId: t.taskId, priority: t.priority, buildingProb: t.buildingProb, holdsBuilding: holds };
    }
  }
  for await (const _ of truthTiles(true));
  if (counts.tiles === 0) {
    throw new ScoringError('not-scored', `project ${project.id} has no scored tiles with known truth yet`, {
      hint: `score it first: POST /api/projects/${project.id}/score`,
    });
  }
  const random = (t: TruthTile) => randomScore((t as TruthTile & { taskId: string }).taskId);
  const skippedAtRecallBy: Record<
    string,
    Record<'priority' | 'prediction' | 'random', ReturnType<typeof pick>>
  > = {};
  for (const recall of EVALUATION_RECALLS) {
    skippedAtRecallBy[String(recall)] = {
      priority: pick(await skippedAtRecall(truthTiles(), recall, 'priority')),
      prediction: pick(await skippedAtRecall(truthTiles(), recall, 'buildingProb')),
      random: pick(await skippedAtRecall(truthTiles(), recall, random)),
    };
  }
  return { projectId: project.id, ...counts, skippedAtRecall: skippedAtRecallBy };
}
