/**
 * The calibration sample's design and draw, the region calibrator, the distribution functions the bounds
 * use, and the estimator's refusals.
 */
import { describe, expect, it } from 'vitest';
import { population } from '../../scripts/lib/trust-populations.ts';
import { labelFromTruth } from '../../scripts/lib/trust-coverage.ts';
import { createRng, shuffleInPlace } from '../../server/lib/analysis/random.ts';
import {
  allocate,
  binSums,
  drawCalibrationSample,
  sampleSizeFor,
} from '../../server/lib/trust/calibration-sample.ts';
import { countBounds, fayFeuerUpper } from '../../server/lib/trust/count-bounds.ts';
import { TrustError } from '../../server/lib/trust/errors.ts';
import {
  crossFitCalibrators,
  logit,
  RegionCalibrator,
  sigmoid,
} from '../../server/lib/trust/region-calibrator.ts';
import { estimateRegion, unlabelled } from '../../server/lib/trust/region-estimate.ts';
import { sampleCsv, sampleFindDrafts } from '../../server/lib/trust/sample-exports.ts';
import { gammaCdf, gammaQuantile, normalQuantile } from '../../server/lib/analysis/special-functions.ts';
import { parseTaskId, tileBounds } from '../../server/lib/geo/tiles.ts';

const tiles = population('good', 3000);
const ids = (s: { tiles: { taskId: string }[] }) => s.tiles.map((t) => t.taskId).sort();

describe('drawCalibrationSample', () => {
  it('is reproducible by seed, whatever order the tiles come in', async () => {
    const a = await drawCalibrationSample(tiles, { seed: 42 });
    const order = tiles.map((_, i) => i);
    shuffleInPlace(order, createRng(3));
    const shuffled = order.map((i) => tiles[i]);
    const b = await drawCalibrationSample(shuffled, { seed: 42 });
    expect(ids(b)).toEqual(ids(a));
    // The same strata and allocation (mean scores may differ in the last bit: sums in another order).
    const strip = (d: typeof a.design) => d.strata.map(({ meanBuildingProb: _m, ...st }) => st);
    expect(strip(b.design)).toEqual(strip(a.design));
  });

  it('draws other tiles with another seed, from the same strata', async () => {
    const a = await drawCalibrationSample(tiles, { seed: 42 });
    const c = await drawCalibrationSample(tiles, { seed: 43 });
    const shared = ids(a).filter((id) => ids(c).includes(id)).length;
    // Two independent 200-of-3000 draws share ~13 tiles; the same tiles would share 200.
    expect(shared).toBeLessThan(50);
    expect(c.design.strata).toEqual(a.design.strata);
  });

  it('gives every stratum labels, the low-score ones included, with n_h / N_h as inclusion probability', async () => {
    const s = await drawCalibrationSample(tiles, { size: 200, seed: 1 });
    const d = s.design;
    expect(d.size).toBe(200);
    expect(s.tiles).toHaveLength(200);
    expect(d.strata.reduce((n, st) => n + st.tiles, 0)).toBe(tiles.length);
    expect(d.strata.reduce((n, st) => n + st.size, 0)).toBe(200);
    for (const st of d.strata) {
      expect(st.size).toBeGreaterThanOrEqual(2);
      expect(st.inclusionProb).toBeCloseTo(st.size / st.tiles, 12);
      const inStratum = s.tiles.filter((t) => t.stratum === st.index);
      expect(inStratum).toHaveLength(st.size);
      for (const t of inStratum) {
        expect(t.priority).toBeGreaterThanOrEqual(st.low);
        expect(t.priority < st.high || st.high === 1).toBe(true);
      }
    }
    // 70 % of this region is near-empty land the model is sure of: it still gets over half the labels.
    const low = d.strata.filter((st) => st.meanBuildingProb < 0.05).reduce((n, st) => n + st.size, 0);
    expect(low).toBeGreaterThan(100);
    // Strata are contiguous ranges of priority covering 0..1.
    expect(d.strata[0].low).toBe(0);
    expect(d.strata[d.strata.length - 1].high).toBe(1);
    for (let i = 1; i < d.strata.length; i++) expect(d.strata[i].low).toBe(d.strata[i - 1].high);
  });

  it('keeps tiles without scores apart and refuses a source that changes between its two passes', async () => {
    const withMissing = tiles.map((t, i) => (i % 10 === 0 ? { ...t, status: 'missing' } : t));
    const s = await drawCalibrationSample(withMissing, { seed: 5 });
    expect(s.design.keptApart).toBe(300);
    expect(s.design.tiles).toBe(2700);
    const missing = new Set(withMissing.filter((t) => t.status === 'missing').map((t) => t.taskId));
    expect(s.tiles.some((t) => missing.has(t.taskId))).toBe(false);
    function* once() {
      yield* tiles;
    }
    const gen = once();
    await expect((async () => await drawCalibrationSample(gen))()).rejects.toThrow(
      /changed between the two passes/,
    );
  });

  it('plans a size from the interval width wanted, larger for a narrower interval', async () => {
    const sums = await binSums(tiles);
    const wide = sampleSizeFor(sums, 0.2);
    const narrow = sampleSizeFor(sums, 0.05);
    expect(narrow).toBeGreaterThan(wide);
    expect((await drawCalibrationSample(tiles, { halfWidth: 0.1, seed: 1 })).design.size).toBe(
      sampleSizeFor(sums, 0.1),
    );
  });

  it('allocates by Neyman with a floor and never more than a stratum holds', () => {
    // Floors of 2, then 14 by N·σ (50 : 10 : 2.5), largest remainders rounding.
    expect(allocate(20, [100, 100, 5], [0.5, 0.1, 0.5], 2)).toEqual([13, 4, 3]);
    // A small stratum its share would overfill is taken whole; the rest is shared again.
    const capped = allocate(20, [100, 100, 3], [0.1, 0.1, 10], 2);
    expect(capped[2]).toBe(3);
    expect(capped[0] + capped[1]).toBe(17);
    expect(allocate(10, [100, 100], [0.3, 0.3], 2)).toEqual([5, 5]);
    expect(() => allocate(3, [10, 10], [0.5, 0.5], 2)).toThrow(TrustError);
  });
});

describe('sample exports', async () => {
  const s = await drawCalibrationSample(tiles, { size: 60, seed: 9 });
  const info = {
    name: 'Region',
    imagery: { name: 'custom imagery', url: 'https://tiles.example.org/{z}/{x}/{y}.jpg', credits: '' },
    model: { id: '1', name: 'demo', version: 'abc' },
    runId: 1,
    lookFor: 'buildings',
    zoom: 18,
  };

  it('writes the CSV with task id, quadkey, centre, stratum and inclusion probability', () => {
    const lines = [...sampleCsv(s)].join('').trim().split('\n');
    expect(lines[0]).toBe('task_id,quadkey,lon,lat,stratum,inclusion_probability,priority,building_prob');
    expect(lines).toHaveLength(61);
    const [taskId, quadkey, lon, lat, stratum, pi] = lines[1].split(',');
    const t = s.tiles.find((x) => x.taskId === taskId)!;
    const { z, x, y } = parseTaskId(taskId);
    const [w, so, e, n] = tileBounds(z, x, y);
    expect(quadkey).toHaveLength(18);
    expect(Number(lon)).toBeGreaterThan(w);
    expect(Number(lon)).toBeLessThan(e);
    expect(Number(lat)).toBeGreaterThan(so);
    expect(Number(lat)).toBeLessThan(n);
    expect(Number(stratum)).toBe(t.stratum);
    expect(Number(pi)).toBeCloseTo(t.inclusionProb, 5);
  });

  it('makes MapSwipe drafts of at most 20 polygons holding every sample tile, the extra tiles listed', () => {
    const out = sampleFindDrafts(s, info, 7);
    expect(out.drafts.length).toBeGreaterThan(1);
    const covered = new Set<string>();
    for (const d of out.drafts) {
      expect(d.polygons).toBeLessThanOrEqual(20);
      expect(d.draft.geometry.features).toHaveLength(d.polygons);
      for (const f of d.draft.geometry.features) {
        const p = f.properties as { xMin: number; xMax: number; yMin: number; yMax: number };
        for (let y = p.yMin; y <= p.yMax; y++)
          for (let x = p.xMin; x <= p.xMax; x++) covered.add(`18-${x}-${y}`);
      }
    }
    for (const t of s.tiles) expect(covered.has(t.taskId)).toBe(true);
    expect(covered.size).toBe(s.tiles.length + out.extraTiles);
    expect(new Set(out.extraTaskIds).size).toBe(out.extraTiles);
    // One draft is possible too, at the price of more extra tiles.
    const one = sampleFindDrafts(s, info, 7, { maxDrafts: 1 });
    expect(one.drafts).toHaveLength(1);
    expect(one.drafts[0].polygons).toBeLessThanOrEqual(20);
    expect(one.extraTiles).toBeGreaterThan(out.extraTiles);
  });
});

describe('distribution functions', () => {
  it('match known quantiles', () => {
    expect(gammaQuantile(0.9, 1)).toBeCloseTo(Math.log(10), 9);
    expect(gammaQuantile(0.95, 1)).toBeCloseTo(Math.log(20), 9);
    expect(gammaQuantile(0.9, 2)).toBeCloseTo(3.889720169867429, 8);
    expect(gammaCdf(gammaQuantile(0.3, 7.5), 7.5)).toBeCloseTo(0.3, 10);
    expect(gammaCdf(gammaQuantile(0.999, 0.2), 0.2)).toBeCloseTo(0.999, 10);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 6);
    expect(normalQuantile(0.05)).toBeCloseTo(-1.644853627, 6);
  });

  it('bound a count with no positive seen by the exact rule of three, not by zero', () => {
    // 40 labels from 4,000 tiles, none positive: w = 100, the 95 % bound is 100·ln 20 ≈ 300 tiles.
    expect(fayFeuerUpper(0, 0, 100, 0.05)).toBeCloseTo(100 * Math.log(20), 6);
    const b = countBounds(
      {
        size: 4000,
        sampledEstimate: 0,
        sampledSize: 4000,
        variance: 0,
        maxWeight: 100,
        blindSize: 0,
        blindEstimate: 0,
        positivesSeen: 0,
        negativesSeen: 40,
      },
      0.05,
    );
    expect(b.low).toBe(0);
    expect(b.high).toBeCloseTo(299.57, 1);
  });
});

describe('RegionCalibrator', () => {
  it('recovers a known miscalibration from weighted labels', () => {
    const rng = createRng(2);
    const data = Array.from({ length: 4000 }, () => {
      const p = 0.02 + 0.96 * rng.next();
      const truth = sigmoid(0.5 * logit(p) - 1);
      return { buildingProb: p, label: (rng.next() < truth ? 1 : 0) as 0 | 1, weight: 1 + rng.int(3) };
    });
    const c = new RegionCalibrator().fit(data);
    expect(c.slope).toBeCloseTo(0.5, 1);
    expect(c.intercept).toBeCloseTo(-1, 1);
    expect(RegionCalibrator.fromJSON(JSON.parse(JSON.stringify(c.toJSON()))).predict(0.3)).toBeCloseTo(
      c.predict(0.3),
      12,
    );
  });

  it('stays finite with no positive label, and cross-fits out of fold', () => {
    const data = Array.from({ length: 30 }, (_, i) => ({
      buildingProb: 0.001 + i / 100,
      label: 0 as const,
      weight: 1,
    }));
    const c = new RegionCalibrator().fit(data);
    expect(Number.isFinite(c.slope) && Number.isFinite(c.intercept)).toBe(true);
    expect(c.predict(0.2)).toBeLessThan(0.2);
    const cf = crossFitCalibrators(data, 5);
    expect(cf.models).toHaveLength(5);
    expect(cf.outOfFold[0]).toBeCloseTo(cf.models[cf.fold[0]].predict(data[0].buildingProb), 12);
  });
});

describe('estimateRegion', async () => {
  const sample = await drawCalibrationSample(tiles, { seed: 3 });

  it('refuses a sample drawn before the project was rescored', async () => {
    const rescored = tiles.map((t, i) => (i === 0 ? { ...t, priority: t.priority < 0.5 ? 0.9 : 0.1 } : t));
    await expect(
      (async () => await estimateRegion(rescored, labelFromTruth(tiles, sample)))(),
    ).rejects.toThrow(/rescored since the calibration sample/);
    const moved = tiles.map((t) =>
      t.taskId === sample.tiles[0].taskId ? { ...t, priority: t.priority + 1e-6 } : t,
    );
    await expect((async () => await estimateRegion(moved, labelFromTruth(tiles, sample)))()).rejects.toThrow(
      /was drawn at priority/,
    );
  });

  it('without labels says nothing: the building count may be anything from 0 to every tile', async () => {
    const est = await estimateRegion(tiles, unlabelled(sample));
    const c = est.buildingTiles();
    expect(c.low).toBe(0);
    expect(c.high).toBe(tiles.length);
    expect(est.guaranteedThreshold().skips).toBe(false);
    expect(est.basis.blindStrata).toBe(sample.design.strata.length);
  });

  it('states its promise with the number of labels it rests on', async () => {
    const est = await estimateRegion(tiles, labelFromTruth(tiles, sample));
    expect(est.recallAt(0.3).promise).toMatch(
      /^on 200 labels from this region: expected recall \d+ % \(\d+ %–\d+ %, 90 % interval\)/,
    );
    expect(est.guaranteedThreshold(0.95, 0.1).promise).toMatch(
      /guaranteed recall ≥ 95 % with 90 % confidence at threshold/,
    );
    const json = JSON.parse(JSON.stringify(est.toJSON()));
    expect(json.basis.labels).toBe(200);
    expect(json.calibrator.kind).toBe('RegionCalibrator');
  });
});
