/**
 * The tile-level question a MapSwipe Find task asks — does this tile hold a building a volunteer should mark? —
 * answered with a calibrated probability, learned on the reference run's held-out tiles.
 *
 * The paper's IoU surface answers a pixel question (how good will the outlines be); a tile can have IoU ≈ 0 and
 * still never hide a building, or look confident and miss a roof style the model never saw. So the tile question
 * gets its own estimator: a logistic regression over evidence from the prediction (how much the model paints, how
 * sure its surest pixel is, how undecided it is) and, where it measurably helps, from the latent space (the PCs,
 * novelty, the distance to the urbanised clusters, the smoothed IoU).
 *
 * Feature groups enter by forward selection on cross-validated log-loss with the one-standard-error rule: a group
 * joins only when it beats the current model by more than the noise of the comparison. Latent features earn their
 * place in-distribution and extrapolate worst out of it, so the rule keeps them out unless the gain is real; the
 * logistic model also clips every feature to the range its training tiles covered.
 */
import { EstimatorError, type EstimatorJSON } from './estimator.ts';
import { LogisticRegression, logLoss, brierScore, type LogisticJSON } from './logistic.ts';
import { createRng } from './random.ts';
import { normalQuantile } from './special-functions.ts';

/** What scoring knows about one tile, before the tile-level probability. */
export interface TileEvidence {
  /** Share of pixels at or above the run's threshold. */
  predFraction: number;
  /** Highest pixel probability on the tile. */
  maxProb: number;
  /** Mean pixel probability. */
  meanProb: number;
  /** Mean 4·p·(1 − p) over the pixels: 0 where the model is sure everywhere, 1 where it is undecided everywhere. */
  uncertainty: number;
  /** The first PCs of the reference run's latent space. */
  pcs: ArrayLike<number>;
  iouHat: number;
  /** Distance to the reference set in units of its own 99th percentile (see shift-novelty.ts). */
  noveltyRatio: number;
  urbanDistanceScaled: number;
  /**
   * How differently the model paints the tile's mirror image (prediction-evidence.ts). Only measured where the
   * classifier uses it: runs fitted before it existed, and classifiers that did not select it, never ask.
   */
  mirrorDisagreement?: number;
}

export const FEATURE_GROUPS = {
  prediction: ['logShare', 'logitMax'],
  uncertainty: ['uncertainty', 'logMeanProb'],
  agreement: ['logMirrorDisagreement'],
  latent: ['pc1', 'pc2', 'pc3', 'pc4', 'pc5', 'pc6', 'pc7', 'pc8', 'pc9'],
  novelty: ['logNoveltyRatio'],
  urban: ['urbanDistanceScaled'],
  surface: ['iouHat'],
} as const;
export type FeatureGroup = keyof typeof FEATURE_GROUPS;
const GROUP_ORDER = Object.keys(FEATURE_GROUPS) as FeatureGroup[];

const logit = (p: number) => Math.log(Math.max(p, 1e-6) / Math.max(1 - p, 1e-6));

/** One feature's value for one tile. */
function feature(name: string, t: TileEvidence): number {
  switch (name) {
    case 'logShare':
      return Math.log(t.predFraction + 1e-3);
    case 'logitMax':
      return logit(t.maxProb);
    case 'uncertainty':
      return t.uncertainty;
    case 'logMeanProb':
      return Math.log(t.meanProb + 1e-4);
    case 'logMirrorDisagreement':
      if (t.mirrorDisagreement === undefined)
        throw new EstimatorError(
          'TileClassifier: this classifier reads how the model paints the mirrored tile, and the evidence lacks it',
        );
      return Math.log(t.mirrorDisagreement + 1e-6);
    case 'logNoveltyRatio':
      return Math.log(Math.max(t.noveltyRatio, 1e-3));
    case 'urbanDistanceScaled':
      return t.urbanDistanceScaled;
    case 'iouHat':
      return t.iouHat;
    default: {
      const m = /^pc(\d)$/.exec(name);
      if (m) return t.pcs[Number(m[1]) - 1] ?? 0;
      throw new EstimatorError(`TileClassifier: unknown feature ${name}`);
    }
  }
}

function featureNames(groups: readonly FeatureGroup[]): string[] {
  return groups.flatMap((g) => [...FEATURE_GROUPS[g]]);
}

function matrix(tiles: readonly TileEvidence[], names: readonly string[]): Float32Array {
  const X = new Float32Array(tiles.length * names.length);
  tiles.forEach((t, r) => names.forEach((n, j) => (X[r * names.length + j] = feature(n, t))));
  return X;
}

export interface SelectionStep {
  groups: FeatureGroup[];
  /** Cross-validated log-loss and its standard error against the model of the previous step. */
  logLoss: number;
  brier: number;
  accepted: boolean;
}

export interface TileClassifierJSON extends EstimatorJSON {
  kind: 'TileClassifier';
  groups: FeatureGroup[];
  features: string[];
  model: LogisticJSON;
  /** Held-out tiles it was fitted on, how many held a building, and how it got there. */
  tiles: number;
  positives: number;
  fittedOn: string;
  selection: SelectionStep[];
  /** Cross-validated reliability of the chosen model: predicted vs observed share of building tiles per bin. */
  reliability: Array<{ from: number; to: number; tiles: number; predicted: number; observed: number }>;
  crossValidated: { logLoss: number; brier: number; baselineLogLoss: number };
}

export interface TileClassifierOptions {
  folds?: number;
  seed?: number;
  l2?: number;
  /** Groups the selection may add after 'prediction' (default: all). */
  candidates?: FeatureGroup[];
  /**
   * Fit these groups after 'prediction' as they are, without selection (groups the tiles lack evidence for are
   * left out): for a model whose features are chosen for what they mean, not for the reference's log-loss.
   */
  groups?: FeatureGroup[];
}

/** Out-of-fold probabilities of a model on `groups`. */
function crossValidate(
  tiles: readonly TileEvidence[],
  y: Float32Array,
  groups: readonly FeatureGroup[],
  fold: Int32Array,
  folds: number,
  l2: number,
): Float32Array {
  const names = featureNames(groups);
  const X = matrix(tiles, names);
  const d = names.length;
  const oof = new Float32Array(tiles.length);
  for (let k = 0; k < folds; k++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < tiles.length; i++) (fold[i] === k ? test : train).push(i);
    if (test.length === 0) continue;
    const Xt = new Float32Array(train.length * d);
    const yt = new Float32Array(train.length);
    train.forEach((i, r) => {
      Xt.set(X.subarray(i * d, (i + 1) * d), r * d);
      yt[r] = y[i];
    });
    const model = new LogisticRegression({ l2 }).fit(Xt, train.length, d, yt);
    const Xs = new Float32Array(test.length * d);
    test.forEach((i, r) => Xs.set(X.subarray(i * d, (i + 1) * d), r * d));
    model.predict(Xs, test.length).forEach((p, r) => (oof[test[r]] = p));
  }
  return oof;
}

/** Per-tile log-loss differences: their mean and standard error. */
function lossDifference(a: Float32Array, b: Float32Array, y: Float32Array): { mean: number; se: number } {
  const n = y.length;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const d = logLoss([a[i]], [y[i]]) - logLoss([b[i]], [y[i]]);
    s += d;
    s2 += d * d;
  }
  const mean = s / n;
  const variance = Math.max(0, s2 / n - mean * mean);
  return { mean, se: Math.sqrt(variance / n) };
}

function reliabilityBins(p: Float32Array, y: Float32Array, bins = 10): TileClassifierJSON['reliability'] {
  const out: TileClassifierJSON['reliability'] = [];
  for (let b = 0; b < bins; b++) {
    const from = b / bins;
    const to = (b + 1) / bins;
    let n = 0;
    let sp = 0;
    let sy = 0;
    for (let i = 0; i < p.length; i++) {
      if (p[i] >= from && (p[i] < to || (b === bins - 1 && p[i] <= to))) {
        n++;
        sp += p[i];
        sy += y[i];
      }
    }
    if (n > 0) out.push({ from, to, tiles: n, predicted: sp / n, observed: sy / n });
  }
  return out;
}

function meanEvidence(tiles: readonly TileEvidence[]): TileEvidence {
  const n = tiles.length;
  const avg = (f: (t: TileEvidence) => number) => tiles.reduce((s, t) => s + f(t), 0) / n;
  const k = tiles[0].pcs.length;
  return {
    predFraction: avg((t) => t.predFraction),
    maxProb: avg((t) => t.maxProb),
    meanProb: avg((t) => t.meanProb),
    uncertainty: avg((t) => t.uncertainty),
    ...(tiles.every((t) => t.mirrorDisagreement !== undefined)
      ? { mirrorDisagreement: avg((t) => t.mirrorDisagreement!) }
      : {}),
    pcs: Array.from({ length: k }, (_, j) => avg((t) => t.pcs[j] ?? 0)),
    iouHat: avg((t) => t.iouHat),
    noveltyRatio: avg((t) => t.noveltyRatio),
    urbanDistanceScaled: avg((t) => t.urbanDistanceScaled),
  };
}

export class TileClassifier {
  private constructor(
    private readonly model: LogisticRegression,
    readonly info: TileClassifierJSON,
  ) {}

  get groups(): FeatureGroup[] {
    return this.info.groups;
  }

  /** Whether the tiles' evidence must say how the model paints their mirror image (a second inference). */
  get readsMirror(): boolean {
    return this.info.groups.includes('agreement');
  }

  /**
   * Fits on tiles whose truth is known and which the segmentation model never trained on. Needs both outcomes
   * among them; with fewer than 20 tiles of either kind the selection keeps the prediction group alone.
   */
  static fit(
    tiles: readonly TileEvidence[],
    holdsBuilding: ArrayLike<boolean>,
    fittedOn: string,
    options: TileClassifierOptions = {},
  ): TileClassifier {
    if (tiles.length !== holdsBuilding.length)
      throw new EstimatorError('TileClassifier.fit: one truth per tile');
    if (tiles.length === 0) throw new EstimatorError('TileClassifier.fit: no reference tiles to learn from');
    const truth = Array.from(holdsBuilding);
    const observed = truth.filter(Boolean).length;
    if (observed === 0 || observed === truth.length) {
      // One kind only (a tiny or one-sided reference): one pseudo-tile of the other kind at the tiles' mean
      // evidence keeps the fit finite; the probability becomes about the smoothed share, (k + ½) / (n + 1).
      tiles = [...tiles, meanEvidence(tiles)];
      truth.push(observed === 0);
      fittedOn = `${fittedOn}; they ${observed === 0 ? 'hold no building' : 'all hold buildings'}, so one pseudo-tile of the other kind was added`;
    }
    const n = tiles.length;
    const y = Float32Array.from(truth, (b) => (b ? 1 : 0));
    const positives = y.reduce((s, v) => s + v, 0);
    const folds = options.folds ?? 5;
    const l2 = options.l2 ?? 1;
    const rng = createRng(options.seed ?? 7);
    // Folds stratified by outcome, so every fold sees both kinds.
    const fold = new Int32Array(n);
    for (const outcome of [0, 1]) {
      const idx = [...y.keys()].filter((i) => y[i] === outcome);
      for (let i = idx.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      idx.forEach((i, r) => (fold[i] = r % folds));
    }
    const enough = Math.min(positives, n - positives) >= 20;
    // Agreement competes only where every tile was looked at twice (references analysed before it existed were not).
    const mirrored = tiles.every((t) => t.mirrorDisagreement !== undefined);
    const candidates = enough
      ? (options.candidates ?? GROUP_ORDER.filter((g) => g !== 'prediction')).filter(
          (g) => g !== 'agreement' || mirrored,
        )
      : [];

    let chosen: FeatureGroup[] = ['prediction'];
    let best = crossValidate(tiles, y, chosen, fold, folds, l2);
    const selection: SelectionStep[] = [
      { groups: [...chosen], logLoss: logLoss(best, y), brier: brierScore(best, y), accepted: true },
    ];
    if (options.groups && enough) {
      chosen = [
        'prediction',
        ...options.groups.filter((g) => g !== 'prediction' && (g !== 'agreement' || mirrored)),
      ];
      best = crossValidate(tiles, y, chosen, fold, folds, l2);
      selection[0] = {
        groups: [...chosen],
        logLoss: logLoss(best, y),
        brier: brierScore(best, y),
        accepted: true,
      };
    }
    while (!options.groups) {
      let pick: { group: FeatureGroup; oof: Float32Array; gain: number } | null = null;
      for (const g of candidates) {
        if (chosen.includes(g)) continue;
        const oof = crossValidate(tiles, y, [...chosen, g], fold, folds, l2);
        const diff = lossDifference(best, oof, y);
        const accepted = diff.mean > diff.se;
        selection.push({
          groups: [...chosen, g],
          logLoss: logLoss(oof, y),
          brier: brierScore(oof, y),
          accepted,
        });
        if (accepted && (!pick || diff.mean > pick.gain)) pick = { group: g, oof, gain: diff.mean };
      }
      if (!pick) break;
      chosen = [...chosen, pick.group];
      best = pick.oof;
    }
    const names = featureNames(chosen);
    const model = new LogisticRegression({ l2 }).fit(matrix(tiles, names), n, names.length, y);
    const share = positives / n;
    const info: TileClassifierJSON = {
      kind: 'TileClassifier',
      groups: chosen,
      features: names,
      model: model.toJSON(),
      tiles: n,
      positives,
      fittedOn,
      selection,
      reliability: reliabilityBins(best, y),
      crossValidated: {
        logLoss: logLoss(best, y),
        brier: brierScore(best, y),
        baselineLogLoss: logLoss(new Float32Array(n).fill(share), y),
      },
    };
    return new TileClassifier(model, info);
  }

  /** P(the tile holds a building) per tile. */
  predict(tiles: readonly TileEvidence[]): Float32Array {
    return this.model.predict(matrix(tiles, this.info.features), tiles.length);
  }

  /**
   * P(building) from the prediction's own evidence (its share, surest pixel, indecision and agreement with its
   * mirror image): every other feature (latent PCs, novelty, urban distance, smoothed IoU) held at its mean over
   * the fitted tiles. One scale for every tile, and no coordinate the fit never
   * saw: priority ranks by it (doubt.ts), since latent features extrapolate worst where a region is new.
   */
  predictOwnEvidence(tiles: readonly TileEvidence[]): Float32Array {
    const X = matrix(tiles, this.info.features);
    const d = this.info.features.length;
    const own = new Set<string>([
      ...FEATURE_GROUPS.prediction,
      ...FEATURE_GROUPS.uncertainty,
      ...FEATURE_GROUPS.agreement,
    ]);
    const mean = this.info.model.mean;
    for (let j = 0; j < d; j++)
      if (!own.has(this.info.features[j])) for (let r = 0; r < tiles.length; r++) X[r * d + j] = mean[j];
    return this.model.predict(X, tiles.length);
  }

  /** The same with the fit's own uncertainty: a band at two-sided `level` (Wald, on the logit scale). */
  predictInterval(tiles: readonly TileEvidence[], level = 0.9) {
    return this.model.predictInterval(
      matrix(tiles, this.info.features),
      tiles.length,
      normalQuantile(1 - (1 - level) / 2),
    );
  }

  toJSON(): TileClassifierJSON {
    return this.info;
  }

  static fromJSON(json: TileClassifierJSON): TileClassifier {
    if (json?.kind !== 'TileClassifier')
      throw new EstimatorError(
        `TileClassifier.fromJSON: expected kind "TileClassifier", got ${JSON.stringify(json?.kind)}`,
      );
    return new TileClassifier(LogisticRegression.fromJSON(json.model), json);
  }
}
