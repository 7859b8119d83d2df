/**
 * Suspected label errors for the mappers who can fix them, one object per feature / task, each kind kept apart
 * and ranked by its own evidence:
 *
 * - GeoJSON (RFC 7946): the object's outline, its kind, the suggested fix (delete / add / move by east, north
 *   metres / align the imagery) and a JOSM remote-control link that opens the area in a running JOSM;
 * - a MapRoulette challenge in its line-by-line GeoJSON (RFC 7464: each line a record separator and one task's
 *   FeatureCollection), priority by confidence.
 *
 * Objects of patches that are not on a map (folders of plain images) have no place to send a mapper to and are
 * left out; the stats an export fills count them.
 */
import { z } from 'zod';
import type { DatabaseHandle } from '../db/client.ts';
import { maprouletteLine } from './maproulette.ts';
import {
  iterateLabelObjects,
  type LabelObjectKind,
  type LabelObjectListed,
} from '../db/label-objects-repo.ts';
import { LABEL_OBJECT_KINDS } from '../db/schema.ts';

export interface LabelFixSelection {
  /** Kinds to export, each in its own evidence order (default: every kind). */
  kinds?: readonly LabelObjectKind[];
  /** Most objects per kind. */
  limit?: number;
  /** Objects with less evidence are left out (0..1). */
  minScore?: number;
}

/** A selection as the API's query and the command line give it: kinds comma-separated, numbers as text. */
export const labelFixSelectionSchema = z.object({
  kinds: z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',') : undefined))
    .pipe(z.array(z.enum(LABEL_OBJECT_KINDS)).optional()),
  limit: z.coerce.number().int().positive().max(100_000).default(1000),
  minScore: z.coerce.number().min(0).max(1).default(0),
});

/** What an export wrote: objects per kind, and those left out because their patch is not on a map. */
export interface LabelFixStats {
  offMap: number;
  written: Partial<Record<LabelObjectKind, number>>;
}

/** The suggested fix of each kind. */
export const FIX_OF_KIND = {
  phantom: 'delete',
  missing: 'add',
  offset: 'move',
  area_offset: 'align imagery',
} as const satisfies Record<LabelObjectKind, string>;

const r2 = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);

/** What a mapper is asked to do, in one sentence. */
export function instruction(
  o: Pick<LabelObjectListed, 'kind' | 'eastM' | 'northM' | 'members' | 'patches'>,
): string {
  const towards = (east: number | null, north: number | null) =>
    east === null || north === null
      ? ''
      : ` by about ${Math.abs(east).toFixed(1)} m ${east >= 0 ? 'east' : 'west'} and ${Math.abs(north).toFixed(1)} m ${north >= 0 ? 'north' : 'south'}`;
  switch (o.kind) {
    case 'phantom':
      return 'A mapped building the imagery does not show (demolished, under construction, or mapped from other imagery): check it and delete it if it is not there.';
    case 'missing':
      return 'A building the imagery shows that is not mapped: add it.';
    case 'offset':
      return `A mapped building drawn beside the one the imagery shows: move it${towards(o.eastM, o.northM)}.`;
    case 'area_offset':
      return `Every mapping here (${o.members ?? 'several'} buildings${o.patches && o.patches > 1 ? ` across ${o.patches} neighbouring patches of imagery` : ''}) sits off the imagery the same way: check the imagery offset first, then move the buildings${towards(o.eastM, o.northM)}.`;
  }
}

/** A JOSM remote-control link that loads and zooms to the object's surroundings. */
export function josmLink(ring: Array<[number, number]>, marginDegrees = 0.0002): string {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  for (const [lon, lat] of ring) {
    w = Math.min(w, lon);
    e = Math.max(e, lon);
    s = Math.min(s, lat);
    n = Math.max(n, lat);
  }
  const f = (v: number) => v.toFixed(7);
  return `http://127.0.0.1:8111/load_and_zoom?left=${f(w - marginDegrees)}&right=${f(e + marginDegrees)}&top=${f(n + marginDegrees)}&bottom=${f(s - marginDegrees)}`;
}

/** MapRoulette's three priorities from the object's evidence. */
export function priorityOf(score: number): 'high' | 'medium' | 'low' {
  return score >= 0.8 ? 'high' : score >= 0.6 ? 'medium' : 'low';
}

function feature(runId: number, o: LabelObjectListed) {
  const ring = o.outline!;
  return {
    type: 'Feature',
    id: `run${runId}-${o.idx}-${o.n}`,
    geometry: { type: 'Polygon', coordinates: [ring] },
    properties: {
      kind: o.kind,
      fix: FIX_OF_KIND[o.kind],
      rank: o.rank,
      confidence: r2(o.score),
      instruction: instruction(o),
      east_m: r2(o.eastM),
      north_m: r2(o.northM),
      members: o.members,
      patches: o.patches ?? null,
      patch_key: o.patchKey,
      task_id: o.z === null || o.x === null || o.y === null ? null : `${o.z}-${o.x}-${o.y}`,
      josm: josmLink(ring),
    },
  };
}

async function* selected(
  db: DatabaseHandle,
  runId: number,
  sel: LabelFixSelection,
  stats: LabelFixStats,
): AsyncGenerator<LabelObjectListed> {
  for (const kind of sel.kinds ?? LABEL_OBJECT_KINDS) {
    for await (const o of iterateLabelObjects(db, runId, kind, sel.limit)) {
      if (o.score < (sel.minScore ?? 0)) break;
      if (!o.outline) {
        stats.offMap++;
        continue;
      }
      stats.written[kind] = (stats.written[kind] ?? 0) + 1;
      yield o;
    }
  }
}

/** GeoJSON FeatureCollection, streamed: kinds in turn, each strongest first. */
export async function* labelFixesGeoJson(
  db: DatabaseHandle,
  runId: number,
  sel: LabelFixSelection = {},
  stats: LabelFixStats = { offMap: 0, written: {} },
): AsyncGenerator<string> {
  yield '{"type":"FeatureCollection","features":[';
  let first = true;
  for await (const o of selected(db, runId, sel, stats)) {
    yield `${first ? '' : ','}\n${JSON.stringify(feature(runId, o))}`;
    first = false;
  }
  yield '\n]}\n';
}

/** MapRoulette line-by-line GeoJSON: one task per object, `priority` and `confidence` for the challenge's rules. */
export async function* labelFixesMapRoulette(
  db: DatabaseHandle,
  runId: number,
  sel: LabelFixSelection = {},
  stats: LabelFixStats = { offMap: 0, written: {} },
): AsyncGenerator<string> {
  for await (const o of selected(db, runId, sel, stats)) {
    const f = feature(runId, o);
    yield maprouletteLine([{ ...f, properties: { ...f.properties, priority: priorityOf(o.score) } }]);
  }
}
