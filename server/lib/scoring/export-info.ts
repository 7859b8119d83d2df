/**
 * What every export of a project says about it besides its tiles (server/lib/exports/project-info.ts): built
 * here once, for the API's downloads and for `tilelens score`'s files alike, so the two never disagree.
 */
import { getModel } from '../db/analysis-repo.ts';
import type { ExportProject } from '../exports/project-info.ts';
import type { ScoringContext } from './context.ts';
import { ScoringError } from './errors.ts';
import { getImagery } from './imagery-registry.ts';
import type { ProjectRow } from './projects.ts';

/** The URL other tools reach this server at: the configured one, else the one a request came in on. */
export function publicBaseUrl(configured: string | undefined, requestOrigin: string): string {
  return (configured ?? requestOrigin).replace(/\/+$/, '');
}

/** The project's export info; its imagery tiles are served under `publicBase` (see publicBaseUrl). */
export async function projectExportInfo(
  ctx: ScoringContext,
  project: ProjectRow,
  publicBase: string,
): Promise<ExportProject> {
  const imagery = await getImagery(ctx, project.imageryId);
  const model = await getModel(ctx.db, project.modelId);
  if (!imagery || !model) {
    throw new ScoringError(
      'project-incomplete',
      `project ${project.id} refers to ${!imagery ? `imagery ${project.imageryId}` : `model ${project.modelId}`}, which is gone`,
      { hint: 'register it again or create the project anew' },
    );
  }
  return {
    name: project.name,
    imagery: {
      name: imagery.name,
      url: `${publicBase.replace(/\/+$/, '')}/imagery/${imagery.id}/{z}/{x}/{y}.jpg`,
      credits: imagery.attribution ?? '',
    },
    model: { id: String(model.id), name: model.name, version: model.sha256.slice(0, 12) },
    runId: project.runId,
    lookFor: project.lookFor,
    zoom: project.zoom,
  };
}
