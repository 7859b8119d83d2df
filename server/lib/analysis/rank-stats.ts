/**
 * Statistics on ranks: Spearman's correlation and the AUROC (Mann–Whitney), ties sharing their mean rank.
 */

/** Average ranks (ties share their mean rank), 1-based. */
function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n < 3 || b.length !== n) return Number.NaN;
  const ra = ranks(a);
  const rb = ranks(b);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += ra[i] / n;
    mb += rb[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) ** 2;
    sbb += (rb[i] - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb);
}

/** Probability that a positive scores above a negative (ties count half): the Mann–Whitney AUROC. */
export function auroc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  const all = [...Array.from(positives), ...Array.from(negatives)];
  if (positives.length === 0 || negatives.length === 0) return Number.NaN;
  const r = ranks(all);
  let sum = 0;
  for (let i = 0; i < positives.length; i++) sum += r[i];
  const np = positives.length;
  return (sum - (np * (np + 1)) / 2) / (np * negatives.length);
}
