/**
 * The calibration sample as files: a CSV of its tiles (for any labelling tool) and MapSwipe Find project
 * drafts that make volunteers answer exactly those tiles — as nearly as MapSwipe allows.
 *
 * MapSwipe shows a Find project's area in groups two tiles wide and three rows high (tile-rectangles.ts),
 * and a project area holds at most 20 polygons. A sample tile therefore travels in the smallest group
 * that holds it (its neighbours in the same 2 × 3 block come along: the extra tiles, listed by task id), and
 * the sample is split into as many drafts as it takes to keep each at 20 polygons or fewer. Asking for a
 * single draft instead merges neighbouring blocks until 20 remain, which covers many more extra tiles.
 */
import { tileBounds, tileToQuadkey, parseTaskId, taskId as taskIdOf } from '../geo/tiles.ts';
import { findDraft, type MapswipeFindDraft } from '../exports/mapswipe-find.ts';
import { checkProject, round6, type ExportProject } from '../exports/project-info.ts';
import { planRectangles, rectTiles, type TileRect } from '../exports/tile-rectangles.ts';
import type { CalibrationSample } from './calibration-sample.ts';
import { TrustError } from './errors.ts';

export const SAMPLE_CSV_COLUMNS = [
  'task_id',
  'quadkey',
  'lon',
  'lat',
  'stratum',
  'inclusion_probability',
  'priority',
  'building_prob',
] as const;

export function* sampleCsv(sample: Pick<CalibrationSample, 'tiles'>): Generator<string> {
  yield `${SAMPLE_CSV_COLUMNS.join(',')}\n`;
  for (const t of sample.tiles) {
    const { z, x, y } = parseTaskId(t.taskId);
    const [w, s, e, n] = tileBounds(z, x, y);
    yield `${[
      t.taskId,
      tileToQuadkey(z, x, y),
      round6((w + e) / 2),
      round6((s + n) / 2),
      t.stratum,
      t.inclusionProb.toPrecision(6),
      t.priority.toFixed(6),
      t.buildingProb.toFixed(6),
    ].join(',')}\n`;
  }
}

export interface SampleFindOptions {
  /** Polygons per draft (MapSwipe: 20). */
  maxPolygons?: number;
  /** 1 forces everything into one draft (merging blocks); default: as many drafts as needed. */
  maxDrafts?: number;
  groupSize?: number;
  verificationNumber?: number;
  image?: string;
}

export interface SampleFindExport {
  sampleTiles: number;
  drafts: Array<{ part: number; draft: MapswipeFindDraft; tiles: number; polygons: number }>;
  /** Tiles the drafts show that are not in the sample; their answers are kept but never enter an estimate. */
  extraTiles: number;
  extraTaskIds: string[];
  /** Every rectangle of every draft, for matching imported results to this sample. */
  rects: TileRect[];
  note: string;
}

export function sampleFindDrafts(
  sample: Pick<CalibrationSample, 'tiles'>,
  projectInfo: ExportProject,
  sampleId: number | string,
  options: SampleFindOptions = {},
): SampleFindExport {
  const project = checkProject(projectInfo);
  const maxPolygons = options.maxPolygons ?? 20;
  const maxDrafts = options.maxDrafts ?? Infinity;
  if (!Number.isInteger(maxPolygons) || maxPolygons < 1)
    throw new TrustError('invalid-request', `maxPolygons = ${maxPolygons}; MapSwipe takes up to 20`);
  if (!(maxDrafts >= 1)) throw new TrustError('invalid-request', `maxDrafts = ${maxDrafts}; use 1 or more`);
  if (sample.tiles.length === 0) throw new TrustError('no-tiles', 'the sample holds no tile to export');
  const coords = sample.tiles.map((t) => parseTaskId(t.taskId));
  for (const c of coords) {
    if (c.z !== project.zoom)
      throw new TrustError('invalid-request', `sample tile at zoom ${c.z}, project at ${project.zoom}`);
  }
  // Exact blocks first; merged only when the number of drafts is capped.
  const plan = planRectangles(coords, {
    bandHeight: 3,
    widthMultiple: 2,
    maxPolygons: Number.isFinite(maxDrafts) ? maxPolygons * maxDrafts : Infinity,
  });
  const parts: TileRect[][] = [];
  for (let i = 0; i < plan.rects.length; i += maxPolygons) parts.push(plan.rects.slice(i, i + maxPolygons));
  const inSample = new Set(sample.tiles.map((t) => t.taskId));
  const extraTaskIds: string[] = [];
  for (const r of plan.rects) {
    for (let y = r.y0; y <= r.y1; y++) {
      for (let x = r.x0; x <= r.x1; x++) {
        const id = taskIdOf(project.zoom, x, y);
        if (!inSample.has(id)) extraTaskIds.push(id);
      }
    }
  }
  const groupSize = options.groupSize ?? 120;
  const verificationNumber = options.verificationNumber ?? 3;
  const drafts = parts.map((rects, i) => {
    const tiles = rects.reduce((s, r) => s + rectTiles(r), 0);
    const details = [
      `Calibration sample ${sampleId} of ${project.name}${parts.length > 1 ? `, part ${i + 1} of ${parts.length}` : ''}: tiles drawn at random by tilelens so that the model's figures for this region can be checked against your answers.`,
      `Please answer every tile: yes if it shows ${project.lookFor}, no if not, maybe if unsure, bad imagery when you cannot see the ground.`,
      `Model ${project.model.name} ${project.model.version} (scoring run ${project.runId}).`,
    ].join(' ');
    return {
      part: i + 1,
      draft: findDraft(rects, project, {
        name: `${project.name} – calibration sample ${sampleId}${parts.length > 1 ? ` (${i + 1}/${parts.length})` : ''}`,
        details,
        groupSize,
        verificationNumber,
        image: options.image ?? '',
      }),
      tiles,
      polygons: rects.length,
    };
  });
  return {
    sampleTiles: inSample.size,
    drafts,
    extraTiles: extraTaskIds.length,
    extraTaskIds,
    rects: plan.rects,
    note:
      `${inSample.size} sample tiles in ${drafts.length} draft(s) of at most ${maxPolygons} polygons; ` +
      `${extraTaskIds.length} extra tiles come along because MapSwipe shows tiles in 2 × 3 groups` +
      (plan.note ? `; ${plan.note}` : ''),
  };
}

/** Whether a tile lies in one of the rectangles (padding of an exported sample). */
export function inRects(rects: readonly TileRect[], x: number, y: number): boolean {
  return rects.some((r) => x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1);
}
