/**
 * A small demo world with its stored reference run and an app over a temporary database, for the
 * server's integration tests (a few seconds to build on two cores).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemoWorld } from '../../scripts/demo-world/generate.ts';
import { createApp, scoringContextFor, type TilelensApp } from '../../server/app.ts';
import { analyzeDataset } from '../../server/lib/analysis/analyze-dataset.ts';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { openDemoWorldDataset } from '../../server/lib/datasets/demo-world.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';
import { demoModelPath } from '../../server/lib/paths.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { closeImagerySources } from '../../server/lib/scoring/imagery-registry.ts';
import { resolveSettings, type Settings } from '../../server/settings.ts';

export const TOKEN = 'test-manager-token-0123456789';
export const auth = { Authorization: `Bearer ${TOKEN}` };

export interface ServerFixture {
  dir: string;
  worldDir: string;
  runId: number | null;
  db: DatabaseHandle;
  scoring: ScoringContext;
  settings: Settings;
  app: TilelensApp;
  logs: string[];
  close(): Promise<void>;
}

/**
 * `world: false` gives an app over an empty database (auth, validation, settings); `analyse: false` builds the
 * world without analysing it (its imagery alone).
 */
export async function serverFixture(o: {
  world: boolean;
  analyse?: boolean;
  settings?: Record<string, string | number>;
  /** A store to open instead of a SQLite file in the fixture's folder (a `postgres://` URL). */
  db?: string;
  /** A demo world generated already, used instead of generating one (and left in place on close). */
  worldDir?: string;
}): Promise<ServerFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'tilelens-server-'));
  const worldDir = o.worldDir ?? join(dir, 'world');
  const location = o.db ?? join(dir, 'tilelens.db');
  const db = await openDatabase(location);
  let runId: number | null = null;
  if (o.world && !o.worldDir) await generateDemoWorld({ seed: 7, outDir: worldDir, scale: 'small' });
  if (o.world && o.analyse !== false) {
    const model = await loadModel(demoModelPath);
    const source = openDemoWorldDataset(worldDir, 'train');
    try {
      runId = (
        await analyzeDataset({ db, model, modelPath: demoModelPath, source, runsDir: join(dir, 'runs') })
      ).runId;
    } finally {
      await source.close();
      await model.dispose();
    }
  }
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  const settings = resolveSettings({ 'data-dir': dir, db: location, ...o.settings });
  const scoring: ScoringContext = scoringContextFor(db, settings, log);
  const app = createApp({ db, settings, scoring, token: TOKEN, log });
  return {
    dir,
    worldDir,
    runId,
    db,
    scoring,
    settings,
    app,
    logs,
    async close() {
      await app.close();
      await closeImagerySources(scoring);
      scoring.outbound?.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function json<T = any>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`expected JSON, got ${res.status}: ${text.slice(0, 200)}`);
  }
}

export function post(app: TilelensApp, path: string, body: unknown, headers: Record<string, string> = auth) {
  return app.request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Polls `fn` until it returns a value (a job's end, say); fails after `ms` with what it waited for. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
