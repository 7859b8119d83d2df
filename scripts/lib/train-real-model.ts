/**
 * Trains the demo U-Net recipe on real image / mask pairs (PyTorch, in the project's training venv) and writes
 * the ONNX model with its sidecar: for `npm run eval:real` and the trust benchmark. Training is the only step that
 * needs Python; tilelens itself runs the result through onnxruntime.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { openManifestDataset } from '../../server/lib/datasets/manifest.ts';
import type { ImagePair } from '../../server/lib/datasets/folder.ts';
import type { PatchSource } from '../../server/lib/datasets/patch-source.ts';
import { repoRoot } from '../../server/lib/paths.ts';
import { stderrProgress } from '../../server/lib/progress.ts';

/** Writes the training datasets' patches as the trainer's arrays (images.u8, masks.u8, index.json). */
async function exportArrays(source: PatchSource, outDir: string): Promise<Record<string, number>> {
  mkdirSync(outDir, { recursive: true });
  const images = await open(join(outDir, 'images.u8'), 'w');
  const masks = await open(join(outDir, 'masks.u8'), 'w');
  const index: Array<{ taskId: string; split: string; district: string; phenomena: string[] }> = [];
  const counts: Record<string, number> = {};
  const progress = stderrProgress('train-real-model');
  try {
    for await (const p of source.patches()) {
      await images.write(p.image);
      await masks.write(p.mask);
      index.push({ taskId: p.key, split: p.split, district: p.group, phenomena: [] });
      counts[p.split] = (counts[p.split] ?? 0) + 1;
      progress('export arrays', index.length, source.size);
    }
  } finally {
    await Promise.all([images.close(), masks.close()]);
  }
  writeFileSync(join(outDir, 'index.json'), JSON.stringify(index) + '\n');
  return counts;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: repoRoot });
    child.on('error', fail);
    child.on('exit', (code) =>
      code === 0 ? ok() : fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

/** The venv `scripts/train-demo-model.sh` makes, created the same way when missing. */
async function ensureTrainingVenv(): Promise<string> {
  const python = join(repoRoot, '.venv-train/bin/python');
  try {
    await run(python, ['-c', 'import torch, onnx']);
  } catch {
    process.stderr.write('eval-real: creating .venv-train (torch 2.13.0, onnx)…\n');
    await run('python3', ['-m', 'venv', join(repoRoot, '.venv-train')]);
    await run(join(repoRoot, '.venv-train/bin/pip'), ['install', '--quiet', 'torch==2.13.0', 'onnx']);
  }
  return python;
}

export interface TrainRealOptions {
  realdata: string;
  /** Datasets (manifest `dataset` column) to train on. */
  groups: string[];
  /** Split of each source image: 'train' and 'val' are used, anything else is left out of the arrays' use. */
  split: (pair: ImagePair) => string;
  /** Folder for the temporary training arrays. */
  workDir: string;
  modelDir: string;
  seed: number;
  epochs: number;
  maxMinutes: number;
  name?: string;
  /**
   * The network's shape (train_demo_unet.py): input side (128 halves the 256-px tiles; 256 keeps every pixel),
   * base width and training crop at model resolution. The trainer's defaults where absent.
   */
  architecture?: { size?: number; width?: number; crop?: number };
  /** Extra cross-entropy weight on pixels at the label's edges (train_demo_unet.py --boundary-weight). */
  boundaryWeight?: number;
}

/** Exports the training arrays, trains, removes the arrays; returns the patch counts by split. */
export async function trainRealModel(o: TrainRealOptions): Promise<Record<string, number>> {
  const source = await openManifestDataset(join(o.realdata, 'manifest.csv'), {
    groupColumn: 'dataset',
    groups: o.groups,
    patchSize: 256,
    // Last windows shifted inside the image rather than padded (see eval-real.ts).
    edge: 'shift',
    split: o.split,
  });
  const arraysDir = join(o.workDir, `arrays-${o.name ?? 'real-unet'}`);
  const counts = await exportArrays(source, arraysDir);
  process.stderr.write(`train-real-model: training patches by split ${JSON.stringify(counts)}\n`);
  const python = await ensureTrainingVenv();
  try {
    await run(python, [
      'scripts/model/train_demo_unet.py',
      '--arrays',
      arraysDir,
      '--out',
      o.modelDir,
      '--name',
      o.name ?? 'real-unet',
      '--seed',
      String(o.seed),
      '--epochs',
      String(o.epochs),
      '--max-minutes',
      String(o.maxMinutes),
      ...Object.entries(o.architecture ?? {}).flatMap(([k, v]) =>
        v === undefined ? [] : [`--${k}`, String(v)],
      ),
      ...(o.boundaryWeight ? ['--boundary-weight', String(o.boundaryWeight)] : []),
    ]);
  } finally {
    // The arrays are a training by-product (hundreds of MB); the model and its sidecar stay.
    rmSync(arraysDir, { recursive: true, force: true });
  }
  return counts;
}
