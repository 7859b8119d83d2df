/**
 * fAIr in. A model: the demo U-Net laid out as fAIr ships one (`model.onnx` beside `stac-item.json`
 * with MLM metadata); the sidecar proposed from the item must give the same predictions as the demo's
 * own, hand-written sidecar (the truth), once the one thing the item cannot say — that the graph already
 * ends in a probability — is overridden. Predictions: fAIr's polygons filed under the tile that holds
 * them, counted per tile against a count made here, refused whole when bad, and served as Validate
 * objects most urgent tile first.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticProject } from '../fixtures/synthetic-project.ts';
import { fairTileSignalRows, iterateFairObjects } from '../../server/lib/db/fair-repo.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { findFairOnnx, proposeFairSidecar, type StacItem } from '../../server/lib/fair/model.ts';
import { fairObjectsChunks } from '../../server/lib/fair/objects.ts';
import { importFairPredictions } from '../../server/lib/fair/predictions.ts';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { demoModelPath } from '../../server/lib/paths.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { collect } from '../fixtures/collect.ts';
import { sqlGet } from '../../server/lib/db/store-probe.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-fair-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const demoSidecar = JSON.parse(readFileSync(`${demoModelPath}.tilelens.json`, 'utf8'));

/** A fAIr model item (MLM 1.5) for the demo U-Net, as fAIr's registry writes them. */
function stacItem(): StacItem {
  return {
    id: 'demo-unet-buildings',
    properties: {
      'mlm:name': 'demo-unet-buildings',
      'mlm:architecture': 'UNet',
      'mlm:framework': 'PyTorch',
      'mlm:tasks': ['semantic-segmentation'],
      license: 'CC-BY-4.0',
      version: '1',
      'mlm:input': [
        {
          name: 'RGB chips',
          bands: [{ name: 'red' }, { name: 'green' }, { name: 'blue' }],
          input: {
            shape: [-1, 3, 128, 128],
            dim_order: ['batch', 'bands', 'height', 'width'],
            data_type: 'float32',
          },
          value_scaling: demoSidecar.normalization.mean.map((m: number, i: number) => ({
            type: 'z_score',
            mean: m,
            stddev: demoSidecar.normalization.std[i],
          })),
        },
      ],
      'mlm:output': [
        {
          name: 'building probability',
          tasks: ['semantic-segmentation'],
          result: {
            shape: [-1, 1, 128, 128],
            dim_order: ['batch', 'channel', 'height', 'width'],
            data_type: 'float32',
          },
          'classification:classes': [{ name: 'building', value: 1 }],
        },
      ],
    },
    assets: {
      model: {
        href: 'https://example.org/models/demo/model.onnx',
        type: 'application/octet-stream; framework=onnx',
        roles: ['mlm:model'],
        'mlm:artifact_type': 'onnx',
      },
    },
  };
}

describe('a fAIr model', () => {
  it('finds model.onnx beside its STAC item and proposes the sidecar the graph needs', async () => {
    const folder = join(dir, 'model');
    mkdirSync(folder);
    copyFileSync(demoModelPath, join(folder, 'model.onnx'));
    writeFileSync(join(folder, 'stac-item.json'), JSON.stringify(stacItem()));
    const onnx = findFairOnnx(join(folder, 'stac-item.json'), stacItem());
    expect(onnx).toBe(join(folder, 'model.onnx'));

    const proposal = await proposeFairSidecar(stacItem(), onnx);
    expect(proposal.sidecar).toMatchObject({
      name: 'demo-unet-buildings',
      inputSize: [128, 128],
      normalization: demoSidecar.normalization,
      outputActivation: 'sigmoid',
      output: demoSidecar.output,
      bottleneck: demoSidecar.bottleneck,
    });
    expect(proposal.notes.join(' ')).toMatch(/outputActivation/);
    expect(proposal.onnxAsset).toBe('https://example.org/models/demo/model.onnx');

    // With the override the item cannot make, the model predicts exactly what the demo's own sidecar gives.
    const fixed = await proposeFairSidecar(stacItem(), onnx, { outputActivation: 'none' });
    writeFileSync(`${onnx}.tilelens.json`, JSON.stringify(fixed.sidecar));
    const fair = await loadModel(onnx);
    const demo = await loadModel(demoModelPath);
    try {
      const tiles = new Uint8Array(2 * 128 * 128 * 3);
      for (let i = 0; i < tiles.length; i++) tiles[i] = (i * 2654435761) >>> 24;
      const a = await fair.predict(tiles, 2);
      const b = await demo.predict(tiles, 2);
      expect(Array.from(a.probs)).toEqual(Array.from(b.probs));
      expect(Array.from(a.activations)).toEqual(Array.from(b.activations));
    } finally {
      await fair.dispose();
      await demo.dispose();
    }
  });

  it('reads older MLM statistics, softmax heads, and refuses what tilelens cannot run', async () => {
    const item = stacItem();
    const input = (item.properties!['mlm:input'] as any[])[0];
    delete input.value_scaling;
    input.norm_type = 'z_score';
    input.statistics = { mean: [123.7, 116.3, 103.5], stddev: [58.4, 57.1, 57.4] };
    (item.properties!['mlm:output'] as any[])[0].result.shape = [-1, 2, 128, 128];
    (item.properties!['mlm:output'] as any[])[0]['classification:classes'] = [
      { name: 'background', value: 0 },
      { name: 'building', value: 1 },
    ];
    const p = await proposeFairSidecar(item, demoModelPath);
    expect(p.sidecar.normalization).toEqual({
      mean: [123.7, 116.3, 103.5],
      std: [58.4, 57.1, 57.4],
      scale: 1,
    });
    expect(p.sidecar).toMatchObject({ outputActivation: 'softmax', targetClass: 1 });

    input.input.shape = [-1, 4, 128, 128];
    await expect(proposeFairSidecar(item, demoModelPath)).rejects.toThrow(/4 bands/);
    input.input.shape = [-1, 3, -1, -1];
    await expect(proposeFairSidecar(item, demoModelPath)).rejects.toThrow(/no fixed height/);
    await expect(proposeFairSidecar({ properties: {} }, demoModelPath)).rejects.toThrow(/mlm:input/);
  });
});

describe('fAIr predictions', () => {
  let db: DatabaseHandle;
  let ctx: ScoringContext;
  let projectId: number;
  const side = 12;
  const origin = { x: 150_400, y: 120_400 };

  beforeAll(async () => {
    db = await openDatabase(join(dir, 'predictions.db'));
    ctx = { db, dataDir: dir };
    projectId = (await createSyntheticProject(db, { side, origin })).projectId;
  });
  afterAll(async () => await db.close());

  /** A small square inside tile (x, y) at fraction (fx, fy) of it. */
  function square(x: number, y: number, fx: number, fy: number) {
    const [w, s, e, n] = tileBounds(18, x, y);
    const lon = w + (e - w) * fx;
    const lat = n - (n - s) * fy;
    const d = (e - w) * 0.05;
    return [
      [lon, lat],
      [lon + d, lat],
      [lon + d, lat - d],
      [lon, lat - d],
      [lon, lat],
    ];
  }

  it('files each polygon under the tile holding it and counts them per tile', async () => {
    const features: unknown[] = [];
    const truth = new Map<string, { n: number; max: number }>();
    for (let k = 0; k < 60; k++) {
      const x = origin.x + ((k * 7) % side);
      const y = origin.y + ((k * 5) % side);
      const c = ((k * 37) % 100) / 100;
      features.push({
        type: 'Feature',
        properties: { confidence: c },
        geometry: { type: 'Polygon', coordinates: [square(x, y, 0.2 + (k % 3) * 0.2, 0.3)] },
      });
      const t = truth.get(`18-${x}-${y}`) ?? { n: 0, max: 0 };
      truth.set(`18-${x}-${y}`, { n: t.n + 1, max: Math.max(t.max, c) });
    }
    // One outside the project, one MultiPolygon inside.
    features.push({
      type: 'Feature',
      properties: { confidence: 0.9 },
      geometry: { type: 'Polygon', coordinates: [square(origin.x + side + 3, origin.y, 0.5, 0.5)] },
    });
    features.push({
      type: 'Feature',
      properties: { confidence: 0.5 },
      geometry: { type: 'MultiPolygon', coordinates: [[square(origin.x, origin.y, 0.5, 0.5)]] },
    });
    const t0 = truth.get(`18-${origin.x}-${origin.y}`) ?? { n: 0, max: 0 };
    truth.set(`18-${origin.x}-${origin.y}`, { n: t0.n + 1, max: Math.max(t0.max, 0.5) });

    const summary = await importFairPredictions(
      ctx,
      projectId,
      new TextEncoder().encode(JSON.stringify({ type: 'FeatureCollection', features })),
      { name: 'fAIr run 1', maxBytes: 1e7 },
    );
    expect(summary).toMatchObject({ features: 62, stored: 61, outside: 1, tiles: truth.size });
    const rows = await fairTileSignalRows(db, summary.importId);
    expect(rows).toHaveLength(truth.size);
    for (const r of rows) {
      expect(r.polygons).toBe(truth.get(r.taskId)!.n);
      expect(r.confidenceMax).toBeCloseTo(truth.get(r.taskId)!.max, 12);
    }
    expect(summary.byTier.reduce((s, t) => s + t.polygons, 0)).toBe(61);

    // As Validate objects: most urgent tile first, every stored polygon once.
    const objects = await collect(iterateFairObjects(db, projectId, summary.importId));
    expect(objects).toHaveLength(61);
    for (let i = 1; i < objects.length; i++) {
      expect(objects[i].priority ?? -1).toBeLessThanOrEqual(objects[i - 1].priority ?? -1);
    }
    const fc = JSON.parse((await collect(fairObjectsChunks(ctx, projectId, summary.importId))).join(''));
    expect(fc.features).toHaveLength(61);
    expect(fc.features.every((f: any) => ['Polygon', 'MultiPolygon'].includes(f.geometry.type))).toBe(true);
    expect(fc.tilelens).toMatchObject({ written: 61, leftOut: 0 });
  });

  it('refuses a bad file whole, with the reasons, and stores nothing', async () => {
    const before = (await sqlGet<{ n: number }>(db, 'select count(*) as n from fair_predictions'))!;
    const bad = {
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          properties: { confidence: 1.7 },
          geometry: { type: 'Polygon', coordinates: [square(origin.x, origin.y, 0.1, 0.1)] },
        },
        { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [0, 0] } },
      ],
    };
    await expect(
      (async () =>
        await importFairPredictions(ctx, projectId, new TextEncoder().encode(JSON.stringify(bad)), {
          name: 'bad',
          maxBytes: 1e7,
        }))(),
    ).rejects.toThrow(/feature 0: confidence 1.7.*feature 1: geometry is Point/);
    await expect(
      (async () =>
        await importFairPredictions(ctx, projectId, new TextEncoder().encode('{"type":"Feature'), {
          name: 'x',
          maxBytes: 1e7,
        }))(),
    ).rejects.toThrow(/not JSON/);
    await expect(
      (async () =>
        await importFairPredictions(ctx, projectId, new Uint8Array(100), { name: 'x', maxBytes: 10 }))(),
    ).rejects.toThrow(/over the 10-byte limit/);
    const after = (await sqlGet<{ n: number }>(db, 'select count(*) as n from fair_predictions'))!;
    expect(after.n).toBe(before.n);
  });
});
