import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ActivationReader, ActivationWriter } from '../../server/lib/analysis/activation-store.ts';
import { analyzeLatentSpace } from '../../server/lib/analysis/latent-analysis.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tilelens-latent-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 3 latent groups in 32-d: 0 empty countryside, 1 sparse, 2 built-up; IoU grows along the first latent axis. */
function synthetic(n: number) {
  const rng = createRng(5);
  const d = 32;
  const basis = Float32Array.from({ length: 3 * d }, () => rng.normal());
  const file = path.join(dir, 'acts.f16');
  const w = ActivationWriter.create(file, { dims: d, dtype: 'float16' });
  const iou: (number | null)[] = [];
  const gtFraction = new Float32Array(n);
  const row = new Float32Array(d);
  for (let i = 0; i < n; i++) {
    const g = i % 3;
    const z = [g * 8 + rng.normal(), rng.normal(), rng.normal() * 0.5];
    for (let j = 0; j < d; j++)
      row[j] = 2 + 0.05 * rng.normal() + z[0] * basis[j] + z[1] * basis[d + j] + z[2] * basis[2 * d + j];
    w.append(row, 1);
    gtFraction[i] = g === 0 ? 0 : g === 1 ? 0.03 : 0.3;
    iou.push(g === 0 ? null : 1 / (1 + Math.exp(-((z[0] - 12) / 2 + Math.sin(2 * z[1])))));
  }
  w.close();
  return { file, iou, gtFraction };
}

describe('analyzeLatentSpace', () => {
  it('runs every stage on a small store and returns consistent results', async () => {
    const n = 1500;
    const { file, iou, gtFraction } = synthetic(n);
    const reader = ActivationReader.open(file);
    const stages = new Set<string>();
    const r = await analyzeLatentSpace(
      reader,
      { iou, gtFraction },
      { nComponents: 4, seed: 1, kMax: 6, chunkRows: 256, mlpEpochs: 60, onProgress: (s) => stages.add(s) },
    );
    reader.close();
    expect([...stages]).toEqual(['pca-fit', 'pca-transform', 'estimator', 'kmeans', 'dbscan']);
    expect(r.pcs.length).toBe(n * 4);
    expect(r.explainedVarianceRatio[0]).toBeGreaterThan(0.8);
    expect(r.estimator.nExcluded).toBe(500);
    expect(r.estimator.nTrain + r.estimator.nTest).toBe(1000);
    expect(r.estimator.heldOutR2).toBeGreaterThan(0.8);
    expect(r.estimator.heldOutR2).toBeGreaterThan(r.estimator.meanPredictorR2);
    expect(r.estimator.oofR2).toBeGreaterThan(0.7);
    expect(r.iouHat.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(r.kmeans.chosenK).toBe(3);
    expect(r.kmeans.labels.length).toBe(n);
    expect(r.clusters.reduce((s, c) => s + c.size, 0)).toBe(n);
    for (const c of r.clusters) {
      expect(c.representatives).toHaveLength(5);
      for (const i of c.representatives) expect(r.kmeans.labels[i]).toBe(c.cluster);
    }
    const builtUp = r.clusters.find((c) => c.meanGtFraction > 0.2)!;
    expect(r.urbanised.clusters).toEqual([builtUp.cluster]);
    expect(r.urbanised.reason).toMatch(/%/);
    expect(r.dbscan!.adjustedRand).toBeGreaterThan(0.8);
    expect(Object.keys(r.timings)).toEqual([
      'pcaFit',
      'pcaTransform',
      'estimator',
      'kmeans',
      'dbscan',
      'clusters',
    ]);
  });

  it('refuses per-patch arrays of another length', async () => {
    const { file } = synthetic(60);
    const reader = ActivationReader.open(file);
    await expect(
      analyzeLatentSpace(reader, { iou: new Float32Array(59), gtFraction: new Float32Array(60) }),
    ).rejects.toThrow(/60 patches but perPatch has 59/);
    reader.close();
  });
});
