/**
 * Projects: an area to screen, the imagery to read it from, and the reference analysis (hence the
 * model) whose latent space its tiles are projected into. A project row is checked once, here; the
 * job runner trusts it.
 */
import { getRun } from '../db/analysis-repo.ts';
import { getImagery } from '../db/imagery-repo.ts';
import * as projectsRepo from '../db/projects-repo.ts';
import type { RegionLookJson } from '../db/json.ts';
import type { Project, ProjectAreaJson } from '../db/schema.ts';
import {
  areaToFeatureCollection,
  checkProjectArea,
  DEFAULT_ZOOM,
  type ProjectArea,
} from '../projects/area.ts';
import { countTiles } from '../projects/tile-grid.ts';
import { logTo, type ScoringContext } from './context.ts';
import { ScoringError } from './errors.ts';

/** A project as stored; its area is a FeatureCollection of Polygons, checked once at creation. */
export type ProjectRow = Project;

export interface CreateProjectInput {
  name: string;
  area: unknown;
  imageryId: number;
  runId: number;
  zoom?: number;
  lookFor?: string;
}

function positiveId(what: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new ScoringError(
      'invalid-request',
      `${what} must be a positive integer id, got ${JSON.stringify(v)}`,
    );
  }
  return v as number;
}

/** A project checked and measured, ready to store (see `insertProject`). */
export interface PreparedProject {
  name: string;
  runId: number;
  modelId: number;
  area: ProjectArea;
  tileCount: number;
  lookFor: string;
}

/**
 * Checks everything but the imagery: name, run, and the area (valid, bounded, within MapSwipe's size
 * limit at the zoom). The area check hands the thread back while it works, so a server keeps answering.
 * Throws AreaError (server/lib/projects/area.ts) for an unusable area, ScoringError for the rest.
 */
export async function prepareProject(
  ctx: ScoringContext,
  input: Omit<CreateProjectInput, 'imageryId'>,
): Promise<PreparedProject> {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name) throw new ScoringError('invalid-request', 'a project needs a non-empty name');
  const runId = positiveId('runId', input.runId);
  const area = await checkProjectArea(input.area, { zoom: input.zoom ?? DEFAULT_ZOOM });
  const run = await getRun(ctx.db, runId);
  if (!run) {
    throw new ScoringError(
      'run-not-found',
      `no reference analysis run with id ${runId}; run \`tilelens analyze\` for the model first and pass its run id`,
    );
  }
  return {
    name,
    runId,
    modelId: run.modelId,
    area,
    tileCount: countTiles(area, area.zoom),
    lookFor: input.lookFor?.trim() || 'buildings',
  };
}

/** Stores a prepared project over registered imagery; synchronous, so it can share a transaction. */
export async function insertProject(
  ctx: ScoringContext,
  prepared: PreparedProject,
  imageryId: number,
): Promise<ProjectRow> {
  positiveId('imageryId', imageryId);
  if (!(await getImagery(ctx.db, imageryId))) {
    throw new ScoringError(
      'imagery-not-found',
      `no imagery with id ${imageryId}; register the imagery first`,
    );
  }
  const { area } = prepared;
  const row = await projectsRepo.insertProject(ctx.db, {
    name: prepared.name,
    zoom: area.zoom,
    imageryId,
    runId: prepared.runId,
    modelId: prepared.modelId,
    area: areaToFeatureCollection(area) as ProjectAreaJson,
    areaKm2: area.areaKm2,
    tileCount: prepared.tileCount,
    bbox: area.bbox,
    lookFor: prepared.lookFor,
  });
  logTo(
    ctx,
    `project ${row.id} "${row.name}": ${row.tileCount} tiles at z${row.zoom}, run ${prepared.runId}`,
  );
  return row;
}

/** Throws AreaError (server/lib/projects/area.ts) for an unusable area, ScoringError for the rest. */
export async function createProject(ctx: ScoringContext, input: CreateProjectInput): Promise<ProjectRow> {
  const imageryId = positiveId('imageryId', input.imageryId);
  return await insertProject(ctx, await prepareProject(ctx, input), imageryId);
}

/** Removes a project with its jobs and tiles (a command that failed half-way takes back what it made). */
export async function deleteProject(ctx: ScoringContext, id: number): Promise<void> {
  await projectsRepo.deleteProject(ctx.db, id);
}

export async function listProjects(ctx: ScoringContext): Promise<ProjectRow[]> {
  return await projectsRepo.listProjects(ctx.db);
}

export async function getProject(ctx: ScoringContext, id: number): Promise<ProjectRow | undefined> {
  return await projectsRepo.getProject(ctx.db, id);
}

/** Keeps the look a scoring job decided for the project (region-look.ts), for the panel, the API and the exports. */
export async function setRegionLook(ctx: ScoringContext, id: number, look: RegionLookJson): Promise<void> {
  await projectsRepo.setProjectRegionLook(ctx.db, id, look);
}

export async function requireProject(ctx: ScoringContext, id: number): Promise<ProjectRow> {
  const project = await getProject(ctx, id);
  if (!project)
    throw new ScoringError(
      'project-not-found',
      `no project with id ${id}; listProjects shows those there are`,
    );
  return project;
}
