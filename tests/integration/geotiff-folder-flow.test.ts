/**
 * The manager's flow: a folder of GeoTIFFs (EPSG:4326 and UTM) and an analysed model in, every tile
 * of the region scored and every export written — through the library and through `tilelens score`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeArrayBuffer, type GeotiffWriterMetadata } from 'geotiff';
import proj4 from 'proj4';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { resolveSettings } from '../../server/settings.ts';
import { analyzeDataset } from '../../server/lib/analysis/analyze-dataset.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { openDataset } from '../../server/lib/datasets/open-dataset.ts';
import { lonLatToTile, taskId, tileBounds } from '../../server/lib/geo/tiles.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { demoModelPath, repoRoot } from '../../server/lib/paths.ts';
import { tilesCoveringArea } from '../../server/lib/projects/tile-grid.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { closeImagerySources } from '../../server/lib/scoring/imagery-registry.ts';
import { disposeScoringModels } from '../../server/lib/scoring/jobs.ts';
import { requireProject } from '../../server/lib/scoring/projects.ts';
import { writeProjectExports } from '../../server/lib/deliverables/project-exports.ts';
import {
  scoreRegion,
  type ScoreRegionOptions,
  type ScoreRegionResult,
} from '../../server/lib/scoring/score-region.ts';
import { iterateScoredTiles } from '../../server/lib/scoring/tiles-repo.ts';
import { collect } from '../fixtures/collect.ts';
import { sqlRun, sqlValue } from '../../server/lib/db/store-probe.ts';

const execFileP = promisify(execFile);
const RIO = process.env.REALDATA
  ? join(process.env.REALDATA, 'rio')
  : join(repoRoot, '..', 'shared', 'realdata', 'rio');
const UTM33N = '+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs';
const Z = 18;

let dir: string;
let db: DatabaseHandle;
let ctx: ScoringContext;
let runId: number;

/** Grass with bright roofs, deterministic: enough texture for the model to see buildings somewhere. */
function scene(w: number, h: number, seed: number): Uint8Array {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const img = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++)
    img.set([60 + Math.floor(rand() * 20), 110 + Math.floor(rand() * 20), 50], i * 3);
  for (let r = 0; r < Math.floor((w * h) / 6000); r++) {
    const x0 = Math.floor(rand() * (w - 30));
    const y0 = Math.floor(rand() * (h - 24));
    for (let y = y0; y < y0 + 24; y++)
      for (let x = x0; x < x0 + 30; x++) img.fill(225, (y * w + x) * 3, (y * w + x) * 3 + 3);
  }
  return img;
}

async function writeTiff(
  path: string,
  w: number,
  h: number,
  seed: number,
  geo: Record<string, unknown>,
): Promise<void> {
  const meta = {
    width: w,
    height: h,
    SamplesPerPixel: 3,
    BitsPerSample: [8, 8, 8],
    GTRasterTypeGeoKey: 1,
    ...geo,
  };
  await writeFile(path, Buffer.from(writeArrayBuffer(scene(w, h, seed), meta as GeotiffWriterMetadata)));
}

/** Two EPSG:4326 files side by side (2×2 z18 tiles each, ~0.6 m pixels) and one UTM file south of them. */
async function writeFolder(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  const t = lonLatToTile(15.0005, 45.0005, Z);
  const [w0, , , n0] = tileBounds(Z, t.x, t.y);
  const [, s1, e1] = tileBounds(Z, t.x + 1, t.y + 1);
  const dLon = e1 - w0;
  const dLat = n0 - s1;
  // GeographicTypeGeoKey is what makes the CRS readable; without it the file has none.
  const wgs = (west: number) => ({
    GTModelTypeGeoKey: 2,
    GeographicTypeGeoKey: 4326,
    ModelPixelScale: [dLon / 360, dLat / 360, 0],
    ModelTiepoint: [0, 0, 0, west, n0, 0],
  });
  await writeTiff(join(folder, 'a.tif'), 360, 360, 3, wgs(w0));
  await writeTiff(join(folder, 'b.tif'), 360, 360, 5, wgs(w0 + dLon));
  const [ox, oy] = proj4('EPSG:4326', UTM33N).forward([w0 + dLon * 0.6, s1 - dLat * 0.3]) as [number, number];
  await writeTiff(join(folder, 'c-utm.tif'), 300, 300, 9, {
    GTModelTypeGeoKey: 1,
    ProjectedCSTypeGeoKey: 32633,
    ModelPixelScale: [0.6, 0.6, 0],
    ModelTiepoint: [0, 0, 0, ox, oy, 0],
  });
}

/** Twelve training scenes with masks, analysed with the demo U-Net: a small run to score with. */
async function analysedRun(): Promise<number> {
  const root = join(dir, 'train');
  await mkdir(join(root, 'images'), { recursive: true });
  await mkdir(join(root, 'masks'), { recursive: true });
  for (let k = 0; k < 12; k++) {
    const img = scene(256, 256, 100 + k);
    const mask = new Uint8Array(256 * 256);
    for (let i = 0; i < mask.length; i++) if (img[i * 3] === 225) mask[i] = 255;
    await sharp(img, { raw: { width: 256, height: 256, channels: 3 } })
      .png()
      .toFile(join(root, 'images', `s${k}.png`));
    await sharp(mask, { raw: { width: 256, height: 256, channels: 1 } })
      .png()
      .toFile(join(root, 'masks', `s${k}.png`));
  }
  const source = await openDataset({
    images: join(root, 'images'),
    masks: join(root, 'masks'),
    patchSize: 128,
  });
  const model = await loadModel(demoModelPath);
  try {
    const summary = await analyzeDataset({
      db,
      model,
      modelPath: demoModelPath,
      source,
      runsDir: join(dir, 'runs'),
    });
    return summary.runId;
  } finally {
    await source.close();
    await model.dispose();
  }
}

/** Every export is there and parses; returns the tile table's task ids. */
async function checkExports(out: Record<string, string>, projectId: number): Promise<string[]> {
  for (const key of [
    'mapswipeFind',
    'mapswipeValidate',
    'taskingManager',
    'tilesCsv',
    'tilesGeoJson',
    'effort',
  ]) {
    expect(out[key], key).toBeDefined();
    expect(existsSync(out[key]), out[key]).toBe(true);
  }
  const find = JSON.parse(await readFile(out.mapswipeFind, 'utf8'));
  expect(find.projectId).toBe(projectId);
  expect(find.drafts.length).toBeGreaterThan(0);
  for (const d of find.drafts) {
    expect(d.draft.projectType).toBe(1);
    expect(d.draft.zoomLevel).toBe(Z);
    expect(d.draft.tileServer.url).toMatch(/\/imagery\/\d+\/\{z\}\/\{x\}\/\{y\}\.jpg$/);
    const area = JSON.parse(await readFile(out[`mapswipeFindArea:${d.tier}`], 'utf8'));
    expect(area.type).toBe('FeatureCollection');
  }
  const validate = JSON.parse(await readFile(out.mapswipeValidate, 'utf8'));
  expect(validate.type).toBe('FeatureCollection');
  const tm = JSON.parse(await readFile(out.taskingManager, 'utf8'));
  expect(tm.draft).toBeDefined();
  expect(tm.annotations.body).toBeDefined();
  const geo = JSON.parse(await readFile(out.tilesGeoJson, 'utf8'));
  const ids = geo.features.map((f: { id: string }) => f.id);
  const csv = (await readFile(out.tilesCsv, 'utf8')).trim().split('\n');
  expect(csv.length - 1).toBe(ids.length);
  // The effort curve as the panel shows it: one point per threshold, recall inside its band.
  const effort = JSON.parse(await readFile(out.effort, 'utf8'));
  expect(effort.projectId).toBe(projectId);
  expect(effort.points.length).toBeGreaterThan(1);
  for (const p of effort.points) {
    expect(p.recallLow).toBeLessThanOrEqual(p.expectedRecall + 1e-9);
    expect(p.recallHigh).toBeGreaterThanOrEqual(p.expectedRecall - 1e-9);
  }
  return ids;
}

async function expectedTiles(projectId: number): Promise<string[]> {
  const project = await requireProject(ctx, projectId);
  // The grid the job walks: the stored area's polygons.
  const area = { polygons: project.area.features.map((f) => f.geometry), bbox: project.bbox };
  return [...tilesCoveringArea(area, project.zoom)].map((t) => taskId(t.z, t.x, t.y)).sort();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-folder-flow-'));
  db = await openDatabase(join(dir, 'tilelens.db'));
  ctx = { db, dataDir: join(dir, 'data') };
  await writeFolder(join(dir, 'tiffs'));
  runId = await analysedRun();
}, 120_000);

afterAll(async () => {
  await closeImagerySources(ctx);
  await disposeScoringModels();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Scored, then every export written into `outDir`, as `tilelens score --out` does. */
async function scoreAndExport(
  options: ScoreRegionOptions,
  outDir: string,
): Promise<ScoreRegionResult & { out: Record<string, string> }> {
  const r = await scoreRegion(ctx, options);
  return { ...r, out: await writeProjectExports(ctx, await requireProject(ctx, r.projectId), outDir) };
}

describe('a folder of GeoTIFFs scored with an analysed model', () => {
  let first: ScoreRegionResult & { out: Record<string, string> };

  it("scores every tile of the folder's extent and writes every export", async () => {
    const progress: number[] = [];
    first = await scoreAndExport(
      {
        modelPath: demoModelPath,
        imagery: join(dir, 'tiffs'),
        onProgress: (done) => progress.push(done),
      },
      join(dir, 'out-lib'),
    );
    expect(first.runId).toBe(runId);
    expect(first.warnings).toEqual([]);
    const expected = await expectedTiles(first.projectId);
    // 2×2 + 2×2 tiles for the EPSG:4326 files, and the UTM file's few more.
    expect(first.tiles).toBe(expected.length);
    expect(first.tiles).toBeGreaterThanOrEqual(10);
    expect(first.scored).toBe(first.tiles);
    expect(first.failed).toBe(0);
    expect(progress.at(-1)).toBe(first.tiles);
    const stored = (await collect(iterateScoredTiles(ctx, first.projectId))).map((t) => t.taskId).sort();
    expect(stored).toEqual(expected);
    expect((await checkExports(first.out, first.projectId)).sort()).toEqual(expected);
  }, 60_000);

  it('writes the same exports the API serves for that project', async () => {
    const publicUrl = 'http://tiles.example.org:8700/';
    const out = await writeProjectExports(
      ctx,
      await requireProject(ctx, first.projectId),
      join(dir, 'out-same'),
      publicUrl,
    );
    const app = createApp({
      db,
      settings: resolveSettings({ 'data-dir': ctx.dataDir, 'public-url': publicUrl }),
      scoring: ctx,
      token: 'unused-for-reads',
      log: () => {},
    });
    try {
      const api = async (name: string) => {
        const res = await app.request(`/api/projects/${first.projectId}/exports/${name}`);
        expect(res.status, name).toBe(200);
        return res.text();
      };
      const file = (key: string) => readFile(out[key], 'utf8');
      const find = JSON.parse(await file('mapswipeFind'));
      expect(find.drafts.length).toBeGreaterThan(0);
      expect(find.drafts[0].draft.tileServer.url).toMatch(/^http:\/\/tiles\.example\.org:8700\/imagery\//);
      expect(JSON.parse(await api('mapswipe-find'))).toEqual(find);
      expect(JSON.parse(await api('tasking-manager'))).toEqual(JSON.parse(await file('taskingManager')));
      expect(await api('mapswipe-validate.geojson')).toBe(await file('mapswipeValidate'));
      expect(await api('tiles.csv')).toBe(await file('tilesCsv'));
      expect(await api('tiles.geojson')).toBe(await file('tilesGeoJson'));
    } finally {
      await app.close();
    }
  });

  it('through `tilelens score` in a child process: same imagery reused, one line of JSON', async () => {
    const { stdout, stderr } = await execFileP(
      process.execPath,
      [
        '--import',
        'tsx',
        join(repoRoot, 'server/cli.ts'),
        'score',
        '--run',
        String(runId),
        '--imagery',
        join(dir, 'tiffs'),
        '--out',
        join(dir, 'out-cli'),
        '--db',
        join(dir, 'tilelens.db'),
      ],
      { cwd: repoRoot, env: { ...process.env, TILELENS_DATA_DIR: join(dir, 'data') }, maxBuffer: 16 << 20 },
    );
    expect(stderr).toMatch(/scoring tiles \d+\/\d+ \(100%\)/);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]);
    expect(r.projectId).not.toBe(first.projectId);
    expect(r.imageryId).toBe(first.imageryId);
    expect(r).toMatchObject({ tiles: first.tiles, scored: first.tiles, failed: 0 });
    expect(r.view).toMatch(/npx tsx server\/main\.ts --db /);
    expect((await checkExports(r.out, r.projectId)).sort()).toEqual(await expectedTiles(r.projectId));
  }, 60_000);

  it('a model with no analysis says to analyse it first', async () => {
    const other = join(dir, 'other.onnx');
    await writeFile(other, 'not the demo model');
    await expect(scoreRegion(ctx, { modelPath: other, imagery: join(dir, 'tiffs') })).rejects.toThrow(
      /has no analysis run in this database; run `tilelens analyze --model/,
    );
  });
});

/** `n` one-tile EPSG:4326 chips in a row, cut on the z18 grid, a tile apart (scattered, not a mosaic). */
async function writeChips(folder: string, n: number): Promise<void> {
  await mkdir(folder, { recursive: true });
  const t = lonLatToTile(16.0005, 46.0005, Z);
  for (let i = 0; i < n; i++) {
    const [w, s, e, north] = tileBounds(Z, t.x + 2 * i, t.y);
    await writeTiff(join(folder, `chip-${String(i).padStart(2, '0')}.tif`), 256, 256, 20 + i, {
      GTModelTypeGeoKey: 2,
      GeographicTypeGeoKey: 4326,
      ModelPixelScale: [(e - w) / 256, (north - s) / 256, 0],
      ModelTiepoint: [0, 0, 0, w, north, 0],
    });
  }
}

const imageryCount = () => sqlValue<number>(db, 'select count(*) as n from imagery_sources');
const projectCount = () => sqlValue<number>(db, 'select count(*) as n from projects');

describe('more than 20 GeoTIFFs, and commands that fail half-way', () => {
  it('scores a folder of 24 chips without --area: one polygon per file, MapSwipe drafts still within 20', async () => {
    await writeChips(join(dir, 'chips'), 24);
    const r = await scoreAndExport(
      { modelPath: demoModelPath, imagery: join(dir, 'chips') },
      join(dir, 'out-chips'),
    );
    expect(r.warnings).toEqual([]);
    expect((await requireProject(ctx, r.projectId)).area.features).toHaveLength(24);
    expect(r.tiles).toBe(24);
    expect(r.scored).toBe(24);
    const find = JSON.parse(await readFile(r.out.mapswipeFind, 'utf8'));
    for (const d of find.drafts) {
      const areaFile = JSON.parse(await readFile(r.out[`mapswipeFindArea:${d.tier}`], 'utf8'));
      expect(areaFile.features.length).toBeLessThanOrEqual(20);
    }
  }, 120_000);

  it('registers nothing when the area is refused', async () => {
    const before = [await imageryCount(), await projectCount()];
    const bowtie = join(dir, 'bowtie.geojson');
    const [w, s, e, n] = tileBounds(
      Z,
      lonLatToTile(16.0005, 46.0005, Z).x,
      lonLatToTile(16.0005, 46.0005, Z).y,
    );
    await writeFile(
      bowtie,
      JSON.stringify({
        type: 'Polygon',
        coordinates: [
          [
            [w, s],
            [e, n],
            [e, s],
            [w, n],
            [w, s],
          ],
        ],
      }),
    );
    await writeChips(join(dir, 'chips-2'), 2);
    await expect(scoreRegion(ctx, { runId, imagery: join(dir, 'chips-2'), area: bowtie })).rejects.toThrow(
      /crosses or touches itself/,
    );
    expect([await imageryCount(), await projectCount()]).toEqual(before);
  });

  it('takes back the project and the imagery it registered when the scoring job fails', async () => {
    await writeChips(join(dir, 'chips-3'), 2);
    const before = [await imageryCount(), await projectCount()];
    const modelId = await sqlValue<number>(
      db,
      'select model_id as modelId from analysis_runs where id = ?',
      runId,
    );
    // The model's weights gone from where they were registered: the job fails before its first tile.
    await sqlRun(db, 'update models set path = ? where id = ?', join(dir, 'moved.onnx'), modelId);
    try {
      await expect(scoreRegion(ctx, { runId, imagery: join(dir, 'chips-3') })).rejects.toThrow(
        /ended failed: the weights of model .* are not where they were registered.*nothing was kept/,
      );
    } finally {
      await sqlRun(db, 'update models set path = ? where id = ?', demoModelPath, modelId);
    }
    expect([await imageryCount(), await projectCount()]).toEqual(before);
  });
});

describe.skipIf(!existsSync(join(RIO, 'images')))('Rio de Janeiro GeoTIFFs (real data)', () => {
  it('the folder scored with the demo model, exports written', async () => {
    const r = await scoreAndExport({ runId, imagery: join(RIO, 'images') }, join(dir, 'out-rio'));
    expect(r.tiles).toBeGreaterThan(0);
    expect(r.scored + r.missing).toBe(r.tiles);
    expect(r.scored).toBeGreaterThan(r.tiles / 2);
    expect(r.failed).toBe(0);
    expect((await checkExports(r.out, r.projectId)).sort()).toEqual(await expectedTiles(r.projectId));
  }, 120_000);
});
