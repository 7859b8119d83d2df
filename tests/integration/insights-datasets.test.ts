/**
 * The evidence pass on every kind of dataset the analysis reads — a folder of pairs, a manifest, GeoTIFF pairs,
 * footprints over imagery — reopened from what the run stored, and the one-line reason when it cannot be.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeDataset } from '../../server/lib/analysis/analyze-dataset.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { openDataset, type DatasetSpec } from '../../server/lib/datasets/open-dataset.ts';
import { lonLatToTile, tileBounds } from '../../server/lib/geo/tiles.ts';
import { computePatchEvidence } from '../../server/lib/insights/patch-evidence.ts';
import { openRunDataset } from '../../server/lib/insights/run-dataset.ts';
import { runInsights } from '../../server/lib/insights/run-insights.ts';
import { loadModel, type SegmentationModel } from '../../server/lib/model/runtime.ts';
import { demoModelPath } from '../../server/lib/paths.ts';
import { png, tiff, useTempDir } from '../fixtures/dataset-files.ts';
import { sqlValue } from '../../server/lib/db/store-probe.ts';

let dir: string;
useTempDir((d) => (dir = d));
let db: DatabaseHandle;
let model: SegmentationModel;

const S = 512;
/**
 * Roofs on bare ground on a jittered grid, and a mask that holds them plus one footprint the image does not
 * show. Returns the roofs (pixel rectangles) too, for footprints drawn from them.
 */
function scene(seed: number, SW = S, SH = S) {
  const image = Buffer.alloc(SW * SH * 3);
  const mask = Buffer.alloc(SW * SH);
  for (let i = 0; i < SW * SH; i++) {
    image[i * 3] = 150 + ((i * 7 + seed) % 13);
    image[i * 3 + 1] = 130 + ((i * 3) % 11);
    image[i * 3 + 2] = 100;
  }
  const roofs: Array<[number, number, number, number]> = [];
  const rect = (x0: number, y0: number, w: number, h: number, inImage: boolean) => {
    for (let y = y0; y < y0 + h; y++)
      for (let x = x0; x < x0 + w; x++) {
        mask[y * SW + x] = 255;
        if (inImage) image.set([200, 60, 50], (y * SW + x) * 3);
      }
  };
  for (let gy = 0; gy + 1 < SH / 96; gy++)
    for (let gx = 0; gx + 1 < SW / 96; gx++) {
      const x0 = gx * 96 + 12 + ((gx * 7 + gy * 13 + seed) % 20);
      const y0 = gy * 96 + 12 + ((gx * 11 + gy * 5 + seed) % 20);
      rect(x0, y0, 36, 30, true);
      roofs.push([x0, y0, 36, 30]);
    }
  rect(SW - 70, SH - 60, 40, 34, false);
  return { image, mask, roofs };
}

async function writePairs(root: string, ext: 'png' | 'tif', geo?: (i: number) => Record<string, unknown>) {
  await mkdir(join(root, 'images'), { recursive: true });
  await mkdir(join(root, 'masks'), { recursive: true });
  for (let i = 0; i < 4; i++) {
    const { image, mask } = scene(i);
    if (ext === 'png') {
      await png(join(root, 'images', `s${i}.png`), image, S, S, 3);
      await png(join(root, 'masks', `s${i}.png`), mask, S, S, 1);
    } else {
      const meta = { width: S, height: S, ...geo!(i) };
      await tiff(join(root, 'images', `s${i}.tif`), image, {
        ...meta,
        SamplesPerPixel: 3,
        BitsPerSample: [8, 8, 8],
      });
      await tiff(join(root, 'masks', `s${i}.tif`), mask, meta);
    }
  }
}

async function analyse(spec: DatasetSpec, name: string): Promise<number> {
  const source = await openDataset(spec);
  try {
    const summary = await analyzeDataset({
      db,
      model,
      modelPath: demoModelPath,
      source,
      runsDir: join(dir, `runs-${name}`),
    });
    return summary.runId;
  } finally {
    await source.close();
  }
}

beforeAll(async () => {
  db = await openDatabase(join(dir, 'tilelens.db'));
  model = await loadModel(demoModelPath);
});
afterAll(async () => {
  await model?.dispose();
  await db?.close();
});

const evidenceRows = (runId: number) =>
  sqlValue<number>(db, 'select count(*) from patch_evidence where run_id = ?', runId);

/** The evidence pass over the dataset as the run recorded it, reopened. */
async function expectEvidence(runId: number) {
  const source = await openRunDataset(db, runId);
  try {
    const r = await computePatchEvidence(db, runId, model, source);
    expect(r.patches).toBe(await evidenceRows(runId));
    expect(r.patches).toBe(source.size);
    expect(r.objects).toBe(await sqlValue(db, 'select count(*) from label_objects where run_id = ?', runId));
    return r;
  } finally {
    await source.close();
  }
}

describe('the evidence pass reopens every kind of dataset', () => {
  it('a folder of pairs, and says in one line why it skips when the folder has gone', async () => {
    const root = join(dir, 'folder');
    await writePairs(root, 'png');
    const runId = await analyse(
      { images: join(root, 'images'), masks: join(root, 'masks'), patchSize: 128 },
      'folder',
    );
    await expectEvidence(runId);
    const whole = await runInsights(db, runId, { model });
    expect(whole.skipped).toEqual([]);
    expect(whole.evidence?.patches).toBe(64);
    await rename(join(root, 'masks'), join(root, 'masks-moved'));
    const s = await runInsights(db, runId, { model });
    expect(s.evidence).toBeNull();
    expect(s.skipped).toHaveLength(1);
    expect(s.skipped[0].step).toBe('evidence');
    expect(s.skipped[0].why).toMatch(/no longer there/);
    expect(s.skipped[0].why).not.toContain('\n');
    // The rest still runs, on the counts alone.
    expect(s.labelErrors.patches).toBeGreaterThan(0);
  }, 120_000);

  it('a manifest', async () => {
    const root = join(dir, 'manifest');
    await writePairs(root, 'png');
    const rows = [0, 1, 2, 3].map((i) => `images/s${i}.png,masks/s${i}.png,${i < 2 ? 'a' : 'b'}`);
    await writeFile(join(root, 'pairs.csv'), ['image,mask,dataset', ...rows].join('\n'));
    const runId = await analyse(
      { manifest: join(root, 'pairs.csv'), groupColumn: 'dataset', patchSize: 128 },
      'manifest',
    );
    await expectEvidence(runId);
  }, 120_000);

  it('GeoTIFF pairs', async () => {
    const root = join(dir, 'geotiff');
    await writePairs(root, 'tif', (i) => ({
      GTModelTypeGeoKey: 1,
      ProjectedCSTypeGeoKey: 32630,
      GTRasterTypeGeoKey: 1,
      ModelPixelScale: [0.3, 0.3, 0],
      ModelTiepoint: [0, 0, 0, 500_000 + i * 200, 620_000, 0],
    }));
    const runId = await analyse({ geotiffs: root, patchSize: 128 }, 'geotiff');
    const r = await expectEvidence(runId);
    // Placed on the map by the files' georeference: every object has a lon/lat outline.
    expect(r.objects).toBeGreaterThan(0);
    const unplaced = await sqlValue(
      db,
      'select count(*) from label_objects where run_id = ? and (outline is null or lat is null)',
      runId,
    );
    expect(unplaced).toBe(0);
  }, 120_000);

  it('footprints over imagery, with objects placed on the map', async () => {
    const root = join(dir, 'osm');
    await mkdir(root, { recursive: true });
    const { x, y } = lonLatToTile(-0.2, 5.6, 18);
    // Imagery over 5 × 4 tiles, so the footprints' extent makes enough patches for an analysis.
    const [w, , , n] = tileBounds(18, x, y);
    const [, s, e] = tileBounds(18, x + 4, y + 3);
    const IW = 5 * 256;
    const IH = 4 * 256;
    const { image, roofs } = scene(5, IW, IH);
    const resX = (e - w) / IW;
    const resY = (n - s) / IH;
    await tiff(join(root, 'img.tif'), image, {
      width: IW,
      height: IH,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      GTModelTypeGeoKey: 2,
      GeographicTypeGeoKey: 4326,
      GTRasterTypeGeoKey: 1,
      ModelPixelScale: [resX, resY, 0],
      ModelTiepoint: [0, 0, 0, w, n, 0],
    });
    // A footprint where the imagery shows bare ground.
    const square = (x0: number, y0: number, d: number) => ({
      type: 'Feature',
      properties: { building: 'yes' },
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [x0, y0],
            [x0 + d * resX, y0],
            [x0 + d * resX, y0 - d * resY],
            [x0, y0 - d * resY],
            [x0, y0],
          ],
        ],
      },
    });
    await writeFile(
      join(root, 'buildings.geojson'),
      JSON.stringify({
        type: 'FeatureCollection',
        // Every roof, and a footprint where the imagery shows bare ground.
        features: [
          ...roofs.map(([rx, ry, rw]) => square(w + rx * resX, n - ry * resY, rw)),
          square(w + 150 * resX, n - 150 * resY, 40),
        ],
      }),
    );
    const runId = await analyse(
      { footprints: join(root, 'buildings.geojson'), imagery: join(root, 'img.tif') },
      'fp',
    );
    const r = await expectEvidence(runId);
    expect(r.objects).toBeGreaterThan(0);
    const placed = await sqlValue(
      db,
      'select count(*) from label_objects where run_id = ? and outline is null',
      runId,
    );
    expect(placed).toBe(0);
  }, 120_000);
});
