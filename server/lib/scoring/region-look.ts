/**
 * The look a project's tiles are read through by the tile model (analysis/restoration.ts): decided once per job from
 * a sample of the project's own tiles, so that every tile of a region is read the same way — a region's imagery comes
 * from one sensor on one day, and tiles read through different looks would not share one scale of evidence.
 *
 * The sample is a seeded reservoir over the project's grid (the same tiles on every run of the same project, so a
 * resumed or retried job decides the same), fetched through the project's imagery source like any tile; tiles that
 * are missing or do not decode are left out, and a project with no readable sampled tile is read as served. The
 * sampled tiles are kept (at most LOOK_SAMPLE of them) and handed to the job when its stream reaches them, so no
 * tile is read twice and each tile's stored attempts count the reads it really took.
 */
import { createRng, reservoir } from '../analysis/random.ts';
import { chooseRegionLook, type RegionLook } from '../analysis/restoration.ts';
import type { RegionLookJson } from '../db/json.ts';
import type { TileModel } from '../analysis/tile-model.ts';
import { taskId, type TileCoord } from '../geo/tiles.ts';
import type { ImagerySource } from '../imagery/source.ts';
import { fetchAhead } from './fetch-ahead.ts';
import { fetchTile, TILE_SIZE, type FetchedTile } from './score-batch.ts';

/** Tiles sampled per project: the median of 64 ratios moves little with the draw. */
export const LOOK_SAMPLE = 64;
const SEED = 0x100c;
const FETCHES_IN_FLIGHT = 4;

export interface SampledRegion extends RegionLook {
  /** The sampled tile's fetch, once: the job reads it from here instead of from the imagery source. */
  take(tile: TileCoord): FetchedTile | undefined;
}

/**
 * The look for the project whose grid is `tiles`, from its imagery: the original for runs that cannot decide (see
 * `TileModel.decidesLook`; nothing is fetched for them) and where no sampled tile could be read.
 */
export async function sampleRegionLook(
  source: ImagerySource,
  tiles: Iterable<TileCoord>,
  tileModel: TileModel,
  signal?: AbortSignal,
): Promise<SampledRegion> {
  const kept = new Map<string, FetchedTile>();
  const take = (tile: TileCoord) => {
    const key = taskId(tile.z, tile.x, tile.y);
    const got = kept.get(key);
    kept.delete(key);
    return got;
  };
  if (!tileModel.decidesLook) return { ...chooseRegionLook([]), take };
  const ratios: Float32Array[] = [];
  for await (const fetched of fetchAhead(
    reservoir(tiles, LOOK_SAMPLE, createRng(SEED)),
    (tile) => fetchTile(source, tile, signal),
    FETCHES_IN_FLIGHT,
  )) {
    kept.set(taskId(fetched.tile.z, fetched.tile.x, fetched.tile.y), fetched);
    if (fetched.ok) ratios.push(...tileModel.lookRatios([fetched.rgb], TILE_SIZE, TILE_SIZE));
  }
  return { ...chooseRegionLook(ratios), take };
}

/** A stored region look as the panel, the API and the exports say it. */
export interface RegionLookFigure extends RegionLookJson {
  /** One plain sentence for a manager. */
  sentence: string;
  /** What the decision rested on, in figures. */
  detail: string;
}

/**
 * The stored look in words. The detail gives the evidence: the median image novelty ratio (1 = the edge of the
 * reference imagery) of the sampled tiles as served and as each restored look shows them.
 */
export function describeRegionLook(stored: RegionLookJson | null | undefined): RegionLookFigure | null {
  if (!stored) return null;
  const m = stored.medians;
  const sentences = {
    dehazed: "Imagery read dehazed: it looked hazier than the model's training imagery.",
    sharpened: "Imagery read sharpened: it looked coarser than the model's training imagery.",
    original:
      stored.sampled > 0
        ? "Imagery read as served: it looked no hazier or coarser than the model's training imagery."
        : "Imagery read as served: this project's reference run does not judge the imagery's look.",
  };
  const detail =
    stored.sampled > 0
      ? `${stored.sampled} tiles sampled; median image novelty ${m.original.toFixed(2)} as served, ` +
        `${m.dehazed.toFixed(2)} dehazed, ${m.sharpened.toFixed(2)} sharpened (1 = the edge of the reference imagery)` +
        (stored.look === 'original'
          ? ''
          : `; the tile scores come from the model's answer on the ${stored.look} tiles, the map shows them as served`)
      : 'no tile sampled';
  return { ...stored, sentence: sentences[stored.look], detail };
}
