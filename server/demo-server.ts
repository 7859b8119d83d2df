/**
 * What `npm run demo` serves: the demo world's imagery registered, a project over the world's new
 * region scored with the demo run, and the API on 127.0.0.1. Safe to run again: nothing is registered
 * or created twice, and a scoring job that was interrupted resumes instead of starting over.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScoringContext } from './lib/scoring/context.ts';
import { listImagery, registerImagery, type ImageryRow } from './lib/scoring/imagery-registry.ts';
import { latestJob, startScoring } from './lib/scoring/jobs.ts';
import { createProject, listProjects, type ProjectRow } from './lib/scoring/projects.ts';
import { demoWorldDir } from './lib/paths.ts';
import { bboxPolygon, tileRangeBBox, type BBox } from './lib/geo/tiles.ts';
import { announce, startServer, stopOnSignals, type RunningServer } from './main.ts';
import { resolveSettings } from './settings.ts';
import { TilelensError } from './lib/errors.ts';

export const DEMO_IMAGERY_NAME = 'tilelens demo world';
export const DEMO_PROJECT_NAME = 'Demo world: new region';

export class DemoError extends TilelensError {
  override name = 'DemoError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('demo', message, { status: 500, cause: options?.cause });
  }
}

/**
 * The new region's area, from its tile range rather than its rounded lon/lat box: inset by a hundredth of a
 * tile so the project's grid is exactly the world's tiles (a box a hair too large adds a row of tiles
 * with no imagery).
 */
export function demoNewRegionBBox(worldDir: string): BBox {
  const path = join(worldDir, 'world.json');
  let world: { zoom?: number; regions?: { new?: { tiles?: Record<string, unknown> } } };
  try {
    world = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new DemoError(
      `${path} cannot be read (${(err as Error).message}); build the demo world with \`npm run demo -- --prepare-only\``,
    );
  }
  const t = world.regions?.new?.tiles;
  const z = world.zoom;
  const nums = t && [t.minX, t.minY, t.maxX, t.maxY].every((v) => typeof v === 'number');
  if (!nums || typeof z !== 'number') {
    throw new DemoError(
      `${path} has no regions.new.tiles; rebuild the demo world with \`npm run demo -- --fresh\``,
    );
  }
  return tileRangeBBox(z, t as { minX: number; minY: number; maxX: number; maxY: number }, 0.01);
}

export { bboxPolygon };

export async function ensureDemoImagery(ctx: ScoringContext, worldDir: string): Promise<ImageryRow> {
  const existing = (await listImagery(ctx)).find((r) => r.name === DEMO_IMAGERY_NAME);
  if (existing) return existing;
  return registerImagery(ctx, {
    name: DEMO_IMAGERY_NAME,
    spec: { kind: 'pmtiles', path: join(worldDir, 'imagery.pmtiles') },
  });
}

/** The demo project of this run, created if absent; its scoring started unless it is done or under way. */
export async function ensureDemoProject(
  ctx: ScoringContext,
  worldDir: string,
  imageryId: number,
  runId: number,
): Promise<ProjectRow> {
  const project =
    (await listProjects(ctx)).find(
      (p) => p.name === DEMO_PROJECT_NAME && p.runId === runId && p.imageryId === imageryId,
    ) ??
    (await createProject(ctx, {
      name: DEMO_PROJECT_NAME,
      area: { type: 'Feature', properties: {}, geometry: bboxPolygon(demoNewRegionBBox(worldDir)) },
      imageryId,
      runId,
      zoom: 18,
    }));
  const job = await latestJob(ctx, project.id);
  if (!job || job.status === 'failed' || job.status === 'cancelled') await startScoring(ctx, project.id, {});
  return project;
}

export async function startDemoServer(o: {
  port: number;
  runId: number;
  worldDir?: string;
}): Promise<RunningServer> {
  const log = (msg: string) => process.stderr.write(`tilelens demo: ${msg}\n`);
  const worldDir = o.worldDir ?? demoWorldDir;
  const settings = resolveSettings({ port: o.port }, process.env);
  const running = await startServer({ settings, log });
  try {
    const imagery = await ensureDemoImagery(running.scoring, worldDir);
    const project = await ensureDemoProject(running.scoring, worldDir, imagery.id, o.runId);
    log(
      `project ${project.id} "${project.name}": ${project.tileCount} tiles, scoring progress at ${running.url}/api/projects/${project.id}`,
    );
  } catch (err) {
    await running.close();
    throw err;
  }
  announce(running, log, true);
  stopOnSignals(running, log);
  return running;
}
