/**
 * What publishing writes, without a network: MapRoulette's tasks and priority rules (the rules, applied
 * the way MapRoulette applies them, must give every task tilelens's own tier), MapSwipe project specs
 * refusing what MapSwipe refuses, the steps a dry run shows, and the ULIDs sent as clientIds.
 */
import { readFileSync } from 'node:fs';
import type { FeatureCollection } from 'geojson';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  maprouletteChallenge,
  maprouletteRules,
  maprouletteTaskLines,
  RECORD_SEPARATOR,
  type MaprouletteSummary,
  type MaproulettePriorityRule,
} from '../../server/lib/exports/maproulette.ts';
import type { ExportProject } from '../../server/lib/exports/project-info.ts';
import { PublishError } from '../../server/lib/publish/errors.ts';
import { specificsField } from '../../server/lib/publish/mapswipe/documents.ts';
import {
  findTierSpecs,
  tilelensTileServer,
  validateSpec,
} from '../../server/lib/publish/mapswipe/project-specs.ts';
import { mapswipeSteps } from '../../server/lib/publish/mapswipe/publish-mapswipe.ts';
import { isUlid, ulid } from '../../server/lib/publish/ulid.ts';
import { scoredTileSchema, type ScoredTile } from '../../server/lib/scored-tiles/scored-tile.ts';
import { DEFAULT_TIER_THRESHOLDS, tierFor } from '../../server/lib/scored-tiles/tiers.ts';
import { collect } from '../fixtures/collect.ts';

const input = JSON.parse(
  readFileSync(new URL('../fixtures/exports/scored-tiles.geojson', import.meta.url), 'utf8'),
) as FeatureCollection;
const tiles: ScoredTile[] = input.features.map((f) => scoredTileSchema.parse(f.properties));
const project: ExportProject = {
  name: 'Kampala outskirts',
  imagery: { name: 'Demo imagery', url: 'https://tiles.example.org/demo/{z}/{x}/{y}.png', credits: '© demo' },
  model: { id: 'demo-unet-w16', name: 'demo U-Net', version: '1.0.0' },
  runId: 7,
  lookFor: 'buildings',
  zoom: 18,
};
const SCHEMA = buildSchema(
  readFileSync(new URL('../support/mapswipe-schema.graphql', import.meta.url), 'utf8'),
);

/** MapRoulette's rule semantics: "key.value" split at the first dot, numeric comparison, AND / OR. */
function matches(rule: MaproulettePriorityRule, props: Record<string, unknown>): boolean {
  const results = rule.rules.map((r) => {
    const dot = r.value.indexOf('.');
    const key = r.value.slice(0, dot);
    const want = Number(r.value.slice(dot + 1));
    const have = Number(props[key]);
    switch (r.operator) {
      case '>=':
        return have >= want;
      case '>':
        return have > want;
      case '<':
        return have < want;
      case '<=':
        return have <= want;
      case '==':
        return have === want;
      default:
        return have !== want;
    }
  });
  return rule.condition === 'AND' ? results.every(Boolean) : results.some(Boolean);
}

describe('MapRoulette', () => {
  it('writes one task per line, most urgent first, whose priority rules give tilelens tiers exactly', async () => {
    const ordered = [...tiles].sort((a, b) => b.priority - a.priority);
    const summary: MaprouletteSummary = {
      tasks: 0,
      byTier: { high: 0, medium: 0, low: 0 },
      tiersDisagreeing: 0,
    };
    const lines = await collect(maprouletteTaskLines(ordered, project, {}, summary));
    const expected = tiles.filter((t) => tierFor(t) !== 'skip');
    expect(lines).toHaveLength(expected.length);
    expect(summary.tasks).toBe(expected.length);
    expect(summary.tiersDisagreeing).toBe(0);
    const { rules, challenge } = maprouletteRules(DEFAULT_TIER_THRESHOLDS);
    expect(JSON.parse(challenge.highPriorityRule)).toEqual(rules.high);
    let last = Infinity;
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.startsWith(RECORD_SEPARATOR)).toBe(true);
      const fc = JSON.parse(line.slice(RECORD_SEPARATOR.length));
      expect(fc.type).toBe('FeatureCollection');
      expect(fc.features).toHaveLength(1);
      const f = fc.features[0];
      expect(f.geometry.type).toBe('Polygon');
      expect(f.properties.tilelens_priority).toBeLessThanOrEqual(last);
      last = f.properties.tilelens_priority;
      const got = matches(rules.high, f.properties)
        ? 'high'
        : matches(rules.medium, f.properties)
          ? 'medium'
          : matches(rules.low, f.properties)
            ? 'low'
            : ['high', 'medium', 'low'][challenge.defaultPriority];
      const tile = tiles.find((t) => t.taskId === f.properties.task_id)!;
      expect([f.properties.task_id, got]).toEqual([tile.taskId, tierFor(tile)]);
    }
    expect(maprouletteChallenge(project)).toMatchObject({
      name: 'Kampala outskirts – map buildings',
      defaultPriority: 2,
      mediumPriorityRule: JSON.stringify(rules.medium),
    });
    expect(maprouletteChallenge(project).description).not.toMatch(/Figures/);
    const figures = {
      basis: 'reference',
      verified: false,
      labels: 0,
      promise: 'rest on the reference run alone',
    };
    expect(maprouletteChallenge({ ...project, figures } as ExportProject).description).toMatch(
      /\. Figures rest on the reference run alone\.$/,
    );
  });

  it('refuses thresholds out of order and an empty challenge', async () => {
    expect(() => maprouletteRules({ high: 0.1, medium: 0.5, low: 0.01 })).toThrow(/high ≥ medium ≥ low/);
    await expect(collect(maprouletteTaskLines([], project))).rejects.toThrow(/no tile falls/);
  });
});

describe('MapSwipe project specs', () => {
  const common = {
    requestingOrganization: '1',
    region: 'Kampala',
    projectNumber: 1,
    groupSize: 120,
    verificationNumber: 3,
  };
  const tileServer = tilelensTileServer(project, { minZoom: 12, maxZoom: 18 });

  it('makes one Find spec per tier whose steps validate against MapSwipe’s schema', async () => {
    const specs = await findTierSpecs(tiles, project, common, { tiers: ['high', 'medium'], tileServer });
    expect(specs.map((s) => s.key)).toEqual(['find:high', 'find:medium']);
    for (const spec of specs) {
      expect(spec.aoi!.features.length).toBeLessThanOrEqual(20);
      const steps = mapswipeSteps(spec, { clientId: ulid(), assetClientId: ulid() });
      for (const s of steps) expect(validate(SCHEMA, parse(s.query))).toEqual([]);
      const update = steps.find((s) => s.operation === 'updateProject')!.variables as any;
      expect(update.data.projectTypeSpecifics.find.aoiGeometry).toBe('<id from createProjectAsset>');
      expect(update.data.projectTypeSpecifics.find.tileServerProperty).toEqual(tileServer);
    }
  });

  it('refuses what MapSwipe refuses: group size, verification number, an empty Validate', async () => {
    const bad = (o: object) => async () =>
      await findTierSpecs(tiles, project, { ...common, ...o }, { tiers: ['high'], tileServer });
    await expect(bad({ groupSize: 4 })()).rejects.toThrow(/5–250/);
    await expect(bad({ groupSize: 251 })()).rejects.toThrow(/5–250/);
    await expect(bad({ verificationNumber: 2 })()).rejects.toThrow(/3–10000/);
    const empty = () =>
      validateSpec(project, common, {
        objectsUrl: 'https://x.example/objects.geojson',
        objects: 0,
        source: 'model',
        tileServer,
      });
    expect(empty).toThrow(PublishError);
    expect(empty).toThrow(/no model polygon/);
  });

  it('names specifics after the project type', () => {
    expect(specificsField('FIND')).toBe('find');
    expect(specificsField('VALIDATE_IMAGE')).toBe('validateImage');
    expect(specificsField('COMPLETENESS')).toBe('completeness');
  });
});

describe('ULIDs', () => {
  it('encode time then randomness in Crockford base32, sorting by time', () => {
    const zero = ulid(0, new Uint8Array(10));
    expect(zero).toBe('00000000000000000000000000');
    expect(ulid(2 ** 48 - 1, new Uint8Array(10).fill(255))).toBe('7ZZZZZZZZZZZZZZZZZZZZZZZZZ');
    // The spec's example time.
    expect(ulid(1469918176385, new Uint8Array(10)).slice(0, 10)).toBe('01ARYZ6S41');
    const a = ulid(1_000);
    const b = ulid(2_000);
    expect(isUlid(a) && isUlid(b)).toBe(true);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => ulid())).size).toBe(1000);
    expect(() => ulid(-1)).toThrow(RangeError);
  });
});
