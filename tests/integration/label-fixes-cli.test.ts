/**
 * `tilelens label-fixes` as a child process: a run's label errors written as GeoJSON (with JOSM links) and a
 * MapRoulette challenge; objects not on a map left out and counted; bad flags and a run without the evidence
 * pass refused with what to do.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/lib/db/client.ts';
import { saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import { saveInsightRecord } from '../../server/lib/db/insight-records.ts';
import { writeLabelObjects, type LabelObjectRow } from '../../server/lib/db/label-objects-repo.ts';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import { registerSampleModelAndDataset, samplePatch, sampleRun } from '../fixtures/db-sample-run.ts';

const run = promisify(execFile);
let dir: string;
let dbPath: string;
let runId: number;
let bare: number;

function object(
  idx: number,
  n: number,
  kind: LabelObjectRow['kind'],
  score: number,
  onMap = true,
): LabelObjectRow {
  const [w, s, e, nn] = tileBounds(18, 140_000 + idx, 90_000);
  const ring: Array<[number, number]> = [
    [w, nn],
    [(w + e) / 2, nn],
    [(w + e) / 2, (s + nn) / 2],
    [w, (s + nn) / 2],
    [w, nn],
  ];
  return {
    idx,
    n,
    kind,
    score,
    areaPx: 400,
    dxPx: kind === 'offset' ? 4 : null,
    dyPx: kind === 'offset' ? -2 : null,
    eastM: kind === 'offset' ? 2.4 : null,
    northM: kind === 'offset' ? 1.2 : null,
    outlinePx: [
      [0, 0],
      [128, 0],
      [128, 128],
      [0, 128],
    ],
    outline: onMap ? ring : null,
    lon: onMap ? (w + e) / 2 : null,
    lat: onMap ? (s + nn) / 2 : null,
    members: null,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-label-fixes-cli-'));
  dbPath = join(dir, 'tilelens.db');
  const db = await openDatabase(dbPath);
  const ids = await registerSampleModelAndDataset(db);
  runId = await saveAnalysisRun(db, sampleRun(ids, 4), [0, 1, 2, 3].map(samplePatch), []);
  bare = await saveAnalysisRun(db, sampleRun(ids, 4), [0, 1, 2, 3].map(samplePatch), []);
  await writeLabelObjects(db, runId, [
    object(0, 0, 'phantom', 0.9),
    object(1, 0, 'phantom', 0.7),
    object(2, 0, 'missing', 0.8),
    object(3, 0, 'offset', 0.65),
    object(3, 1, 'missing', 0.6, false),
  ]);
  await saveInsightRecord(db, runId, 'evidence', { patches: 4, threshold: 0.5, objects: 5, seconds: 1 });
  await db.close();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'label-fixes', ...args, '--db', dbPath], {
    env: { ...process.env, TILELENS_DATA_DIR: dir },
  });
}

describe('tilelens label-fixes', () => {
  it('writes GeoJSON with JOSM links and a MapRoulette challenge, each kind strongest first', async () => {
    const out = join(dir, 'fixes');
    const { stdout } = await cli(['--run', String(runId), '--out', out]);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      runId,
      objects: { phantom: 2, missing: 1, offset: 1 },
      leftOutNotOnMap: 1,
    });
    const fc = JSON.parse(readFileSync(summary.geojson, 'utf8'));
    expect(
      fc.features.map((f: { properties: { kind: string; confidence: number } }) => [
        f.properties.kind,
        f.properties.confidence,
      ]),
    ).toEqual([
      ['phantom', 0.9],
      ['phantom', 0.7],
      ['missing', 0.8],
      ['offset', 0.65],
    ]);
    expect(fc.features[0].properties.josm).toMatch(/^http:\/\/127\.0\.0\.1:8111\/load_and_zoom\?left=/);
    expect(fc.features[3].properties.instruction).toMatch(/2\.4 m east and 1\.2 m north/);
    const lines = readFileSync(summary.maproulette, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.startsWith('\x1e')).toBe(true);
    expect(JSON.parse(lines[0].slice(1)).features[0].properties.priority).toBe('high');
  });

  it('keeps to the kinds, limit and score asked for', async () => {
    const out = join(dir, 'phantoms');
    const { stdout } = await cli([
      '--run',
      String(runId),
      '--out',
      out,
      '--kinds',
      'phantom',
      '--min-score',
      '0.8',
    ]);
    expect(JSON.parse(stdout).objects).toEqual({ phantom: 1 });
  });

  it('refuses bad flags and a run without the evidence pass, saying what to do', async () => {
    await expect(cli(['--run', String(runId), '--out', dir, '--kinds', 'ghost'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--kinds/),
    });
    await expect(cli(['--out', dir])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--run ID/),
    });
    await expect(cli(['--run', String(bare), '--out', dir])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/evidence pass has not run[\s\S]*run-insights\.ts --run/),
    });
  });
});
