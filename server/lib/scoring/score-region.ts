/**
 * A region scored end to end without a server: imagery registered (or found again by name), a
 * project over an area (by default the imagery's extent), the scoring job run to its end, and every
 * export written to a folder. `tilelens score` is this function on the command line.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { getRun, newestRunOfWeights } from '../db/analysis-repo.ts';
import { inTransaction } from '../db/client.ts';
import { fileSha256 } from '../file-hash.ts';
import { bboxPolygon, type BBox } from '../geo/tiles.ts';
import type { ImagerySource, ImagerySpec } from '../imagery/source.ts';
import type { ScoringContext } from './context.ts';
import { ScoringError } from './errors.ts';
import {
  deleteImagery,
  findOrProbeImagery,
  getImagerySource,
  insertImagery,
  type ImageryRow,
} from './imagery-registry.ts';
import { startScoring, waitForJob, type JobRow } from './jobs.ts';
import { deleteProject, insertProject, prepareProject, type ProjectRow } from './projects.ts';
import { countScoredTiles, type TileCounts } from './tiles-repo.ts';
import { TilelensError } from '../errors.ts';

export interface ScoreRegionOptions {
  /** The model file; its newest analysis run is used unless `runId` is given. */
  modelPath?: string;
  runId?: number;
  /** A folder of GeoTIFFs, a .tif, a .pmtiles, an XYZ URL template, a .json spec, or a spec object. */
  imagery: string | ImagerySpec;
  /** Name the imagery is registered under; default from the path or URL. Same name + same spec reuses it. */
  imageryName?: string;
  /** GeoJSON (object or file path); default the imagery's bounds. */
  area?: unknown;
  zoom?: number;
  projectName?: string;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ScoreRegionResult {
  projectId: number;
  imageryId: number;
  runId: number;
  tiles: number;
  scored: number;
  missing: number;
  failed: number;
  job: JobRow;
  seconds: number;
  /** What the imagery source reported at opening (files skipped in a folder). */
  warnings: string[];
}

/** The scoring job stopped short; the call took back the project (and the imagery) it stored. */
export class ScoreRegionError extends TilelensError {
  override name = 'ScoreRegionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('scoring-stopped', message, { status: 500, cause: options?.cause });
  }
}

/** Degrees, ~1 mm: far below a pixel, far above the rounding of stored areas (1e-10°). */
const EDGE_INSET = 1e-8;

export const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:8700';

/** The spec a command-line imagery argument names. */
export function imagerySpecFor(arg: string): ImagerySpec {
  if (/^https?:\/\//i.test(arg)) return { kind: 'xyz', url: arg };
  const path = resolve(arg);
  if (!existsSync(path))
    throw new ScoringError(
      'invalid-request',
      `imagery ${arg} does not exist; give a folder of GeoTIFFs, a .tif, a .pmtiles or an XYZ URL`,
    );
  if (statSync(path).isDirectory()) return { kind: 'geotiff-folder', path };
  const ext = extname(path).toLowerCase();
  if (ext === '.pmtiles') return { kind: 'pmtiles', path };
  if (ext === '.tif' || ext === '.tiff') return { kind: 'geotiff', path };
  throw new ScoringError(
    'invalid-request',
    `imagery ${arg} is neither a folder, a .tif, a .pmtiles nor an http(s) URL; give one of those (a .json spec is read by the caller)`,
  );
}

function imageryNameFor(spec: ImagerySpec): string {
  if (spec.kind === 'xyz') return new URL(spec.url.replace(/[{}]/g, '')).host;
  return basename(spec.path);
}

/** The analysis run to score with: the given one, or the newest of the model's runs. */
async function chooseRun(
  ctx: ScoringContext,
  modelPath: string | undefined,
  runId: number | undefined,
): Promise<number> {
  if (runId !== undefined) {
    if (!(await getRun(ctx.db, runId)))
      throw new ScoringError(
        'run-not-found',
        `no analysis run ${runId}; \`tilelens runs\` lists those there are`,
      );
    return runId;
  }
  if (!modelPath)
    throw new ScoringError('invalid-request', 'give the model (--model PATH) or the analysis run (--run ID)');
  const path = resolve(modelPath);
  if (!existsSync(path))
    throw new ScoringError('invalid-request', `model ${modelPath} does not exist; check the path`);
  const newest = await newestRunOfWeights(ctx.db, await fileSha256(path));
  if (!newest) {
    throw new ScoringError(
      'run-not-found',
      `model ${modelPath} has no analysis run in this database; run \`tilelens analyze --model ${modelPath} …\` on its training data first (with the same --db)`,
    );
  }
  return newest.id;
}

async function readArea(area: unknown): Promise<unknown> {
  if (typeof area !== 'string') return area;
  return JSON.parse(await readFile(resolve(area), 'utf8'));
}

export async function scoreRegion(
  ctx: ScoringContext,
  options: ScoreRegionOptions,
): Promise<ScoreRegionResult> {
  const started = performance.now();
  const runId = await chooseRun(ctx, options.modelPath, options.runId);
  let spec: ImagerySpec;
  if (typeof options.imagery !== 'string') spec = options.imagery;
  else if (options.imagery.toLowerCase().endsWith('.json') && existsSync(options.imagery))
    spec = JSON.parse(await readFile(options.imagery, 'utf8')) as ImagerySpec;
  else spec = imagerySpecFor(options.imagery);
  const found = await findOrProbeImagery(ctx, { name: options.imageryName ?? imageryNameFor(spec), spec });
  let imagery: ImageryRow;
  let project: ProjectRow;
  let warnings: string[];
  try {
    const source = 'probed' in found ? found.probed.source : await getImagerySource(ctx, found.known.id);
    warnings = [...(source.warnings ?? [])];
    const name = 'probed' in found ? found.probed.name : found.known.name;
    const prepared = await prepareProject(ctx, {
      name: options.projectName ?? `${name} ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`,
      area: defaultArea(await readArea(options.area), source, name),
      runId,
      ...(options.zoom !== undefined ? { zoom: options.zoom } : {}),
    });
    // Imagery and project are stored together or not at all.
    ({ imagery, project } = await inTransaction(ctx.db, async (tx) => {
      const inTx = { ...ctx, db: tx };
      const row = 'probed' in found ? await insertImagery(inTx, found.probed) : found.known;
      return { imagery: row, project: await insertProject(inTx, prepared, row.id) };
    }));
  } finally {
    if ('probed' in found) await found.probed.source.close();
  }
  // A job that stops short leaves nothing behind: the project, and the imagery if this call registered it.
  const takeBack = async () => {
    await deleteProject(ctx, project.id);
    if ('probed' in found) await deleteImagery(ctx, imagery.id);
  };
  let job: JobRow;
  try {
    const queued = await startScoring(ctx, project.id, {
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      onBatch: (j) => options.onProgress?.(j.done, j.total),
    });
    job = await waitForJob(ctx, queued.id);
  } catch (err) {
    await takeBack();
    throw err;
  }
  if (job.status !== 'done') {
    await takeBack();
    throw new ScoreRegionError(
      `scoring ${project.tileCount} tiles ended ${job.status}${job.error ? `: ${job.error}` : ''}; nothing was kept — fix that and score again`,
    );
  }
  const counts: TileCounts = await countScoredTiles(ctx, project.id);
  return {
    projectId: project.id,
    imageryId: imagery.id,
    runId,
    tiles: project.tileCount,
    scored: counts.scored,
    missing: counts.missing,
    failed: counts.failed + counts.undecodable,
    job,
    seconds: Math.round((performance.now() - started) / 10) / 100,
    warnings,
  };
}

/** Without an area: each part's own extent (a folder's GeoTIFFs), else the imagery's bounds. */
function defaultArea(area: unknown, source: ImagerySource, name: string): unknown {
  if (area !== undefined) return area;
  if (source.extents) {
    // Each part's extent, not their union's: scattered chips would otherwise bring the empty land between them.
    // Inset by ~1 mm: a file that ends on a tile edge (chips cut on the grid) must not pull in the next row
    // of tiles once the area's coordinates are rounded for storage.
    const inset = ([w, s, e, n]: BBox): BBox => [
      w + EDGE_INSET,
      s + EDGE_INSET,
      e - EDGE_INSET,
      n - EDGE_INSET,
    ];
    return {
      type: 'FeatureCollection',
      features: source.extents.map((extent) => ({
        type: 'Feature',
        properties: {},
        geometry: bboxPolygon(inset(extent)),
      })),
    };
  }
  if (!source.bounds)
    throw new ScoringError(
      'invalid-request',
      `imagery "${name}" does not say where it lies; give the area (--area GEOJSON)`,
    );
  return bboxPolygon(source.bounds);
}
