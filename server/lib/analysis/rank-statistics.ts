/**
 * Statistics of rankings: average ranks, Spearman's rank correlation and the AUROC. Ties share their mean
 * rank, as in scipy.stats.rankdata / spearmanr.
 */

/** 0-based average ranks: the smallest value gets 0, tied values the mean of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    for (let t = i; t <= j; t++) out[order[t]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? Number.NaN : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation; NaN for fewer than 3 pairs or a constant side (no ranking to compare). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length < 3 || b.length !== a.length) return Number.NaN;
  return pearson(averageRanks(a), averageRanks(b));
}

/** Probability that a positive scores above a negative (ties count half): the Mann–Whitney AUROC. */
export function auroc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const np = positives.length;
  if (np === 0 || negatives.length === 0) return Number.NaN;
  const r = averageRanks([...Array.from(positives), ...Array.from(negatives)]);
  let sum = 0;
  for (let i = 0; i < np; i++) sum += r[i];
  // r is 0-based: the positives' rank sum in 1-based ranks is sum + np.
  return (sum + np - (np * (np + 1)) / 2) / (np * negatives.length);
}
