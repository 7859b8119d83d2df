import { describe, expect, it } from 'vitest';
import { LogisticRegression, logLoss } from '../../server/lib/analysis/logistic.ts';
import { createRng } from '../../server/lib/analysis/random.ts';
import { mirrorDisagreement, mirrorTiles } from '../../server/lib/analysis/prediction-evidence.ts';
import { TileClassifier, type TileEvidence } from '../../server/lib/analysis/tile-classifier.ts';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe('LogisticRegression', () => {
  it('recovers known coefficients from data drawn from them', () => {
    const rng = createRng(3);
    const n = 6000;
    const X = new Float32Array(n * 2);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      X[2 * i] = rng.normal();
      X[2 * i + 1] = rng.normal();
      y[i] = rng.next() < sigmoid(-1 + 2 * X[2 * i] - 0.5 * X[2 * i + 1]) ? 1 : 0;
    }
    const m = new LogisticRegression({ l2: 1e-3 }).fit(X, n, 2, y);
    // P at the origin and along each axis, against the generating model.
    const probe = Float32Array.from([0, 0, 1, 0, 0, 1]);
    const p = m.predict(probe, 3);
    expect(p[0]).toBeCloseTo(sigmoid(-1), 1);
    expect(p[1]).toBeCloseTo(sigmoid(1), 1);
    expect(p[2]).toBeCloseTo(sigmoid(-1.5), 1);
  });

  it('clips features to the range it was fitted on: no certainty extrapolated far outside', () => {
    const X = Float32Array.from([0, 1, 2, 3, 4, 5]);
    const y = Float32Array.from([0, 0, 0, 1, 1, 1]);
    const m = new LogisticRegression({ l2: 0.1 }).fit(X, 6, 1, y);
    const [edge, far] = m.predict(Float32Array.from([5, 500]), 2);
    expect(far).toBe(edge);
  });

  it('scores log-loss as the mean negative log-likelihood', () => {
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.log(2));
  });
});

/** Tiles where the painted share says most, the uncertainty a little, and pc1 nothing. */
function synthetic(n: number, seed: number): { tiles: TileEvidence[]; holds: boolean[] } {
  const rng = createRng(seed);
  const tiles: TileEvidence[] = [];
  const holds: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const has = rng.next() < 0.3;
    const share = has ? Math.max(0, 0.05 + 0.04 * rng.normal()) : Math.max(0, 0.004 * rng.normal());
    const uncertainty = Math.min(1, Math.max(0, (has ? 0.12 : 0.05) + 0.04 * rng.normal()));
    tiles.push({
      predFraction: share,
      maxProb: Math.min(0.999, share > 0 ? 0.6 + 0.4 * rng.next() : 0.3 * rng.next()),
      meanProb: share,
      uncertainty,
      pcs: [rng.normal(), rng.normal()],
      iouHat: rng.next(),
      noveltyRatio: 0.5 * rng.next(),
      urbanDistanceScaled: rng.next(),
    });
    holds.push(has);
  }
  return { tiles, holds };
}

describe('TileClassifier', () => {
  it('adds a group only when it beats the current model by more than the noise, and stays calibrated', () => {
    const { tiles, holds } = synthetic(1500, 5);
    const c = TileClassifier.fit(tiles, holds, 'synthetic held-out tiles', { seed: 1 });
    expect(c.groups[0]).toBe('prediction');
    expect(c.groups).toContain('uncertainty');
    expect(c.groups).not.toContain('latent');
    expect(c.groups).not.toContain('surface');
    const info = c.toJSON();
    expect(info.crossValidated.logLoss).toBeLessThan(info.crossValidated.baselineLogLoss);
    expect(info.selection.length).toBeGreaterThan(1);
    // Calibration on fresh tiles: predicted and observed building shares agree.
    const fresh = synthetic(3000, 9);
    const p = c.predict(fresh.tiles);
    const predicted = p.reduce((a, b) => a + b, 0);
    const observed = fresh.holds.filter(Boolean).length;
    expect(Math.abs(predicted - observed) / observed).toBeLessThan(0.08);
  });

  it('gives P(building) from the prediction’s own evidence, latent features held at their fitted mean', () => {
    // pc1 carries the truth here, so the selection keeps the latent group.
    const { tiles, holds } = synthetic(1500, 5);
    const informative = tiles.map((t, i) => ({
      ...t,
      pcs: [holds[i] ? 1.5 + 0.5 * Math.sin(i) : -1 + 0.5 * Math.cos(i), 0],
    }));
    const c = TileClassifier.fit(informative, holds, 'synthetic', { seed: 1 });
    expect(c.groups).toContain('latent');
    const info = c.toJSON();
    const mean = info.model.mean[info.features.indexOf('pc1')];
    const some = informative.slice(0, 10);
    const own = c.predictOwnEvidence(some);
    const atMean = c.predict(some.map((t) => ({ ...t, pcs: [mean, 0] })));
    own.forEach((v, i) => expect(v).toBeCloseTo(atMean[i], 6));
    // The latent coordinates no longer move it; the prediction's evidence still does.
    expect(Array.from(c.predictOwnEvidence(some.map((t) => ({ ...t, pcs: [40, 0] }))))).toEqual(
      Array.from(own),
    );
    const stronger = c.predictOwnEvidence(some.map((t) => ({ ...t, predFraction: 0.2, maxProb: 0.99 })));
    stronger.forEach((v, i) => expect(v).toBeGreaterThanOrEqual(own[i] - 1e-6));
  });

  it('round-trips through JSON; truth of one kind only gives about the smoothed share', () => {
    const { tiles, holds } = synthetic(400, 6);
    const c = TileClassifier.fit(tiles, holds, 'synthetic');
    const back = TileClassifier.fromJSON(JSON.parse(JSON.stringify(c.toJSON())));
    expect(Array.from(back.predict(tiles.slice(0, 20)))).toEqual(Array.from(c.predict(tiles.slice(0, 20))));
    const band = c.predictInterval(tiles.slice(0, 20));
    band.p.forEach((v, i) => {
      expect(band.low[i]).toBeLessThanOrEqual(v);
      expect(band.high[i]).toBeGreaterThanOrEqual(v);
    });
    const none = TileClassifier.fit(
      tiles,
      tiles.map(() => false),
      'none',
    );
    expect(none.toJSON().fittedOn).toMatch(/hold no building.*pseudo-tile/);
    const p = none.predict(tiles);
    expect(Math.max(...p)).toBeLessThan(0.05);
    expect(() => TileClassifier.fit([], [], 'nothing')).toThrow(/no reference tiles/);
    expect(() => TileClassifier.fromJSON({ kind: 'Other' } as never)).toThrow(/expected kind/);
  });

  it('learns from the mirror image only where it helps, and only when every tile was looked at twice', () => {
    // Half of the building tiles are half seen: the painted share is empty, but the model paints their mirror
    // image differently. Agreement separates them from empty ground, which it paints the same both ways.
    const rng = createRng(11);
    const tiles: TileEvidence[] = [];
    const holds: boolean[] = [];
    for (let i = 0; i < 1500; i++) {
      const has = rng.next() < 0.3;
      const halfSeen = has && rng.next() < 0.5;
      const share = has && !halfSeen ? Math.max(0.01, 0.05 + 0.02 * rng.normal()) : 0;
      tiles.push({
        predFraction: share,
        maxProb: share > 0 ? 0.9 : 0.2 + 0.1 * rng.next(),
        meanProb: share,
        uncertainty: 0.05 + 0.01 * rng.next(),
        pcs: [rng.normal(), rng.normal()],
        iouHat: rng.next(),
        noveltyRatio: 0.5 * rng.next(),
        urbanDistanceScaled: rng.next(),
        mirrorDisagreement: halfSeen ? 0.02 * (1 + rng.next()) : 0.001 * (1 + rng.next()),
      });
      holds.push(has);
    }
    const c = TileClassifier.fit(tiles, holds, 'synthetic', { seed: 2 });
    expect(c.groups).toContain('agreement');
    expect(c.readsMirror).toBe(true);
    // The own-evidence probability (priority's) follows agreement: a half-seen tile ranks above empty ground.
    const empty = { ...tiles[0], predFraction: 0, maxProb: 0.25, meanProb: 0, mirrorDisagreement: 0.0015 };
    const [quiet, unsure] = c.predictOwnEvidence([empty, { ...empty, mirrorDisagreement: 0.03 }]);
    expect(unsure).toBeGreaterThan(quiet + 0.3);
    expect(() => c.predict([{ ...empty, mirrorDisagreement: undefined }])).toThrow(/mirrored tile/);
    // One tile not looked at twice: agreement is not a candidate, and scoring is never asked for it.
    const partial = tiles.map((t, i) => (i === 7 ? { ...t, mirrorDisagreement: undefined } : t));
    const without = TileClassifier.fit(partial, holds, 'synthetic', { seed: 2 });
    expect(without.groups).not.toContain('agreement');
    expect(without.readsMirror).toBe(false);
    // Uninformative agreement is not kept.
    const noise = tiles.map((t) => ({ ...t, mirrorDisagreement: 0.001 * (1 + rng.next()) }));
    expect(TileClassifier.fit(noise, holds, 'synthetic', { seed: 2 }).groups).not.toContain('agreement');
  });
});

describe('mirror evidence', () => {
  it('mirrors RGB tiles left to right and measures how differently the mirror image is painted', () => {
    // Two 3×2 tiles: pixel values carry their own position.
    const batch = Uint8Array.from({ length: 2 * 2 * 3 * 3 }, (_, i) => i);
    const m = mirrorTiles(batch, 2, 3, 2);
    // First row of tile 0: pixels (0,1,2) → (2,1,0), each RGB triple kept whole.
    expect(Array.from(m.subarray(0, 9))).toEqual([6, 7, 8, 3, 4, 5, 0, 1, 2]);
    // Tile 1's second row stays in tile 1.
    expect(Array.from(m.subarray(27, 36))).toEqual([33, 34, 35, 30, 31, 32, 27, 28, 29]);
    expect(Array.from(mirrorTiles(m, 2, 3, 2))).toEqual(Array.from(batch));
    expect(() => mirrorTiles(batch, 3, 3, 2)).toThrow(/not 3 tiles/);

    // A model that paints the mirror image exactly mirrored: no disagreement.
    const probs = Float32Array.from([0.1, 0.5, 0.9, 0.2, 0.4, 0.8]);
    const mirrored = Float32Array.from([0.9, 0.5, 0.1, 0.8, 0.4, 0.2]);
    expect(mirrorDisagreement(probs, mirrored, 3, 2)).toBe(0);
    // One that paints the same plane again disagrees where the tile is not symmetric: (0.8² · 2 + 0.6² · 2) / 6.
    expect(mirrorDisagreement(probs, probs, 3, 2)).toBeCloseTo((2 * 0.64 + 2 * 0.36) / 6, 6);
    expect(() => mirrorDisagreement(probs, probs, 2, 2)).toThrow(/2×2/);
  });
});
