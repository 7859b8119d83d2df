/**
 * Projects: an area to screen, the imagery to read it from, and the reference analysis (hence the
 * model) whose latent space its tiles are projected into. A project row is checked once, here; the
 * job runner trusts it.
 */
import { getRun } from '../db/analysis-repo.ts';
import { getImagery } from '../db/imagery-repo.ts';
import * as projectsRepo from '../db/projects-repo.ts';
import type { Project, ProjectAreaJson } from '../db/schema.ts';
import { areaToFeatureCollection, DEFAULT_ZOOM, parseProjectArea } from '../projects/area.ts';
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

/** Throws AreaError (server/lib/projects/area.ts) for an unusable area, ScoringError for the rest. */
export function createProject(ctx: ScoringContext, input: CreateProjectInput): ProjectRow {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name) throw new ScoringError('invalid-request', 'a project needs a non-empty name');
  const imageryId = positiveId('imageryId', input.imageryId);
  const runId = positiveId('runId', input.runId);
  const area = parseProjectArea(input.area, { zoom: input.zoom ?? DEFAULT_ZOOM });

  if (!getImagery(ctx.db, imageryId)) {
    throw new ScoringError(
      'imagery-not-found',
      `no imagery with id ${imageryId}; register the imagery first`,
    );
  }
  const run = getRun(ctx.db, runId);
  if (!run) {
    throw new ScoringError(
      'run-not-found',
      `no reference analysis run with id ${runId}; run \`tilelens analyze\` for the model first and pass its run id`,
    );
  }
  const row = projectsRepo.insertProject(ctx.db, {
    name,
    zoom: area.zoom,
    imageryId,
    runId,
    modelId: run.modelId,
    area: areaToFeatureCollection(area) as ProjectAreaJson,
    areaKm2: area.areaKm2,
    tileCount: countTiles(area, area.zoom),
    bbox: area.bbox,
    lookFor: input.lookFor?.trim() || 'buildings',
  });
  logTo(ctx, `project ${row.id} "${name}": ${row.tileCount} tiles at z${row.zoom}, run ${runId}`);
  return row;
}

export function listProjects(ctx: ScoringContext): ProjectRow[] {
  return projectsRepo.listProjects(ctx.db);
}

export function getProject(ctx: ScoringContext, id: number): ProjectRow | undefined {
  return projectsRepo.getProject(ctx.db, id);
}

export function requireProject(ctx: ScoringContext, id: number): ProjectRow {
  const project = getProject(ctx, id);
  if (!project)
    throw new ScoringError(
      'project-not-found',
      `no project with id ${id}; listProjects shows those there are`,
    );
  return project;
}
