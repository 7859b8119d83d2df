/**
 * End to end on a freshly built demo world: the committed demo U-Net through onnxruntime-node, the reference
 * analysis, the database — and the check that the analysis *finds* what the world planted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld } from '../../scripts/demo-world/generate.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { getClusters, getPatches, getRun } from '../../server/lib/db/analysis-repo.ts';
import { openDemoWorldDataset } from '../../server/lib/datasets/demo-world.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { analyzeDataset, type AnalysisSummary } from '../../server/lib/analysis/analyze-dataset.ts';
import { demoModelPath } from '../../server/lib/paths.ts';
import { TileModel, type TileModelState } from '../../server/lib/analysis/tile-model.ts';
import { chooseRegionLook } from '../../server/lib/analysis/restoration.ts';
import { hazed } from '../fixtures/hazed.ts';

/** An RGB tile as a sensor with `f`× coarser pixels would record it: f×f blocks averaged, then shown at full size. */
function coarser(rgb: Uint8Array, side: number, f: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let y0 = 0; y0 < side; y0 += f)
    for (let x0 = 0; x0 < side; x0 += f)
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        let count = 0;
        for (let y = y0; y < Math.min(side, y0 + f); y++)
          for (let x = x0; x < Math.min(side, x0 + f); x++, count++) sum += rgb[3 * (y * side + x) + c];
        for (let y = y0; y < Math.min(side, y0 + f); y++)
          for (let x = x0; x < Math.min(side, x0 + f); x++)
            out[3 * (y * side + x) + c] = Math.round(sum / count);
      }
  return out;
}

let dir: string;
let db: DatabaseHandle;
let summary: AnalysisSummary;

type Row = {
  patchKey: string;
  groupName: string | null;
  iou: number | null;
  empty: boolean;
  gtFraction: number;
  predFraction: number;
  cluster: number | null;
  iouHat: number | null;
  phenomena: string[] | null;
  pc1: number | null;
};
let rows: Row[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-e2e-'));
  // The full-size world: the small one has too few building tiles for a meaningful held-out R².
  await generateDemoWorld({ seed: 7, outDir: join(dir, 'world'), scale: 'full' });
  db = await openDatabase(join(dir, 'tilelens.db'));
  const model = await loadModel(demoModelPath);
  const source = openDemoWorldDataset(join(dir, 'world'), 'train');
  try {
    summary = await analyzeDataset({
      db,
      model,
      modelPath: demoModelPath,
      source,
      runsDir: join(dir, 'runs'),
    });
  } finally {
    await source.close();
    await model.dispose();
  }
  rows = (await getPatches(db, summary.runId, {
    limit: 10_000,
    columns: [
      'patchKey',
      'groupName',
      'iou',
      'empty',
      'gtFraction',
      'predFraction',
      'cluster',
      'iouHat',
      'phenomena',
      'pc1',
    ],
  })) as Row[];
});

afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const has = (r: Row, p: string) => (r.phenomena ?? []).includes(p);

describe('reference analysis of the demo U-Net on the demo world', () => {
  it('stores one complete run with every training tile', async () => {
    expect(summary.patchesAnalysed).toBe(1600);
    expect(rows).toHaveLength(1600);
    const run = (await getRun(db, summary.runId))!;
    expect(run.pca.components).toHaveLength(9);
    expect(rows.every((r) => r.pc1 !== null && r.cluster !== null && r.iouHat !== null)).toBe(true);
  });

  it('reaches a decent held-out IoU', () => {
    expect(summary.modelHeldOutIou.split).toBe('test');
    expect(summary.modelHeldOutIou.pooled).toBeGreaterThan(0.6);
  });

  it('gives the planted label errors (construction sites) low IoU', () => {
    const planted = rows.filter((r) => has(r, 'construction_site'));
    const buildings = rows.filter((r) => r.gtFraction > 0.05 && !has(r, 'construction_site'));
    expect(planted.length).toBeGreaterThanOrEqual(10);
    const plantedIou = planted.map((r) => r.iou ?? 0);
    expect(mean(plantedIou)).toBeLessThan(0.2);
    expect(median(buildings.map((r) => r.iou ?? 0))).toBeGreaterThan(0.6);
  });

  it('flags empty tiles instead of scoring them IoU 0', () => {
    const noBuildings = rows.filter((r) => has(r, 'no_buildings'));
    const flagged = noBuildings.filter((r) => r.empty && r.iou === null);
    expect(flagged.length / noBuildings.length).toBeGreaterThan(0.8);
    expect(rows.filter((r) => r.empty).every((r) => r.iou === null)).toBe(true);
    expect(summary.emptyPatches).toBe(rows.filter((r) => r.empty).length);
  });

  it('keeps parking lots and cemeteries out of the ground truth', () => {
    const lookAlikes = rows.filter((r) => has(r, 'parking_lot') || has(r, 'cemetery'));
    expect(lookAlikes.length).toBeGreaterThanOrEqual(20);
    expect(lookAlikes.every((r) => r.gtFraction === 0)).toBe(true);
  });

  it('fits an IoU surface that beats the mean predictor on held-out patches', () => {
    expect(summary.estimator.nTest).toBeGreaterThanOrEqual(30);
    expect(summary.estimator.r2).toBeGreaterThan(summary.estimator.meanPredictorR2 + 0.2);
    expect(summary.estimator.mae).toBeLessThan(summary.estimator.meanPredictorMae);
  });

  it('puts the dense districts in the urbanised clusters', async () => {
    const urban = new Set(summary.urbanisedClusters);
    expect(urban.size).toBeGreaterThan(0);
    const dense = rows.filter((r) => r.groupName === 'dense_town' && r.gtFraction > 0);
    const inUrban = dense.filter((r) => urban.has(r.cluster!));
    expect(inUrban.length / dense.length).toBeGreaterThan(0.8);
    const forest = rows.filter((r) => r.groupName === 'forest' && !has(r, 'construction_site'));
    expect(forest.filter((r) => urban.has(r.cluster!)).length / forest.length).toBeLessThan(0.2);
    const clusters = await getClusters(db, summary.runId);
    expect(
      clusters
        .filter((c) => c.urbanised)
        .map((c) => c.cluster)
        .sort(),
    ).toEqual([...urban].sort());
    expect(summary.urbanisedReason).toMatch(/building share/);
  });

  it('stores a tile model whose ranker reads how the model paints each tile and its mirror image', async () => {
    const run = (await getRun(db, summary.runId))!;
    const state = run.tileModel as unknown as TileModelState;
    expect(state.ranker?.groups).toEqual(['prediction', 'uncertainty', 'agreement']);
    // Fitted on the tiles outside the model's training split, like the classifier, and better than the base rate.
    expect(state.ranker!.fittedOn).toBe(state.classifier.fittedOn);
    expect(state.ranker!.crossValidated.logLoss).toBeLessThan(state.ranker!.crossValidated.baselineLogLoss);
    // Every reference patch was looked at twice, so the classifier's selection weighed agreement too.
    expect(state.classifier.selection.some((s) => s.groups.includes('agreement'))).toBe(true);
    // Scoring with this run looks at each tile's mirror image.
    expect(TileModel.fromState(state).readsMirror).toBe(true);
  });

  it('reads hazy and coarse imagery through a restored look, and clear imagery as served', async () => {
    const tileModel = TileModel.fromState(
      (await getRun(db, summary.runId))!.tileModel as unknown as TileModelState,
    );
    const source = openDemoWorldDataset(join(dir, 'world'), 'train');
    const tiles: Uint8Array[] = [];
    let side = 0;
    try {
      for await (const p of source.patches()) {
        side = p.width;
        tiles.push(p.image);
        if (tiles.length === 40) break;
      }
    } finally {
      await source.close();
    }
    const lookOf = (batch: Uint8Array[]) => chooseRegionLook(tileModel.lookRatios(batch, side, side)).look;
    // Imagery like the reference's is read as served.
    expect(lookOf(tiles)).toBe('original');
    // 45 % of a bright airlight over the same tiles: dehazed.
    expect(lookOf(tiles.map((t) => hazed(t, 0.45)))).toBe('dehazed');
    // The same tiles from a sensor with a third of the resolution: sharpened.
    expect(lookOf(tiles.map((t) => coarser(t, side, 3)))).toBe('sharpened');
  });

  it('reuses a stored run for the same model, data and settings', async () => {
    const model = await loadModel(demoModelPath);
    const source = openDemoWorldDataset(join(dir, 'world'), 'train');
    try {
      const again = await analyzeDataset({
        db,
        model,
        modelPath: demoModelPath,
        source,
        runsDir: join(dir, 'runs'),
        reuse: true,
      });
      expect(again.reused).toBe(true);
      expect(again.runId).toBe(summary.runId);
    } finally {
      await source.close();
      await model.dispose();
    }
  });
});
