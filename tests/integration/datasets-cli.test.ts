import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModelPath, repoRoot } from '../../server/lib/paths.ts';

const run = promisify(execFile);
let dir: string;

/** `tilelens …` in a child process; resolves with exit code and output even when the command fails. */
async function tilelens(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'server/cli.ts'), ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, TILELENS_DATA_DIR: dir },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Twelve 256² scenes of grass with bright roofs; masks are 3-class (0 ground, 1 road, 2 building) so the run
 * needs --target-class.
 */
async function writeScenes(root: string): Promise<void> {
  await mkdir(join(root, 'images'), { recursive: true });
  await mkdir(join(root, 'masks'), { recursive: true });
  let seed = 11;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let s = 0; s < 12; s++) {
    const img = Buffer.alloc(256 * 256 * 3);
    const mask = Buffer.alloc(256 * 256);
    for (let i = 0; i < 256 * 256; i++) {
      img[i * 3] = 60 + Math.floor(rand() * 20);
      img[i * 3 + 1] = 110 + Math.floor(rand() * 20);
      img[i * 3 + 2] = 50;
    }
    for (let y = 120; y < 136; y++) for (let x = 0; x < 256; x++) mask[y * 256 + x] = 1;
    const roofs = s % 4 === 0 ? 0 : 2 + (s % 5);
    for (let r = 0; r < roofs; r++) {
      const x0 = Math.floor(rand() * 220);
      const y0 = Math.floor(rand() * 220);
      for (let y = y0; y < y0 + 24; y++)
        for (let x = x0; x < x0 + 30; x++) {
          img.fill(225, (y * 256 + x) * 3, (y * 256 + x) * 3 + 3);
          mask[y * 256 + x] = 2;
        }
    }
    const name = `scene_${String(s).padStart(2, '0')}`;
    await sharp(img, { raw: { width: 256, height: 256, channels: 3 } })
      .jpeg({ quality: 92 })
      .toFile(join(root, 'images', `${name}.jpg`));
    await sharp(mask, { raw: { width: 256, height: 256, channels: 1 } })
      .png()
      .toFile(join(root, 'masks', `${name}.png`));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-cli-'));
  await writeScenes(join(dir, 'scenes'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tilelens analyze on a folder dataset', () => {
  it('cuts, analyses and stores the run', async () => {
    const db = join(dir, 'cli.db');
    const args = [
      'analyze',
      '--images',
      join(dir, 'scenes/images'),
      '--masks',
      join(dir, 'scenes/masks'),
      '--patch-size',
      '128',
      '--db',
      db,
    ];
    const refused = await tilelens(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/scene_\d+\.png holds the values 0, 1, 2.*--target-class N/);

    const { code, stdout, stderr } = await tilelens([...args, '--target-class', '2']);
    expect(stderr).not.toMatch(/Error|tilelens: [a-z ]*(must|not|no) /);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary.patchesAnalysed).toBe(48);
    expect(summary.chosenK).toBeGreaterThanOrEqual(2);
    expect(Number.isFinite(summary.estimator.r2)).toBe(true);
    const runs = JSON.parse((await tilelens(['runs', '--db', db])).stdout);
    expect(runs.length).toBe(1);
  });

  it('says what is missing when no training data is named', async () => {
    const { code, stderr } = await tilelens(['analyze', '--db', join(dir, 'x.db')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/no training data named; pass one of --world, --images\/--masks, --manifest/);
  });
});

describe('tilelens layers / sidecar / expose', () => {
  it('lists graph nodes with shapes and marks the suggested bottleneck', async () => {
    const { code, stdout } = await tilelens(['layers', '--model', demoModelPath]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\* bottleneck {2}\[128×16×16\]$/m);
    expect(stdout).toMatch(/^\+ \S+Relu {2}Relu {2}→ bottleneck {2}\[128×16×16\] \(graph output\)$/m);
    expect(stdout).toMatch(/tilelens expose --model/);
  });

  it('writes a sidecar for a model without one, refusing a tensor that is no output until exposed', async () => {
    const model = join(dir, 'copy.onnx');
    await copyFile(demoModelPath, model);
    const base = [
      'sidecar',
      '--model',
      model,
      '--mean',
      '0.47,0.47,0.32',
      '--std',
      '0.25,0.18,0.17',
      '--activation',
      'none',
      '--output',
      'prob',
    ];
    const refused = await tilelens([...base, '--bottleneck', '/net/MaxPool_2_output_0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not a graph output of copy\.onnx; make it one with `tilelens expose/);
    const ok = await tilelens(base);
    expect(ok.code).toBe(0);
    const sidecar = JSON.parse(await readFile(`${model}.tilelens.json`, 'utf8'));
    expect(sidecar).toMatchObject({
      inputSize: [128, 128],
      bottleneck: 'bottleneck',
      outputActivation: 'none',
      output: 'prob',
    });

    const exposed = join(dir, 'exposed.onnx');
    expect(
      (await tilelens(['expose', '--model', model, '--tensor', '/net/MaxPool_2_output_0', '--out', exposed]))
        .code,
    ).toBe(0);
    const again = await tilelens([
      'sidecar',
      '--model',
      exposed,
      '--mean',
      '0.5,0.5,0.5',
      '--std',
      '0.2,0.2,0.2',
      '--activation',
      'none',
      '--output',
      'prob',
      '--bottleneck',
      '/net/MaxPool_2_output_0',
    ]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect((await tilelens(['layers', '--model', exposed])).stdout).toMatch(
      /^\* \/net\/MaxPool_2_output_0 {2}\[64×16×16\]$/m,
    );
  });
});
