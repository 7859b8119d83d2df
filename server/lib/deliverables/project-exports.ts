/**
 * Every file a scored project hands over, written into one folder: the MapSwipe Find drafts and their
 * areas, the Validate GeoJSON, the Tasking Manager tasks, the tile table (CSV and GeoJSON) and the effort
 * curve with its intervals. It sits above scoring and trust because the files carry both: the tiles'
 * scores and the figures a manager decides by.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mapswipeFindDrafts } from '../exports/mapswipe-find.ts';
import { writeMapswipeValidate } from '../exports/mapswipe-validate.ts';
import type { ExportProject } from '../exports/project-info.ts';
import { taskingManagerExport } from '../exports/tasking-manager.ts';
import { writeTileTableCsv, writeTileTableGeoJson } from '../exports/tile-table.ts';
import type { ScoringContext } from '../scoring/context.ts';
import { projectExportInfo } from '../scoring/export-info.ts';
import type { ProjectRow } from '../scoring/projects.ts';
import { DEFAULT_PUBLIC_URL } from '../scoring/score-region.ts';
import { iterateScoredTiles } from '../scoring/tiles-repo.ts';
import { projectEffort, projectFigures } from '../trust/project-effort.ts';

async function writeStream(
  path: string,
  write: (out: NodeJS.WritableStream) => Promise<unknown>,
): Promise<void> {
  const out = createWriteStream(path);
  const closed = new Promise<void>((ok, fail) => {
    out.on('close', ok);
    out.on('error', fail);
  });
  try {
    await write(out);
  } finally {
    out.end();
  }
  await closed;
}

/** What every export says about the project: its imagery and tiers, and what its figures rest on. */
export async function handoverInfo(
  ctx: ScoringContext,
  project: ProjectRow,
  publicUrl: string,
): Promise<ExportProject> {
  return {
    ...(await projectExportInfo(ctx, project, publicUrl)),
    figures: await projectFigures(ctx, project.id),
  };
}

/** Every export of a scored project into `dir`; returns the files by export. */
export async function writeProjectExports(
  ctx: ScoringContext,
  project: ProjectRow,
  dir: string,
  publicUrl = DEFAULT_PUBLIC_URL,
): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const info = await handoverInfo(ctx, project, publicUrl);
  const out: Record<string, string> = {};
  const file = (key: string, name: string) => (out[key] = join(dir, name));

  const finds = await mapswipeFindDrafts(iterateScoredTiles(ctx, project.id), info);
  await writeFile(
    file('mapswipeFind', 'mapswipe-find.json'),
    `${JSON.stringify({ projectId: project.id, drafts: finds })}\n`,
  );
  for (const f of finds) {
    await writeFile(
      file(`mapswipeFindArea:${f.tier}`, `mapswipe-find-${f.tier}.geojson`),
      `${JSON.stringify(f.draft.geometry)}\n`,
    );
  }
  await writeStream(file('mapswipeValidate', 'mapswipe-validate.geojson'), (s) =>
    writeMapswipeValidate(iterateScoredTiles(ctx, project.id, { orderBy: 'priority' }), info, s as never),
  );
  const tm = await taskingManagerExport(iterateScoredTiles(ctx, project.id), info);
  await writeFile(
    file('taskingManager', 'tasking-manager.json'),
    `${JSON.stringify({ projectId: project.id, ...tm })}\n`,
  );
  await writeStream(file('tilesCsv', 'tiles.csv'), (s) =>
    writeTileTableCsv(iterateScoredTiles(ctx, project.id), s as never),
  );
  await writeStream(file('tilesGeoJson', 'tiles.geojson'), (s) =>
    writeTileTableGeoJson(iterateScoredTiles(ctx, project.id), s as never, { figures: info.figures }),
  );
  // The effort panel's curve, its intervals and what they rest on, as the API serves it.
  await writeFile(
    file('effort', 'effort.json'),
    `${JSON.stringify({ projectId: project.id, ...(await projectEffort(ctx, project.id)) })}\n`,
  );
  return out;
}
