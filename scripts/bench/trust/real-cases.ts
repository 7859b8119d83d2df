/**
 * The trust benchmark's real-data cases, from `../shared/realdata` (or $REALDATA; skipped when absent):
 *
 * - reference: a U-Net trained on Accra + Dubai (the `train` split of their source images), analysed on their
 *   `train` + `val` images only — the tile classifier learns on `val`, which the model never trained on;
 * - in-distribution: the held-out `test` images of Accra and Dubai, untouched;
 * - shifted: the same test images under coarser resolution (2×, 3×), another sensor's colours, haze and heavy
 *   compression;
 * - unseen: Rio (WorldView-2) and Kitsap (Inria aerial), never in the reference;
 * - with `--leave-one-out`: a model and reference on Accra alone scored on Dubai, and the other way round;
 * - with `--models N`: the Accra + Dubai reference N times, its model trained with seeds 7, 8, … (same split).
 *
 * No tile of a case enters the reference it is scored against.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analyzeDataset } from '../../../server/lib/analysis/analyze-dataset.ts';
import { openDatabase, type DatabaseHandle } from '../../../server/lib/db/client.ts';
import { openPairsDataset, type ImagePair } from '../../../server/lib/datasets/folder.ts';
import { readManifest } from '../../../server/lib/datasets/manifest.ts';
import { loadModel } from '../../../server/lib/model/runtime.ts';
import { repoRoot } from '../../../server/lib/paths.ts';
import { stderrProgress } from '../../../server/lib/progress.ts';
import { splitOf } from '../../eval-real.ts';
import { trainRealModel } from '../../lib/train-real-model.ts';
import { tilesFrom, writeCase, type CaseKind, type TrustCase } from './cases.ts';
import { SHIFTS } from './shifts.ts';

const SEED = 7;

export interface RealReference {
  db: DatabaseHandle;
  runId: number;
  reference: string;
  cases: TrustCase[];
}

function pairsOf(realdata: string, groups: string[]): ImagePair[] {
  return readManifest(join(realdata, 'manifest.csv'), { groupColumn: 'dataset', groups });
}

async function source(name: string, pairs: ImagePair[], split: (p: ImagePair) => string) {
  return openPairsDataset(
    pairs,
    { name, kind: 'manifest', description: { bench: 'trust', name } },
    { patchSize: 256, edge: 'shift', split },
  );
}

/** Trains (once, cached under `dir`) and analyses a reference; returns its database and run. */
async function reference(
  realdata: string,
  dir: string,
  name: string,
  trainGroups: string[],
  split: (p: ImagePair) => string,
  epochs: number,
  modelSeed = SEED,
): Promise<{ db: DatabaseHandle; runId: number; modelSide: number }> {
  const modelDir = join(dir, `model-${name}`);
  const modelPath = join(modelDir, `${name}.onnx`);
  if (!existsSync(modelPath)) {
    process.stderr.write(`trust bench: training ${name} on ${trainGroups.join(' + ')} (${epochs} epochs)…\n`);
    await trainRealModel({
      realdata,
      groups: trainGroups,
      split,
      workDir: dir,
      modelDir,
      seed: modelSeed,
      epochs,
      maxMinutes: 600,
      name,
    });
  }
  const model = await loadModel(modelPath);
  const db = await openDatabase(join(dir, `${name}.db`));
  try {
    const pairs = pairsOf(realdata, trainGroups).filter((p) => ['train', 'val'].includes(split(p)));
    const src = await source(`${name}-reference`, pairs, split);
    const summary = await analyzeDataset({
      db,
      model,
      modelPath,
      source: src,
      runsDir: join(dir, 'runs'),
      reuse: true,
      options: { seed: SEED },
      onProgress: stderrProgress(`trust bench ${name} reference`),
    });
    await src.close?.();
    return { db, runId: summary.runId, modelSide: model.info.inputSize[0] };
  } catch (err) {
    await db.close();
    throw err;
  } finally {
    await model.dispose();
  }
}

let origin = 0;
/** Each case on its own patch of the map, so projects never overlap. */
const nextOrigin = (): [number, number] => [10 + 0.2 * origin++, 0.5];

async function caseOf(
  dir: string,
  name: string,
  kind: CaseKind,
  pairs: ImagePair[],
  split: (p: ImagePair) => string,
  shift: (typeof SHIFTS)[number],
  modelSide: number,
): Promise<TrustCase> {
  const src = await source(name, pairs, split);
  const tiles = await tilesFrom(src, shift, modelSide);
  await src.close?.();
  return writeCase(join(dir, 'cases'), name, kind, tiles, nextOrigin());
}

export async function* realDataCases(
  outDir: string,
  options: { leaveOneOut?: boolean; epochs?: number; models?: number } = {},
): AsyncGenerator<RealReference> {
  const realdata = resolve(process.env.REALDATA ?? join(repoRoot, '../shared/realdata'));
  if (!existsSync(join(realdata, 'manifest.csv'))) {
    process.stderr.write(`trust bench: no real data at ${realdata} — real-data cases skipped\n`);
    return;
  }
  const dir = join(outDir, 'real');
  mkdirSync(dir, { recursive: true });
  const epochs = options.epochs ?? 6;
  const split = (p: ImagePair) => splitOf(p, SEED);

  // The same recipe trained with other seeds: what ranks and what notices a shift is a property of the trained
  // model as much as of the layer over it, so one model per reference is not enough to quote those figures.
  const test = pairsOf(realdata, ['accra', 'dubai']).filter((p) => split(p) === 'test');
  let cases: TrustCase[] | null = null;
  for (let m = 0; m < (options.models ?? 1); m++) {
    const modelSeed = SEED + m;
    const seen = await reference(
      realdata,
      dir,
      m === 0 ? 'accra-dubai' : `accra-dubai-seed-${modelSeed}`,
      ['accra', 'dubai'],
      split,
      epochs,
      modelSeed,
    );
    if (!cases) {
      cases = [];
      for (const shift of SHIFTS) {
        const kind: CaseKind = shift === 'none' ? 'in-distribution' : 'shifted';
        cases.push(
          await caseOf(
            dir,
            `seen-test${shift === 'none' ? '' : `-${shift}`}`,
            kind,
            test,
            split,
            shift,
            seen.modelSide,
          ),
        );
      }
      for (const g of ['rio', 'kitsap']) {
        cases.push(
          await caseOf(dir, g, 'unseen', pairsOf(realdata, [g]), () => 'unseen', 'none', seen.modelSide),
        );
      }
    }
    yield {
      db: seen.db,
      runId: seen.runId,
      reference: m === 0 ? 'Accra + Dubai' : `Accra + Dubai, model seed ${modelSeed}`,
      cases,
    };
  }

  if (!options.leaveOneOut) return;
  for (const [train, other] of [
    ['accra', 'dubai'],
    ['dubai', 'accra'],
  ] as const) {
    const ref = await reference(realdata, dir, `${train}-only`, [train], split, epochs);
    const own = pairsOf(realdata, [train]).filter((p) => split(p) === 'test');
    yield {
      db: ref.db,
      runId: ref.runId,
      reference: `${train} only`,
      cases: [
        await caseOf(dir, `${train}-only-test`, 'in-distribution', own, split, 'none', ref.modelSide),
        await caseOf(
          dir,
          `${other}-from-${train}`,
          'unseen',
          pairsOf(realdata, [other]),
          () => 'unseen',
          'none',
          ref.modelSide,
        ),
      ],
    };
  }
}
