/**
 * MapRoulette: the one volunteer tool that takes tilelens's priority as it is. A challenge is built from
 * line-by-line GeoJSON (one FeatureCollection per line, one task each), and the challenge's priority
 * rules give every task high, medium or low priority from its properties — here numeric rules on
 * `tilelens_priority` at the tier thresholds, so MapRoulette's tiers are tilelens's tiers.
 *
 * Rules follow MapRoulette's format: `{ condition: AND|OR, rules: [{ value: "<property>.<value>",
 * type: "double", operator: ">=" }] }`, each serialised to a string in the challenge's
 * `highPriorityRule` / `mediumPriorityRule` / `lowPriorityRule`; a task no rule matches gets the
 * challenge's `defaultPriority` (0 high, 1 medium, 2 low). Tasks are streamed most urgent first.
 */
import { tileFootprint } from '../geo/tiles.ts';
import type { ScoredTile, Tier } from '../scored-tiles/scored-tile.ts';
import { DEFAULT_TIER_THRESHOLDS, tierFor, tierOf, type TierThresholds } from '../scored-tiles/tiers.ts';
import {
  checkProject,
  checkZoom,
  ExportError,
  figuresSentence,
  round6,
  type ExportProject,
} from './project-info.ts';

export interface MaprouletteRule {
  value: string;
  type: 'double';
  operator: '>=' | '<' | '>' | '<=' | '==' | '!=';
}

export interface MaproulettePriorityRule {
  condition: 'AND' | 'OR';
  rules: MaprouletteRule[];
}

export const PRIORITY_PROPERTY = 'tilelens_priority';

/** RFC 7464's record separator: MapRoulette (3.6.5 on) wants it at the start of every line. */
export const RECORD_SEPARATOR = '\x1e';

/** One task of a line-by-line GeoJSON challenge file: a FeatureCollection on its own line. */
export function maprouletteLine(features: object[]): string {
  return `${RECORD_SEPARATOR}${JSON.stringify({ type: 'FeatureCollection', features })}\n`;
}

/** The three rules for tilelens's tiers at the given thresholds, as MapRoulette's challenge takes them. */
export function maprouletteRules(thresholds: TierThresholds = DEFAULT_TIER_THRESHOLDS) {
  tierOf(0, thresholds); // refuses thresholds out of order
  const at = (operator: MaprouletteRule['operator'], v: number): MaprouletteRule => ({
    value: `${PRIORITY_PROPERTY}.${v}`,
    type: 'double',
    operator,
  });
  const high: MaproulettePriorityRule = { condition: 'AND', rules: [at('>=', thresholds.high)] };
  const medium: MaproulettePriorityRule = {
    condition: 'AND',
    rules: [at('>=', thresholds.medium), at('<', thresholds.high)],
  };
  const low: MaproulettePriorityRule = { condition: 'AND', rules: [at('<', thresholds.medium)] };
  return {
    rules: { high, medium, low },
    challenge: {
      highPriorityRule: JSON.stringify(high),
      mediumPriorityRule: JSON.stringify(medium),
      lowPriorityRule: JSON.stringify(low),
      /** Low: what no rule catches is never treated as urgent. */
      defaultPriority: 2,
    },
  };
}

export interface MaprouletteOptions {
  tiers?: Exclude<Tier, 'skip'>[];
  thresholds?: TierThresholds;
}

export interface MaprouletteSummary {
  tasks: number;
  byTier: Record<Exclude<Tier, 'skip'>, number>;
  /** Tiles whose stored tier is not the one the thresholds give their priority (0 unless tiers were set by hand). */
  tiersDisagreeing: number;
}

/** The challenge's own fields besides its tasks: name, instruction, description and the priority rules. */
export function maprouletteChallenge(projectInfo: ExportProject, options: MaprouletteOptions = {}) {
  const project = checkProject(projectInfo);
  const thresholds = options.thresholds ?? DEFAULT_TIER_THRESHOLDS;
  return {
    name: `${project.name} – map ${project.lookFor}`,
    instruction: `Map the ${project.lookFor} in this tile. High-priority tiles are those ${project.model.name} found most likely to hold ${project.lookFor}, or could not judge.`,
    description: [
      `Tiles of ${project.name} ordered by tilelens (model ${project.model.name} ${project.model.version}, scoring run ${project.runId}); task priority follows tilelens's priority tiers at thresholds high ≥ ${thresholds.high}, medium ≥ ${thresholds.medium}.`,
      figuresSentence(project),
    ]
      .filter(Boolean)
      .join(' '),
    ...maprouletteRules(thresholds).challenge,
  };
}

/** The tasks as line-by-line GeoJSON, one line per tile of the chosen tiers, in the order given. */
export async function* maprouletteTaskLines(
  tiles: AsyncIterable<ScoredTile> | Iterable<ScoredTile>,
  projectInfo: ExportProject,
  options: MaprouletteOptions = {},
  summary: MaprouletteSummary = { tasks: 0, byTier: { high: 0, medium: 0, low: 0 }, tiersDisagreeing: 0 },
): AsyncGenerator<string> {
  const project = checkProject(projectInfo);
  const thresholds = options.thresholds ?? DEFAULT_TIER_THRESHOLDS;
  const tiers = new Set(options.tiers ?? ['high', 'medium', 'low']);
  for await (const tile of tiles) {
    checkZoom(tile, project.zoom);
    const tier = tierFor(tile, thresholds);
    if (tier === 'skip' || !tiers.has(tier)) continue;
    if (tier !== tierOf(tile.priority, thresholds)) summary.tiersDisagreeing++;
    summary.tasks++;
    summary.byTier[tier]++;
    const feature = {
      type: 'Feature',
      id: tile.taskId,
      properties: {
        task_id: tile.taskId,
        [PRIORITY_PROPERTY]: round6(tile.priority),
        tilelens_confidence: round6(tile.iouHat),
        tilelens_building_prob: round6(tile.buildingProb),
        tilelens_tier: tier,
      },
      geometry: tileFootprint(tile.z, tile.x, tile.y),
    };
    yield maprouletteLine([feature]);
  }
  if (summary.tasks === 0) {
    throw new ExportError(
      `no tile falls in the tiers ${[...tiers].join(', ')}; lower the tier thresholds or choose more tiers`,
    );
  }
}
