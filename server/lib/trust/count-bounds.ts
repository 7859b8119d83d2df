/**
 * Confidence bounds on how many tiles of a domain (the skipped tiles, the sent tiles, the whole region)
 * hold a building, from a stratified sample and the model's predictions.
 *
 * The estimate is the model-assisted difference (prediction-powered) estimator
 *     Ẑ = Σ_domain ĝ(p_i) + Σ_h (N_h / n_h) Σ_{j ∈ s_h, j ∈ domain} (y_j − ĝ_j),
 * its variance the stratified residual variance with the finite-population correction,
 *     v̂ = Σ_h N_h² (1 − n_h/N_h) s²_h / n_h.
 * A normal interval around it fails exactly where it matters: in the low-score strata the sample often
 * holds no positive at all, s²_h is ~0 and the interval collapses to a point while buildings hide there.
 * So each one-sided bound is Fay & Feuer's (1997) gamma bound for a weighted sum of rare counts, with
 * the estimate and variance as its moments: the upper bound is the (1 − α) quantile of a gamma with mean
 * Ẑ + w and variance v̂ + w², w the largest weight among the domain's sampled strata — one more positive
 * where it would count most (the finite-population weight 1/−ln(1 − n_h/N_h) ≈ N_h/n_h, see
 * region-estimate.ts). With no positive seen this is w·ln(1/α), the exact ("rule of three") bound of the
 * stratum with the largest weight, without replacement; with many positives it tends to the normal bound.
 * The lower bound applies the same to the complement (the domain's tiles without a building), so a
 * stratum where every sampled tile held a building does not collapse either. A stratum with tiles in
 * the domain but no usable label contributes its model estimate to Ẑ and its whole size to the
 * bounds' width. Bounds never leave [positives seen, domain size].
 */
import { gammaQuantile } from '../analysis/special-functions.ts';

export interface DomainCount {
  /** Tiles in the domain. */
  size: number;
  /** Ẑ over the strata with labels. */
  sampledEstimate: number;
  /** Tiles of the domain in those strata. */
  sampledSize: number;
  variance: number;
  /** Largest guard weight (≈ N_h / n_h) among sampled strata with domain tiles and n_h < N_h; 0 when nothing is left to sample. */
  maxWeight: number;
  /** Tiles of the domain in strata without a usable label, and the model's estimate of their positives. */
  blindSize: number;
  blindEstimate: number;
  /** Labelled positives and negatives inside the domain (sure bounds). */
  positivesSeen: number;
  negativesSeen: number;
}

export interface Bounds {
  estimate: number;
  low: number;
  high: number;
  /** The low bound is the positives seen: no sample can put the count lower, so the truth may sit exactly there. */
  lowSure?: boolean;
  /** The high bound is the domain's tiles less the negatives seen: as sure as lowSure. */
  highSure?: boolean;
}

/** Fay–Feuer upper bound at one-sided level α for a weighted count with the given moments. */
export function fayFeuerUpper(mean: number, variance: number, maxWeight: number, alpha: number): number {
  if (maxWeight <= 0) return Math.max(0, mean);
  const m = Math.max(0, mean) + maxWeight;
  const v = Math.max(0, variance) + maxWeight * maxWeight;
  const scale = v / m;
  return gammaQuantile(1 - alpha, (m * m) / v) * scale;
}

/** One-sided bounds, each at level α (a two-sided interval at 1 − 2α). */
export function countBounds(d: DomainCount, alpha: number): Bounds {
  const upperPos = fayFeuerUpper(d.sampledEstimate, d.variance, d.maxWeight, alpha) + d.blindSize;
  const upperNeg =
    fayFeuerUpper(d.sampledSize - d.sampledEstimate, d.variance, d.maxWeight, alpha) + d.blindSize;
  const ceiling = d.size - d.negativesSeen;
  const high = Math.min(ceiling, Math.max(d.positivesSeen, upperPos));
  const low = Math.max(d.positivesSeen, Math.min(high, d.size - upperNeg));
  const estimate = Math.min(high, Math.max(low, d.sampledEstimate + d.blindEstimate));
  return { estimate, low, high, lowSure: low <= d.positivesSeen, highSure: high >= ceiling };
}

export interface RatioOptions {
  /**
   * Where a count's bound is one of the labels' sure limits (Bounds.lowSure / highSure), that side of the
   * ratio is the corner M_U / S_L or M_L / S_U instead of MOVER's (default true).
   *
   * MOVER adds the two counts' distances in quadrature: it takes their errors as independent and each
   * unlikely to reach its bound. A sure limit is neither: when the sample has seen every building among
   * the skipped tiles of a small, heavily sampled region (284 tiles, 200 labelled), the true count is
   * the bound itself, often; the quadrature then puts the ratio's bound strictly inside the corner the
   * truth sits on, and the interval missed the truth by 0.01 points in a quarter of the draws. Taking
   * the corner on that side costs nothing elsewhere: the other count's bound enters whole, which is what
   * the quadrature tends to when one distance is the sure one.
   */
  sureCorners?: boolean;
}

/**
 * Bounds on Q = M / S from bounds on M and S at the same one-sided level (MOVER, Newcombe 2016): the
 * upper bound is the smallest c with M − c·S + √((M_U − M)² + c²(S − S_L)²) ≤ 0, the lower the largest
 * c with M − c·S − √((M − M_L)² + c²(S_U − S)²) ≥ 0. Infinite when S could be 0. With sureCorners, a
 * side on which either count's bound is sure is the corner instead (RatioOptions).
 */
export function ratioBounds(m: Bounds, s: Bounds, options: RatioOptions = {}): { low: number; high: number } {
  const corners = options.sureCorners ?? true;
  const a = m.high - m.estimate;
  const b = s.estimate - s.low;
  let high = Infinity;
  if (s.low > 0) {
    const f = (c: number) => m.estimate - c * s.estimate + Math.hypot(a, c * b);
    let lo = 0;
    let hi = 1;
    while (f(hi) > 0 && hi < 1e12) hi *= 2;
    if (f(hi) <= 0) {
      for (let i = 0; i < 100; i++) {
        const mid = (lo + hi) / 2;
        if (f(mid) > 0) lo = mid;
        else hi = mid;
      }
      high = hi;
    }
    if (corners && (m.highSure || s.lowSure)) high = Math.max(high, m.high / s.low);
  }
  let low = 0;
  const a2 = m.estimate - m.low;
  const b2 = s.high - s.estimate;
  const g = (c: number) => m.estimate - c * s.estimate - Math.hypot(a2, c * b2);
  if (m.low > 0 && s.high > 0 && g(0) > 0) {
    let lo = 0;
    let hi = 1;
    while (g(hi) > 0 && hi < 1e12) hi *= 2;
    for (let i = 0; i < 100; i++) {
      const mid = (lo + hi) / 2;
      if (g(mid) > 0) lo = mid;
      else hi = mid;
    }
    low = lo;
  }
  if (corners && (m.lowSure || s.highSure) && s.high > 0) low = Math.min(low, m.low / s.high);
  return { low, high };
}

/** Recall S / (S + M) with bounds from those of M / S. */
export function recallBounds(missed: Bounds, sent: Bounds, options: RatioOptions = {}): Bounds {
  const q = ratioBounds(missed, sent, options);
  const total = missed.estimate + sent.estimate;
  return {
    estimate: total > 0 ? sent.estimate / total : 1,
    low: Number.isFinite(q.high) ? 1 / (1 + q.high) : 0,
    high: 1 / (1 + q.low),
  };
}
