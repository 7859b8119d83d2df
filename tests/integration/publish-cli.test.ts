/**
 * The publish commands of the CLI, run as a child process against a MapSwipe stand-in: the dry run
 * prints the plan and sends nothing, credentials come from the environment, and `publish status` shows
 * what was made. The MapRoulette export and a fAIr import from files too.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticProject } from '../fixtures/synthetic-project.ts';
import { openDatabase } from '../../server/lib/db/client.ts';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import { startMapswipeStandIn, type MapswipeStandIn } from '../support/mapswipe-stand-in.ts';

const run = promisify(execFile);
const PASSWORD = 'cli stand-in password';
let dir: string;
let dbPath: string;
let projectId: number;
let ms: MapswipeStandIn;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-publish-cli-'));
  dbPath = join(dir, 'tilelens.db');
  const db = await openDatabase(dbPath);
  projectId = (await createSyntheticProject(db, { side: 16, origin: { x: 150_200, y: 120_200 } })).projectId;
  await db.close();
  ms = await startMapswipeStandIn({ users: { manager: PASSWORD } });
});
afterAll(async () => {
  await ms?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args, '--db', dbPath], {
    env: { ...process.env, TILELENS_DATA_DIR: dir, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

const MS = [
  '--project',
  '',
  '--organisation',
  '1',
  '--region',
  'Lilongwe',
  '--project-number',
  '5',
  '--tiers',
  'high',
];

describe('tilelens publish', () => {
  it('prints the dry run without sending anything', async () => {
    MS[1] = String(projectId);
    const { stdout } = await cli([
      'publish',
      'mapswipe',
      ...MS,
      '--validate',
      'model',
      '--dry-run',
      '--mapswipe-url',
      ms.url,
    ]);
    const plan = JSON.parse(stdout);
    expect(plan.projects.map((p: any) => p.key)).toEqual(['find:high', 'validate']);
    expect(plan.projects[0].steps.map((s: any) => s.operation)).toEqual([
      'createProject',
      'createProjectAsset',
      'updateProject',
      'updateProjectStatus',
    ]);
    expect(ms.calls).toHaveLength(0);
  });

  it('refuses without credentials, publishes with them from the environment, and reports the status', async () => {
    const refused = await cli(['publish', 'mapswipe', ...MS, '--mapswipe-url', ms.url]).catch((e) => e);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/needs credentials/);
    const { stdout } = await cli(['publish', 'mapswipe', ...MS, '--mapswipe-url', ms.url], {
      MAPSWIPE_USERNAME: 'manager',
      MAPSWIPE_PASSWORD: PASSWORD,
    });
    const pub = JSON.parse(stdout);
    expect(pub).toMatchObject({ status: 'done', target: 'mapswipe' });
    expect(ms.projects).toHaveLength(1);
    const status = JSON.parse((await cli(['publish', 'status', '--project', String(projectId)])).stdout);
    expect(status.publications[0].projects[0].remoteId).toBe(ms.projects[0].id);
    expect(readFileSync(dbPath).toString('latin1')).not.toContain(PASSWORD);
  });

  it('writes a MapRoulette challenge and imports fAIr predictions from files', async () => {
    const { stdout } = await cli([
      'publish',
      'maproulette',
      '--project',
      String(projectId),
      '--out',
      join(dir, 'mr'),
    ]);
    const out = JSON.parse(stdout);
    expect(out.tasks).toBeGreaterThan(0);
    const lines = readFileSync(out.out[0], 'utf8').trim().split('\n');
    expect(lines).toHaveLength(out.tasks);
    expect(JSON.parse(readFileSync(out.out[1], 'utf8')).highPriorityRule).toMatch(/tilelens_priority/);

    const [w, s, e, n] = tileBounds(18, 150_205, 120_205);
    const ring = [
      [w + (e - w) * 0.3, s + (n - s) * 0.3],
      [w + (e - w) * 0.6, s + (n - s) * 0.3],
      [w + (e - w) * 0.6, s + (n - s) * 0.6],
      [w + (e - w) * 0.3, s + (n - s) * 0.3],
    ];
    const file = join(dir, 'fair.geojson');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            properties: { confidence: 0.8 },
            geometry: { type: 'Polygon', coordinates: [ring] },
          },
        ],
      }),
    );
    const summary = JSON.parse(
      (await cli(['fair-import', '--project', String(projectId), '--file', file])).stdout,
    );
    expect(summary).toMatchObject({ features: 1, stored: 1, outside: 0, tiles: 1 });
  });
});
