/**
 * Which clusters count as "urbanised": the paper's latent space is bipolar (undeveloped vs built-up), and a new
 * region's tiles are prioritised by their distance to the built-up pole. The rule is a 1-D two-means split of the
 * clusters' mean ground-truth building share (weighted by size), kept only when the upper group is clearly above
 * the rest: its share must be at least max(5 %, the overall share).
 */
export interface ClusterStat {
  cluster: number;
  size: number;
  meanGtFraction: number;
  medianGtFraction: number;
  meanIou: number | null;
}

export interface UrbanisedChoice {
  urbanised: number[];
  threshold: number;
  reason: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function pickUrbanisedClusters(clusterStats: ClusterStat[]): UrbanisedChoice {
  const stats = clusterStats.filter((c) => c.size > 0);
  if (stats.length === 0) return { urbanised: [], threshold: NaN, reason: 'no non-empty clusters' };
  const total = stats.reduce((s, c) => s + c.size, 0);
  const overall = stats.reduce((s, c) => s + c.size * c.meanGtFraction, 0) / total;
  const floor = Math.max(0.05, overall);
  const sorted = [...stats].sort((a, b) => a.meanGtFraction - b.meanGtFraction);
  // Exhaustive 1-D two-means: the cut between sorted clusters that minimises the size-weighted within-group variance.
  let bestCut = -1;
  let bestCost = Infinity;
  for (let cut = 1; cut < sorted.length; cut++) {
    let cost = 0;
    for (const group of [sorted.slice(0, cut), sorted.slice(cut)]) {
      const w = group.reduce((s, c) => s + c.size, 0);
      const m = group.reduce((s, c) => s + c.size * c.meanGtFraction, 0) / w;
      cost += group.reduce((s, c) => s + c.size * (c.meanGtFraction - m) ** 2, 0);
    }
    if (cost < bestCost) {
      bestCost = cost;
      bestCut = cut;
    }
  }
  const splitAt =
    bestCut > 0 ? (sorted[bestCut - 1].meanGtFraction + sorted[bestCut].meanGtFraction) / 2 : Infinity;
  const threshold = Math.max(splitAt, floor);
  const urbanised = sorted
    .filter((c) => c.meanGtFraction >= threshold)
    .map((c) => c.cluster)
    .sort((a, b) => a - b);
  const shares = sorted.map((c) => `${c.cluster}: ${pct(c.meanGtFraction)}`).join(', ');
  const reason =
    urbanised.length === 0
      ? `no cluster's mean building share reaches ${pct(threshold)} (max(two-means split ${pct(splitAt)}, max(5%, overall ${pct(overall)}))); shares by cluster — ${shares}`
      : `cluster(s) ${urbanised.join(', ')} have a mean building share ≥ ${pct(threshold)} = max(two-means split ${pct(splitAt)}, max(5%, overall ${pct(overall)})); shares by cluster — ${shares}`;
  return { urbanised, threshold, reason };
}
