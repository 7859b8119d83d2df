/**
 * HOT Tasking Manager exports: a draft-project body with its task grid, a task-annotations body with
 * tilelens' scores per task, and priority areas.
 *
 * Tasks are squares of the slippy-map grid at a coarser `taskZoom` (TM's own grid is that grid): a task
 * holds the 4^(zoom − taskZoom) scored tiles beneath it. TM stores a square's `x`, `y` in TMS order
 * (y counted from the south: yTMS = 2^z − 1 − y) with `zoom` and `isSquare: true`, and wants every task
 * geometry as a MultiPolygon. In "clustered" mode a task is only the chosen tiles of its square (their
 * union), flagged `isSquare: false` with `arbitraryTasks: true` on the project; TM then makes each
 * feature of the area of interest one task, so those features carry the same properties.
 *
 * TM numbers tasks 1..n in the order of the `tasks` FeatureCollection, so tasks are written most urgent
 * first and the annotations refer to those numbers. Annotations go to
 * `POST /api/v2/projects/{projectId}/annotations/{annotationType}/` as
 * `{ projectId, annotationType, tasks: [{ taskId, annotationSource, annotationMarkdown, properties }] }`.
 */
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { featureCollection, polygon as turfPolygon, union } from '@turf/turf';
import { tileFootprint } from '../geo/tiles.ts';
import { TIERS, type ScoredTile, type Tier } from '../scored-tiles/scored-tile.ts';
import { checkProject, checkZoom, ExportError, round6, type ExportProject } from './project-info.ts';
import { tierFor, type TierThresholds } from '../scored-tiles/tiers.ts';
import { planRectangles, rectPolygon } from './tile-rectangles.ts';

export type TmTaskMode = 'squares' | 'clustered';

export interface TaskingManagerOptions {
  mode?: TmTaskMode;
  /** Zoom of the task squares; defaults to the project zoom − 3 (8 × 8 tiles a task). */
  taskZoom?: number;
  tiers?: Tier[];
  thresholds?: TierThresholds;
  /** TM organisation id for the draft. */
  organisation?: number;
  /** Set once TM has created the project, to address the annotations. */
  tmProjectId?: number;
  annotationType?: string;
  /** Polygons in the priority-area list. */
  maxPriorityAreas?: number;
}

export interface TmTaskProperties {
  x: number;
  y: number;
  zoom: number;
  isSquare: boolean;
  extra_properties: TmTaskScores;
}

export interface TmTaskScores {
  tilelens_priority: number;
  /** Mean smoothed IoU of the task's tiles: how far the model's outlines there can be trusted. */
  tilelens_confidence: number;
  tilelens_tier: Tier;
  tilelens_tiles: number;
}

export interface TmDraftProject {
  projectName: string;
  organisation?: number;
  areaOfInterest: FeatureCollection<MultiPolygon>;
  tasks: FeatureCollection<MultiPolygon, TmTaskProperties>;
  arbitraryTasks: boolean;
}

export interface TmAnnotation {
  taskId: number;
  annotationSource: string;
  annotationMarkdown: string;
  properties: {
    priority: number;
    confidence: number;
    predictedBuildingShare: number;
    buildingProbMax: number;
    expectedBuildingTiles: number;
    tiles: number;
    tier: Tier;
    modelId: string;
    modelVersion: string;
    runId: string;
  };
}

export interface TmAnnotationsBody {
  projectId: number | null;
  annotationType: string;
  tasks: TmAnnotation[];
}

export interface TaskingManagerExport {
  draft: TmDraftProject;
  annotations: { path: string; body: TmAnnotationsBody };
  /** For the project's `priorityAreas`: outlines of the high tier. */
  priorityAreas: Polygon[];
  /** What the figures behind the tiers rest on (null when the caller did not say). */
  figures: ExportProject['figures'] | null;
}

interface Block {
  x: number;
  y: number;
  tiles: number;
  priorityMax: number;
  iouSum: number;
  predSum: number;
  probSum: number;
  probMax: number;
  tier: Tier;
  /** Only kept in clustered mode, where the task outline follows the tiles. */
  members?: number[];
}

export async function taskingManagerExport(
  tiles: AsyncIterable<ScoredTile> | Iterable<ScoredTile>,
  projectInfo: ExportProject,
  options: TaskingManagerOptions = {},
): Promise<TaskingManagerExport> {
  const project = checkProject(projectInfo);
  const mode = options.mode ?? 'squares';
  const taskZoom = options.taskZoom ?? Math.max(0, project.zoom - 3);
  if (!Number.isInteger(taskZoom) || taskZoom < 0 || taskZoom > project.zoom) {
    throw new ExportError(
      `taskZoom = ${taskZoom}; task squares need an integer zoom between 0 and the project zoom ${project.zoom}`,
    );
  }
  const tiers = new Set(options.tiers ?? ['high', 'medium', 'low']);
  const shift = project.zoom - taskZoom;
  const blocks = new Map<number, Block>();
  const highTiles: Array<{ x: number; y: number }> = [];
  const side = 2 ** taskZoom;
  for await (const tile of tiles) {
    checkZoom(tile, project.zoom);
    const tier = tierFor(tile, options.thresholds);
    if (!tiers.has(tier)) continue;
    if (tier === 'high') highTiles.push({ x: tile.x, y: tile.y });
    const bx = tile.x >> shift;
    const by = tile.y >> shift;
    const key = by * side + bx;
    let b = blocks.get(key);
    if (!b) {
      b = {
        x: bx,
        y: by,
        tiles: 0,
        priorityMax: 0,
        iouSum: 0,
        predSum: 0,
        probSum: 0,
        probMax: 0,
        tier: 'skip',
      };
      if (mode === 'clustered') b.members = [];
      blocks.set(key, b);
    }
    b.tiles++;
    b.priorityMax = Math.max(b.priorityMax, tile.priority);
    b.iouSum += tile.iouHat;
    b.predSum += tile.predFraction;
    b.probSum += tile.buildingProb;
    b.probMax = Math.max(b.probMax, tile.buildingProb);
    if (TIERS.indexOf(tier) < TIERS.indexOf(b.tier)) b.tier = tier;
    b.members?.push(tile.x, tile.y);
  }
  if (blocks.size === 0) {
    throw new ExportError(
      `no tile falls in the tiers ${[...tiers].join(', ')}; lower the tier thresholds or choose more tiers`,
    );
  }
  const ordered = [...blocks.values()].sort(
    (a, b) => b.priorityMax - a.priorityMax || a.y - b.y || a.x - b.x,
  );

  const features: Feature<MultiPolygon, TmTaskProperties>[] = ordered.map((b) => ({
    type: 'Feature',
    properties: {
      x: b.x,
      y: side - 1 - b.y,
      zoom: taskZoom,
      isSquare: mode === 'squares',
      extra_properties: {
        tilelens_priority: round6(b.priorityMax),
        tilelens_confidence: round6(b.iouSum / b.tiles),
        tilelens_tier: b.tier,
        tilelens_tiles: b.tiles,
      },
    },
    geometry:
      mode === 'squares'
        ? { type: 'MultiPolygon', coordinates: [tileFootprint(taskZoom, b.x, b.y).coordinates] }
        : tilesOutline(b.members!, project.zoom),
  }));
  const draft: TmDraftProject = {
    projectName: project.name,
    ...(options.organisation !== undefined ? { organisation: options.organisation } : {}),
    areaOfInterest: {
      type: 'FeatureCollection',
      // With arbitraryTasks TM makes each area feature one task, keeping its properties: they carry the scores.
      features: features.map((f) => ({
        type: 'Feature',
        properties: mode === 'clustered' ? f.properties : {},
        geometry: f.geometry,
      })),
    },
    tasks: { type: 'FeatureCollection', features },
    arbitraryTasks: mode === 'clustered',
  };

  const annotationType = options.annotationType ?? 'tilelens';
  const source = `tilelens · ${project.model.name} ${project.model.version}`;
  const body: TmAnnotationsBody = {
    projectId: options.tmProjectId ?? null,
    annotationType,
    tasks: ordered.map((b, i) => {
      const confidence = b.iouSum / b.tiles;
      const share = b.predSum / b.tiles;
      return {
        taskId: i + 1,
        annotationSource: source,
        annotationMarkdown: `**tilelens ${b.tier} priority** ${round6(b.priorityMax).toFixed(2)} · model confidence ${(confidence * 100).toFixed(0)} % · predicted building cover ${(share * 100).toFixed(1)} % over ${b.tiles} tiles`,
        properties: {
          priority: round6(b.priorityMax),
          confidence: round6(confidence),
          predictedBuildingShare: round6(share),
          buildingProbMax: round6(b.probMax),
          expectedBuildingTiles: round6(b.probSum),
          tiles: b.tiles,
          tier: b.tier,
          modelId: project.model.id,
          modelVersion: project.model.version,
          runId: String(project.runId),
        },
      };
    }),
  };
  const path = `/api/v2/projects/${options.tmProjectId ?? '{projectId}'}/annotations/${encodeURIComponent(annotationType)}/`;

  const plan = planRectangles(highTiles, {
    bandHeight: 1,
    widthMultiple: 1,
    maxPolygons: options.maxPriorityAreas ?? 20,
  });
  const priorityAreas = plan.rects.map((r) => rectPolygon(r, project.zoom, 0));
  return { draft, annotations: { path, body }, priorityAreas, figures: project.figures ?? null };
}

/** Union of the chosen tiles of one task, as the MultiPolygon TM requires. */
function tilesOutline(flat: number[], zoom: number): MultiPolygon {
  const pairs: Array<{ x: number; y: number }> = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push({ x: flat[i], y: flat[i + 1] });
  const rects = planRectangles(pairs, { bandHeight: 1, widthMultiple: 1, maxPolygons: Infinity }).rects;
  const parts = rects.map((r) => turfPolygon(rectPolygon(r, zoom, 0).coordinates));
  const merged = parts.length === 1 ? parts[0] : union(featureCollection(parts));
  if (!merged)
    throw new ExportError(
      `task outline of ${pairs.length} tiles came out empty; report this with the tile list`,
    );
  const g = merged.geometry;
  return g.type === 'MultiPolygon' ? g : { type: 'MultiPolygon', coordinates: [g.coordinates] };
}
