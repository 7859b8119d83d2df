/**
 * How far a reference-only probability can be believed on a tile, from how far the tile lies outside what the
 * reference run covered — and what that does to the tile's probability and its priority.
 *
 * A tile's doubt u ∈ [0, 1) rises smoothly with its novelty ratio r (1 = as far out as the reference set's own
 * 99th-percentile tile): u = 1 / (1 + (edge / r)^steepness). Well inside the reference set u ≈ 0 and the tile
 * classifier's probability p stands; at the edge u = ½; far outside u → 1 and nothing is known. Without labels
 * from the region the tile's P(building) is then only known to lie in
 *
 *   [p · (1 − u),  p + u · (1 − p)]
 *
 * — the probability is p where the reference run speaks for the tile, anything where it does not. Priority is the
 * upper end: how likely a volunteer is to find a building there, as far as anyone can tell before mapping. Where
 * every tile is alike that is the model's own ranking; where some tiles are stranger than the rest, they go out
 * before the tiles the model confidently calls empty.
 */
import { TilelensError } from '../errors.ts';
export interface DoubtParams {
  /** Novelty ratio at which doubt reaches ½ (1 = the reference set's 99th percentile). */
  edge: number;
  /** How sharply doubt rises around the edge. */
  steepness: number;
}

export const DEFAULT_DOUBT: DoubtParams = { edge: 1, steepness: 12 };

/** Priority of a tile whose imagery could not be read: nobody knows what is there, so an even chance. */
export const UNREADABLE_PRIORITY = 0.5;

/** Doubt asked of values outside its domain: a programming error upstream, so the server's (500). */
export class DoubtError extends TilelensError {
  override name = 'DoubtError';
  constructor(message: string) {
    super('doubt', message);
  }
}

export function checkDoubtParams(p: DoubtParams): void {
  if (!(p.edge > 0) || !(p.steepness > 0))
    throw new DoubtError(`doubt needs edge > 0 and steepness > 0 (got ${p.edge}, ${p.steepness})`);
}

export function doubt(noveltyRatio: number, params: DoubtParams = DEFAULT_DOUBT): number {
  if (!(noveltyRatio >= 0))
    throw new DoubtError(`novelty ratio ${noveltyRatio} must be a non-negative number`);
  if (noveltyRatio === 0) return 0;
  return 1 / (1 + (params.edge / noveltyRatio) ** params.steepness);
}

/** Whether the reference run speaks for the tile: it lies no farther out than the reference set's edge. */
export function covered(noveltyRatio: number, params: DoubtParams = DEFAULT_DOUBT): boolean {
  return noveltyRatio <= params.edge;
}

/**
 * What is novel about a tile, each as a ratio to the reference's own 99th percentile: its content in the model's
 * activations and its imagery's statistics (`image`, absent in runs fitted before the imagery estimator existed).
 *
 * Where the run measures the imagery, the tile's novelty ratio — what decides its coverage, its doubt and whether a
 * region's figures are verified — is the imagery's ratio alone. Measured on the trust benchmark's real cases
 * against three models of one recipe, the imagery's ratio told every shift and unseen city from familiar tiles
 * with AUROC 0.945–0.999 under every model, while the activations' ratio sat near chance (0.39–0.87, moving with
 * the model) and, combined with it by length, cost the colour shift up to 9 points (0.857 against 0.945). The
 * content's ratio still lifts priority (`tileTrust`), where it marks strange content on familiar imagery.
 */
export interface TileNovelty {
  content: number;
  image?: number;
}

export function noveltyRatioOf(novelty: TileNovelty): number {
  const { content, image } = novelty;
  if (!(content >= 0)) throw new DoubtError(`content novelty ratio ${content} must be a non-negative number`);
  if (image !== undefined && !(image >= 0))
    throw new DoubtError(`image ratio ${image} must be a non-negative number`);
  return image ?? content;
}

export interface TileTrust {
  buildingProb: number;
  buildingProbLow: number;
  buildingProbHigh: number;
  /** The tile's novelty ratio (noveltyRatioOf): above the doubt's edge the reference does not cover it. */
  noveltyRatio: number;
  doubt: number;
  covered: boolean;
  /** Volunteers first where a building is most plausible: rankProb lifted by the content's own doubt, q + l(1 − q). */
  priority: number;
}

/**
 * `band` is the classifier's own uncertainty about p on tiles like its training tiles ([p, p] when left out); the
 * doubt widens that band further. Priority uses p itself, so the fit's band never reorders familiar tiles.
 *
 * Two kinds of novelty count differently. Content novelty (the model's activations) says the tile may hold
 * something the model has never seen — where a building can hide from it — so it lifts priority. Imagery novelty
 * (blur, haze, a colour cast) says the figures cannot be vouched for on this imagery: it widens the interval and
 * uncovers the tile, and it also takes back the lift, since activations are strange on strange imagery whatever
 * the ground holds — a shift of a whole region's imagery says nothing about which of its tiles hide buildings.
 * The lift is therefore l = d(content) · (1 − d(image)): content that stands out on imagery like the reference's.
 * (On real imagery under a colour shift, lifting by content novelty alone skipped 6 points fewer tiles at 95 %
 * recall than the prediction; the tent camp of the demo world, on ordinary imagery, keeps its whole lift.)
 *
 * `rankProb` is the probability priority starts from: P(building) from the prediction's own evidence alone (the
 * tile model's ranker, tile-model.ts), one scale for every tile. The latent features sharpen P(building) where the
 * reference covers a region but extrapolate badly where it does not (on coarser real imagery, ranking by them
 * skipped 4 points fewer tiles at 95 % recall than the model's own output).
 */
export function tileTrust(
  buildingProb: number,
  novelty: number | TileNovelty,
  params: DoubtParams = DEFAULT_DOUBT,
  band: { low: number; high: number } = { low: buildingProb, high: buildingProb },
  rankProb: number = buildingProb,
): TileTrust {
  if (!(buildingProb >= 0 && buildingProb <= 1))
    throw new DoubtError(`buildingProb ${buildingProb} must lie in 0..1`);
  if (!(rankProb >= 0 && rankProb <= 1)) throw new DoubtError(`rankProb ${rankProb} must lie in 0..1`);
  if (!(band.low <= buildingProb + 1e-6 && buildingProb <= band.high + 1e-6))
    throw new DoubtError(`buildingProb ${buildingProb} lies outside its band [${band.low}, ${band.high}]`);
  const parts = typeof novelty === 'number' ? { content: novelty } : novelty;
  const ratio = noveltyRatioOf(parts);
  const u = doubt(ratio, params);
  const lift = doubt(parts.content, params) * (1 - doubt(parts.image ?? 0, params));
  return {
    buildingProb,
    buildingProbLow: Math.min(buildingProb, band.low) * (1 - u),
    buildingProbHigh: Math.max(buildingProb, band.high) + u * (1 - Math.max(buildingProb, band.high)),
    noveltyRatio: ratio,
    doubt: u,
    covered: covered(ratio, params),
    priority: rankProb + lift * (1 - rankProb),
  };
}
