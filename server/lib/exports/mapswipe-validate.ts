/**
 * MapSwipe "Validate" (Footprint, projectType 2) input: the model's predicted buildings as polygons for
 * volunteers to confirm or reject, only in the tiles that need a human look.
 *
 * MapSwipe reads the objects from a GeoJSON file it downloads (`inputType: "link"`,
 * `inputGeometries: <url>`), one task per feature. The file is streamed: a region can hold millions of
 * predicted buildings, so at most `cap` features are written (100k by default, a large project already)
 * and the FeatureCollection says how many were left out. Features come in input order: feed tiles in
 * descending priority and the cap keeps the most urgent ones.
 */
import type { Writable } from 'node:stream';
import type { ScoredTile, Tier } from '../scored-tiles/scored-tile.ts';
import { mapswipeTileServer, type MapswipeTileServer } from './mapswipe-find.ts';
import { checkProject, ExportError, round6, type ExportProject } from './project-info.ts';
import { tierFor, type TierThresholds } from '../scored-tiles/tiers.ts';
import { writeChunks } from './stream.ts';

export const DEFAULT_VALIDATE_CAP = 100_000;

export interface MapswipeValidateOptions {
  tiers?: Tier[];
  thresholds?: TierThresholds;
  cap?: number;
}

export interface ValidateSummary {
  written: number;
  /** Polygons beyond the cap, left out. */
  leftOut: number;
  tilesUsed: number;
  /** Tiles in the chosen tiers that carried no predicted footprint. */
  tilesWithoutFootprints: number;
  truncated: boolean;
}

export function emptyValidateSummary(): ValidateSummary {
  return { written: 0, leftOut: 0, tilesUsed: 0, tilesWithoutFootprints: 0, truncated: false };
}

/**
 * The FeatureCollection text in chunks. `summary` (filled while streaming) reports what was written;
 * the same figures close the file as its `tilelens` member.
 */
export async function* mapswipeValidateChunks(
  tiles: Iterable<ScoredTile> | AsyncIterable<ScoredTile>,
  projectInfo: ExportProject,
  options: MapswipeValidateOptions = {},
  summary: ValidateSummary = emptyValidateSummary(),
): AsyncGenerator<string> {
  const project = checkProject(projectInfo);
  const tiers = new Set(options.tiers ?? ['high', 'medium']);
  const cap = options.cap ?? DEFAULT_VALIDATE_CAP;
  if (!Number.isInteger(cap) || cap < 1)
    throw new ExportError(
      `cap = ${cap}; give the largest number of polygons MapSwipe should get (e.g. 100000)`,
    );
  yield '{"type":"FeatureCollection","features":[\n';
  for await (const tile of tiles) {
    if (tile.status !== 'scored') continue;
    const tier = tierFor(tile, options.thresholds);
    if (!tiers.has(tier)) continue;
    const parts = tile.footprints?.coordinates ?? [];
    if (parts.length === 0) {
      summary.tilesWithoutFootprints++;
      continue;
    }
    summary.tilesUsed++;
    for (const coordinates of parts) {
      if (summary.written >= cap) {
        summary.leftOut++;
        continue;
      }
      const feature = {
        type: 'Feature',
        properties: {
          feature_id: summary.written,
          task_id: tile.taskId,
          priority: round6(tile.priority),
          confidence: round6(tile.iouHat),
          building_prob: round6(tile.buildingProb),
          tier,
          model_id: project.model.id,
          run_id: String(project.runId),
        },
        geometry: { type: 'Polygon', coordinates },
      };
      yield (summary.written > 0 ? ',\n' : '') + JSON.stringify(feature);
      summary.written++;
    }
  }
  summary.truncated = summary.leftOut > 0;
  const note = summary.truncated
    ? `capped at ${cap} polygons; ${summary.leftOut} more were left out — split the project or raise the tier thresholds`
    : `all ${summary.written} predicted polygons of the chosen tiers`;
  yield `\n],"tilelens":${JSON.stringify({ ...summary, cap, note, model: project.model, runId: project.runId, figures: project.figures ?? null })}}\n`;
}

export async function writeMapswipeValidate(
  tiles: Iterable<ScoredTile> | AsyncIterable<ScoredTile>,
  projectInfo: ExportProject,
  out: Writable,
  options: MapswipeValidateOptions = {},
): Promise<ValidateSummary> {
  const summary = emptyValidateSummary();
  await writeChunks(mapswipeValidateChunks(tiles, projectInfo, options, summary), out);
  return summary;
}

export interface MapswipeValidateDraft {
  projectType: 2;
  name: string;
  projectTopic: string;
  lookFor: string;
  projectDetails: string;
  inputType: 'link';
  inputGeometries: string;
  groupSize: number;
  verificationNumber: number;
  tileServer: MapswipeTileServer;
  image: string;
}

/** The draft that points MapSwipe at the published objects file. */
export function mapswipeValidateDraft(
  projectInfo: ExportProject,
  o: {
    inputGeometriesUrl: string;
    summary?: ValidateSummary;
    groupSize?: number;
    verificationNumber?: number;
    image?: string;
  },
): MapswipeValidateDraft {
  const project = checkProject(projectInfo);
  if (!/^https?:\/\//.test(o.inputGeometriesUrl)) {
    throw new ExportError(
      `inputGeometriesUrl "${o.inputGeometriesUrl}" is not an http(s) URL; publish the objects file where MapSwipe can download it`,
    );
  }
  const counts = o.summary
    ? ` ${o.summary.written} predicted ${project.lookFor}${o.summary.truncated ? ` (capped; ${o.summary.leftOut} more left out)` : ''}.`
    : '';
  return {
    projectType: 2,
    name: `${project.name} – check predicted ${project.lookFor}`,
    projectTopic: project.name,
    lookFor: project.lookFor,
    projectDetails: `Is each outline a real ${project.lookFor.replace(/s$/, '')}? Outlines predicted by ${project.model.name} ${project.model.version} (model ${project.model.id}, scoring run ${project.runId}) in the tiles tilelens marked for checking.${counts}`,
    inputType: 'link',
    inputGeometries: o.inputGeometriesUrl,
    groupSize: o.groupSize ?? 25,
    verificationNumber: o.verificationNumber ?? 3,
    tileServer: mapswipeTileServer(project.imagery),
    image: o.image ?? '',
  };
}
