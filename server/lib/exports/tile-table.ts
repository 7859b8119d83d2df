/**
 * The per-tile table: every score of every tile, as CSV or GeoJSON, streamed.
 *
 * `task_id` is MapSwipe's own `z-x-y`, spelled as MapSwipe's per-task results spell it, so the table
 * joins them directly (`JOIN results USING (task_id)`), and volunteers' answers can be compared with
 * the model's after the project.
 */
import type { Writable } from 'node:stream';
import { tileFootprint } from '../geo/tiles.ts';
import type { ScoredTile } from '../scored-tiles/scored-tile.ts';
import { round6, type ExportProject } from './project-info.ts';
import { tierFor, type TierThresholds } from '../scored-tiles/tiers.ts';
import { writeChunks } from './stream.ts';

export const TILE_TABLE_COLUMNS = [
  'task_id',
  'quadkey',
  'z',
  'x',
  'y',
  'status',
  'tier',
  'priority',
  'building_prob',
  'building_prob_low',
  'building_prob_high',
  'pred_fraction',
  'iou_hat',
  'iou_low',
  'iou_high',
  'urban_distance',
  'novelty',
  'novelty_ratio',
  'model_id',
  'run_id',
  'error',
] as const;

export type TileTableColumn = (typeof TILE_TABLE_COLUMNS)[number];
type Cell = string | number | null;

export interface TileTableOptions {
  thresholds?: TierThresholds;
  /** What the figures rest on; the GeoJSON carries it beside its features. */
  figures?: ExportProject['figures'];
}

export function tileRow(t: ScoredTile, options: TileTableOptions = {}): Record<TileTableColumn, Cell> {
  const num = (v: number | undefined) => (v === undefined ? null : round6(v));
  return {
    task_id: t.taskId,
    quadkey: t.quadkey,
    z: t.z,
    x: t.x,
    y: t.y,
    status: t.status,
    tier: tierFor(t, options.thresholds),
    priority: num(t.priority),
    building_prob: num(t.buildingProb),
    building_prob_low: num(t.buildingProbLow),
    building_prob_high: num(t.buildingProbHigh),
    pred_fraction: num(t.predFraction),
    iou_hat: num(t.iouHat),
    iou_low: num(t.iouLow),
    iou_high: num(t.iouHigh),
    urban_distance: num(t.urbanDistance),
    novelty: num(t.novelty),
    novelty_ratio: num(t.noveltyRatio),
    model_id: t.modelId,
    run_id: String(t.runId),
    error: t.error ?? null,
  };
}

/** RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes. */
export function csvField(v: Cell): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const CRLF = '\r\n';

export async function* tileTableCsv(
  tiles: Iterable<ScoredTile> | AsyncIterable<ScoredTile>,
  options: TileTableOptions = {},
): AsyncGenerator<string> {
  yield TILE_TABLE_COLUMNS.join(',') + CRLF;
  for await (const t of tiles) {
    const row = tileRow(t, options);
    yield TILE_TABLE_COLUMNS.map((c) => csvField(row[c])).join(',') + CRLF;
  }
}

export interface TileGeoJsonOptions extends TileTableOptions {
  /** 'tile': the tile square (default); 'footprints': the predicted buildings (null where none). */
  geometry?: 'tile' | 'footprints';
}

export async function* tileTableGeoJson(
  tiles: Iterable<ScoredTile> | AsyncIterable<ScoredTile>,
  options: TileGeoJsonOptions = {},
): AsyncGenerator<string> {
  yield '{"type":"FeatureCollection","features":[\n';
  let first = true;
  for await (const t of tiles) {
    const geometry =
      options.geometry === 'footprints' ? (t.footprints ?? null) : tileFootprint(t.z, t.x, t.y);
    const feature = { type: 'Feature', id: t.taskId, properties: tileRow(t, options), geometry };
    yield (first ? '' : ',\n') + JSON.stringify(feature);
    first = false;
  }
  yield `\n],"tilelens":${JSON.stringify({ figures: options.figures ?? null })}}\n`;
}

export function writeTileTableCsv(
  tiles: Iterable<ScoredTile> | AsyncIterable<ScoredTile>,
  out: Writable,
  options?: TileTableOptions,
): Promise<void> {
  return writeChunks(tileTableCsv(tiles, options), out);
}

export function writeTileTableGeoJson(
  tiles: Iterable<ScoredTile> | AsyncIterable<ScoredTile>,
  out: Writable,
  options?: TileGeoJsonOptions,
): Promise<void> {
  return writeChunks(tileTableGeoJson(tiles, options), out);
}
