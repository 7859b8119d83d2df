/**
 * The labelled side for a stored project: draw and keep its calibration sample, take MapSwipe's answers
 * (or labels set in tilelens) in, and estimate the region's figures from them. Routes and the CLI call
 * these; the maths lives in the modules they use, which need no database.
 *
 *   drawProjectSample(ctx, projectId, {size, seed})      → the stored sample
 *   importMapswipeResults(ctx, projectId, bytes, {…})     → what was stored (or TrustError, nothing stored)
 *   setTileLabels(ctx, projectId, [{taskId, label}])      → the same, for labels set in tilelens
 *   projectRegionEstimate(ctx, projectId, {sampleId})     → RegionTrustEstimator: the one call for every figure
 *   trustReport(estimator, {target, delta, steps})        → its JSON for the API, the CLI and the panel
 *   afterMappingReport(ctx, projectId, {…})               → achieved recall, skip precision, disagreements
 */
import { iterateTileScores } from '../db/tile-scores-repo.ts';
import { parseTaskId } from '../geo/tiles.ts';
import type { ScoringContext } from '../scoring/context.ts';
import { requireProject } from '../scoring/projects.ts';
import {
  countLabels,
  getSampleRow,
  insertSample,
  latestSampleId,
  listSamples,
  projectTilesAmong,
  sampleLabels,
  sampleRects,
  sampleTileRows,
  storeLabels,
  tilesWithMappingLabels,
  type NewLabel,
} from '../db/trust-repo.ts';
import { sampleDesignSchema, type SampleDesign } from '../db/json.ts';
import { LABEL_PURPOSES, LABEL_VALUES, type LabelPurpose, type LabelValue } from '../db/schema.ts';
import { planRectangles } from '../exports/tile-rectangles.ts';
import { drawCalibrationSample, type CalibrationSample, type SampleOptions } from './calibration-sample.ts';
import { TrustError } from './errors.ts';
import { LABEL_RULE, parseMapswipeResults, refused } from './mapswipe-results.ts';
import {
  estimateRegion,
  type EstimateOptions,
  type LabelledSample,
  type RegionTrustEstimator,
} from './region-estimate.ts';
import { inRects } from './sample-exports.ts';
import type { TrustTile } from './trust-tile.ts';

/** The project's tiles as the labelled side reads them, streamed from the database in pages. */
export function projectTiles(ctx: ScoringContext, projectId: number): () => AsyncIterable<TrustTile> {
  return async function* () {
    for await (const r of iterateTileScores(ctx.db, projectId)) {
      yield { taskId: r.taskId, priority: r.priority, buildingProb: r.buildingProb ?? 0.5, status: r.status };
    }
  };
}

export interface StoredSample extends CalibrationSample {
  id: number;
  projectId: number;
  createdAt: Date;
}

export async function drawProjectSample(
  ctx: ScoringContext,
  projectId: number,
  options: SampleOptions = {},
): Promise<StoredSample> {
  await requireProject(ctx, projectId);
  const sample = await drawCalibrationSample(projectTiles(ctx, projectId), options);
  const coords = sample.tiles.map((t) => ({ ...parseTaskId(t.taskId), t }));
  const rects = planRectangles(coords, { bandHeight: 3, widthMultiple: 2, maxPolygons: Infinity }).rects;
  const id = await insertSample(
    ctx.db,
    projectId,
    sample.design,
    rects,
    coords.map(({ z, x, y, t }) => ({
      z,
      x,
      y,
      taskId: t.taskId,
      stratum: t.stratum,
      inclusionProb: t.inclusionProb,
      priority: t.priority,
      buildingProb: t.buildingProb,
    })),
  );
  return await loadSample(ctx, projectId, id);
}

export async function loadSample(
  ctx: ScoringContext,
  projectId: number,
  sampleId?: number,
): Promise<StoredSample> {
  await requireProject(ctx, projectId);
  const id = sampleId ?? (await latestSampleId(ctx.db, projectId));
  if (id === undefined) {
    throw new TrustError(
      'sample-not-found',
      `project ${projectId} has no calibration sample yet`,
      `draw one with POST /api/projects/${projectId}/calibration-samples`,
    );
  }
  const row = await getSampleRow(ctx.db, id);
  if (!row || row.projectId !== projectId) {
    throw new TrustError(
      'sample-not-found',
      `calibration sample ${id} of project ${projectId} does not exist`,
    );
  }
  return {
    id,
    projectId,
    createdAt: row.createdAt,
    design: checkedDesign(row.design, id),
    tiles: (await sampleTileRows(ctx.db, id)).map((t) => ({
      taskId: t.taskId,
      priority: t.priority,
      buildingProb: t.buildingProb,
      stratum: t.stratum,
      inclusionProb: t.inclusionProb,
    })),
  };
}

export { listSamples };

/** The stored design, checked: a hand-edited or older row is refused rather than estimated on. */
function checkedDesign(design: unknown, sampleId: number): SampleDesign {
  const parsed = sampleDesignSchema.safeParse(design);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TrustError(
      'sample-stale',
      `calibration sample ${sampleId}'s stored design is unreadable (${issue.path.join('.')}: ${issue.message})`,
      'draw a new calibration sample',
    );
  }
  return parsed.data;
}

export async function labelledSample(
  ctx: ScoringContext,
  projectId: number,
  sampleId?: number,
): Promise<LabelledSample & { id: number }> {
  const sample = await loadSample(ctx, projectId, sampleId);
  const labels = await sampleLabels(ctx.db, projectId, sample.id);
  return {
    id: sample.id,
    design: sample.design,
    tiles: sample.tiles.map((t) => {
      const l = labels.get(t.taskId);
      return {
        ...t,
        label: l === 'building' ? 1 : l === 'no_building' ? 0 : null,
        badImagery: l === 'bad_imagery',
      };
    }),
  };
}

export interface ImportOptions {
  purpose: LabelPurpose;
  /** MapSwipe's id of the project the answers should come from; the file must name it. */
  mapswipeProjectId?: string;
  maxBytes: number;
  format?: 'csv' | 'geojson' | 'auto';
}

export interface ImportSummary {
  importId: number;
  projectId: number;
  purpose: LabelPurpose;
  mapswipeProjectId: string | null;
  rows: number;
  stored: number;
  /** Rows for extra tiles of a sample's MapSwipe drafts that lie outside the project: read, not stored. */
  outside: number;
  labels: Record<LabelValue, number>;
  /** Each calibration sample of the project with how many of its tiles now have a usable label. */
  samples: Array<{ id: number; size: number; labelled: number; badImagery: number }>;
  rule: string;
}

function checkPurpose(p: unknown): LabelPurpose {
  if (!LABEL_PURPOSES.includes(p as LabelPurpose)) {
    throw new TrustError(
      'invalid-request',
      `purpose = ${String(p)}; use 'sample' (calibration answers) or 'mapping' (a finished project)`,
    );
  }
  return p as LabelPurpose;
}

/** Tiles that belong to a sample's MapSwipe drafts, as exported split or merged into one draft. */
async function sampleDraftArea(
  ctx: ScoringContext,
  projectId: number,
): Promise<(x: number, y: number) => boolean> {
  const rects = await sampleRects(ctx.db, projectId);
  const merged: ReturnType<typeof planRectangles>['rects'] = [];
  for (const s of await listSamples(ctx.db, projectId)) {
    const tiles = (await loadSample(ctx, projectId, s.id)).tiles.map((t) => parseTaskId(t.taskId));
    merged.push(...planRectangles(tiles, { bandHeight: 3, widthMultiple: 2, maxPolygons: 20 }).rects);
  }
  return (x, y) => inRects(rects, x, y) || inRects(merged, x, y);
}

export async function importMapswipeResults(
  ctx: ScoringContext,
  projectId: number,
  body: Uint8Array | string,
  options: ImportOptions,
): Promise<ImportSummary> {
  const project = await requireProject(ctx, projectId);
  const purpose = checkPurpose(options.purpose);
  const parsed = parseMapswipeResults(body, { maxBytes: options.maxBytes, format: options.format });
  const named = options.mapswipeProjectId?.trim();
  if (named && parsed.projectId !== named) {
    throw refused([`the file holds MapSwipe project ${parsed.projectId}'s results, not ${named}'s`]);
  }
  const otherZoom = parsed.rows.find((r) => r.z !== project.zoom);
  if (otherZoom) {
    throw refused([
      `task ${otherZoom.taskId} is at zoom ${otherZoom.z}; project ${projectId} is tiled at zoom ${project.zoom}`,
    ]);
  }
  const found = await projectTilesAmong(ctx.db, projectId, parsed.rows);
  const draftArea = await sampleDraftArea(ctx, projectId);
  const unknown = parsed.rows.filter((r) => !found.has(r.taskId) && !draftArea(r.x, r.y));
  if (unknown.length > 0) {
    throw refused([
      `${unknown.length} of ${parsed.rows.length} tasks are not tiles of project ${projectId} (e.g. ${unknown
        .slice(0, 3)
        .map((r) => r.taskId)
        .join(', ')}): is the file of another project?`,
    ]);
  }
  const inside = parsed.rows.filter((r) => found.has(r.taskId));
  if (purpose === 'sample') {
    const sampleIds = new Set<string>();
    for (const s of await listSamples(ctx.db, projectId))
      for (const t of (await loadSample(ctx, projectId, s.id)).tiles) sampleIds.add(t.taskId);
    if (!inside.some((r) => sampleIds.has(r.taskId))) {
      throw refused([
        `none of its ${parsed.rows.length} tasks is a tile of a calibration sample of project ${projectId}; import a finished mapping project with purpose=mapping`,
      ]);
    }
  }
  const labels: NewLabel[] = inside.map((r) => ({
    z: r.z,
    x: r.x,
    y: r.y,
    taskId: r.taskId,
    label: r.label,
    noCount: r.no,
    yesCount: r.yes,
    maybeCount: r.maybe,
    badCount: r.bad,
    agreement: r.agreement,
  }));
  const { importId, stored } = await storeLabels(
    ctx.db,
    {
      projectId,
      source: parsed.format === 'csv' ? 'mapswipe-csv' : 'mapswipe-geojson',
      purpose,
      mapswipeProjectId: parsed.projectId,
      rows: parsed.rows.length,
      outside: parsed.rows.length - inside.length,
    },
    labels,
  );
  return await summary(ctx, projectId, {
    importId,
    purpose,
    mapswipeProjectId: parsed.projectId,
    rows: parsed.rows.length,
    stored,
    outside: parsed.rows.length - inside.length,
    labels,
  });
}

async function summary(
  ctx: ScoringContext,
  projectId: number,
  o: Omit<ImportSummary, 'labels' | 'samples' | 'rule' | 'projectId'> & { labels: NewLabel[] },
): Promise<ImportSummary> {
  const counts: Record<LabelValue, number> = { building: 0, no_building: 0, bad_imagery: 0 };
  for (const l of o.labels) counts[l.label]++;
  return {
    ...o,
    projectId,
    labels: counts,
    samples: (await listSamples(ctx.db, projectId)).map(({ id, size, labelled, badImagery }) => ({
      id,
      size,
      labelled,
      badImagery,
    })),
    rule: LABEL_RULE,
  };
}

export interface TileLabelInput {
  taskId: string;
  label: LabelValue;
}

/** Labels set in tilelens (a JSON list, or one tile at a time): refused whole if any is wrong. */
export async function setTileLabels(
  ctx: ScoringContext,
  projectId: number,
  input: unknown,
  purpose: LabelPurpose = 'sample',
): Promise<ImportSummary> {
  const project = await requireProject(ctx, projectId);
  checkPurpose(purpose);
  if (!Array.isArray(input) || input.length === 0) {
    throw new TrustError('invalid-request', 'give the labels as a non-empty list of { taskId, label }');
  }
  if (input.length > 100_000)
    throw new TrustError('invalid-request', `${input.length} labels in one call; send at most 100,000`);
  const reasons: string[] = [];
  const seen = new Set<string>();
  const labels: NewLabel[] = [];
  input.forEach((item: { taskId?: unknown; label?: unknown }, i) => {
    const label = item?.label as LabelValue;
    let tile;
    try {
      tile = parseTaskId(String(item?.taskId));
    } catch {
      reasons.push(`#${i}: taskId ${JSON.stringify(item?.taskId)} is not z-x-y`);
      return;
    }
    const taskId = `${tile.z}-${tile.x}-${tile.y}`;
    if (!LABEL_VALUES.includes(label))
      reasons.push(`#${i}: label ${JSON.stringify(item?.label)}; use ${LABEL_VALUES.join(', ')}`);
    else if (seen.has(taskId)) reasons.push(`#${i}: task ${taskId} is labelled twice`);
    else if (tile.z !== project.zoom)
      reasons.push(`#${i}: task ${taskId} is not at the project's zoom ${project.zoom}`);
    else labels.push({ ...tile, taskId, label });
    seen.add(taskId);
  });
  if (reasons.length === 0) {
    const found = await projectTilesAmong(ctx.db, projectId, labels);
    const unknown = labels.filter((l) => !found.has(l.taskId));
    if (unknown.length > 0)
      reasons.push(
        `${unknown.length} task(s) are not tiles of project ${projectId} (e.g. ${unknown[0].taskId})`,
      );
  }
  if (reasons.length > 0) {
    throw new TrustError(
      'invalid-request',
      `the labels were refused, nothing was stored: ${reasons.slice(0, 5).join('; ')}`,
    );
  }
  const { importId, stored } = await storeLabels(
    ctx.db,
    { projectId, source: 'tilelens', purpose, rows: labels.length, outside: 0 },
    labels,
  );
  return await summary(ctx, projectId, {
    importId,
    purpose,
    mapswipeProjectId: null,
    rows: labels.length,
    stored,
    outside: 0,
    labels,
  });
}

/** Every figure of the region from its (latest, by default) labelled calibration sample: one call. */
export async function projectRegionEstimate(
  ctx: ScoringContext,
  projectId: number,
  options: EstimateOptions & { sampleId?: number } = {},
): Promise<RegionTrustEstimator & { sampleId: number }> {
  const sample = await labelledSample(ctx, projectId, options.sampleId);
  if (!sample.tiles.some((t) => t.label !== null)) {
    throw new TrustError(
      'no-labels',
      `calibration sample ${sample.id} of project ${projectId} has no usable label yet`,
      'export it to MapSwipe (or label its tiles in tilelens), then import the answers',
    );
  }
  const est = await estimateRegion(projectTiles(ctx, projectId), sample, options);
  return Object.assign(est, { sampleId: sample.id });
}

export interface ReportOptions {
  target?: number;
  delta?: number;
  steps?: number;
  threshold?: number;
}

export function trustReport(est: RegionTrustEstimator & { sampleId?: number }, o: ReportOptions = {}) {
  return {
    sampleId: est.sampleId ?? null,
    level: est.level,
    basis: est.basis,
    buildingTiles: est.buildingTiles(),
    recall: o.threshold !== undefined ? est.recallAt(o.threshold) : null,
    guarantee: est.guaranteedThreshold(o.target ?? 0.95, o.delta ?? 0.1),
    curve: est.curve(o.steps ?? 21),
    calibrator: est.calibrator.toJSON(),
    labelRule: LABEL_RULE,
  };
}

export interface Disagreement {
  taskId: string;
  kind: 'model-missed' | 'model-false-alarm';
  /** −log P(volunteers' answer) under the model recalibrated to the region: higher = more surprising. */
  surprise: number;
  buildingProb: number;
  regionProb: number;
  priority: number;
  yes: number;
  maybe: number;
  no: number;
}

export async function afterMappingReport(
  ctx: ScoringContext,
  projectId: number,
  options: EstimateOptions & { sampleId?: number; top?: number } = {},
) {
  const mapped = await countLabels(ctx.db, projectId, 'mapping');
  if (mapped.building + mapped.no_building + mapped.bad_imagery === 0) {
    throw new TrustError(
      'no-labels',
      `project ${projectId} has no answers from a finished mapping project yet`,
      "import its MapSwipe results with purpose 'mapping'",
    );
  }
  const est = await projectRegionEstimate(ctx, projectId, options);
  const top = Math.max(1, Math.min(options.top ?? 50, 1000));
  let sent = 0;
  let sentBuildings = 0;
  let sentEmpty = 0;
  const badImagery: string[] = [];
  let badCount = 0;
  let worst: Disagreement[] = [];
  const keep = (d: Disagreement) => {
    worst.push(d);
    if (worst.length > 4 * top) worst = worst.sort((a, b) => b.surprise - a.surprise).slice(0, top);
  };
  const tiles = async function* () {
    for await (const r of tilesWithMappingLabels(ctx.db, projectId)) {
      const tile = {
        taskId: r.taskId,
        priority: r.priority,
        buildingProb: r.buildingProb ?? 0.5,
        status: r.status,
      };
      if (r.status === 'scored' && r.label !== null) {
        sent++;
        if (r.label === 'bad_imagery') {
          badCount++;
          if (badImagery.length < 1000) badImagery.push(r.taskId);
        } else {
          const regionProb = est.calibrator.predict(tile.buildingProb);
          const building = r.label === 'building';
          if (building) sentBuildings++;
          else sentEmpty++;
          keep({
            taskId: r.taskId,
            kind: building ? 'model-missed' : 'model-false-alarm',
            surprise: -Math.log(Math.max(1e-6, building ? regionProb : 1 - regionProb)),
            buildingProb: tile.buildingProb,
            regionProb,
            priority: r.priority,
            yes: r.yesCount ?? 0,
            maybe: r.maybeCount ?? 0,
            no: r.noCount ?? 0,
          });
        }
      }
      yield { ...tile, inDomain: r.label === null };
    }
  };
  const missed = await est.countIn(tiles());
  worst = worst.sort((a, b) => b.surprise - a.surprise).slice(0, top);
  const pct = (v: number) => `${(v * 100).toFixed(0)} %`;
  const recall = {
    estimate: sentBuildings + missed.estimate > 0 ? sentBuildings / (sentBuildings + missed.estimate) : 1,
    low: sentBuildings + missed.high > 0 ? sentBuildings / (sentBuildings + missed.high) : 1,
    high: sentBuildings + missed.low > 0 ? sentBuildings / (sentBuildings + missed.low) : 1,
    level: est.level,
  };
  const skipped = missed.size;
  const precision = {
    estimate: skipped > 0 ? 1 - missed.estimate / skipped : 1,
    low: skipped > 0 ? 1 - missed.high / skipped : 1,
    high: skipped > 0 ? 1 - missed.low / skipped : 1,
    level: est.level,
  };
  return {
    projectId,
    sampleId: est.sampleId,
    sent,
    skipped,
    sentWithBuilding: sentBuildings,
    sentWithout: sentEmpty,
    missedBuildingTiles: missed,
    achievedRecall: recall,
    skipPrecision: precision,
    badImagery: { tiles: badCount, taskIds: badImagery },
    disagreements: worst,
    basis: est.basis,
    promise:
      `Volunteers saw ${sent.toLocaleString('en')} tiles and found buildings on ${sentBuildings.toLocaleString('en')}; ` +
      `the ${skipped.toLocaleString('en')} skipped tiles hold an estimated ${Math.round(missed.estimate)} more ` +
      `(${Math.round(missed.low)}–${Math.round(missed.high)}): achieved recall ${pct(recall.estimate)} (${pct(recall.low)}–${pct(recall.high)}, ${pct(est.level)} interval, on ${est.basis.labels} sample labels)` +
      (badCount > 0 ? `; ${badCount} tiles came back as bad imagery and count in neither` : ''),
  };
}
