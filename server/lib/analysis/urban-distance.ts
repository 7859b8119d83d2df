/**
 * Latent distance to the urbanised clusters: how far a tile's PCs lie from the nearest settlement-like cluster
 * centroid, and the unit that makes it readable (the median distance of the reference patches: 1 = as far from a
 * settlement as a typical training tile).
 */
/** Distance of each row of `pcs` (n × k) to the nearest of `centroids` (each of at most k values). */
export function urbanDistances(pcs: Float32Array, n: number, k: number, centroids: number[][]): Float32Array {
  const out = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let best = Infinity;
    for (const c of centroids) {
      let s = 0;
      for (let j = 0; j < c.length; j++) {
        const t = pcs[r * k + j] - c[j];
        s += t * t;
      }
      if (s < best) best = s;
    }
    out[r] = Math.sqrt(best);
  }
  return out;
}

/** The median of a set of distances, the unit of urban_distance_scaled (1 when there is nothing to measure). */
export function medianDistance(distances: ArrayLike<number>): number {
  const sorted = Float64Array.from(distances).sort();
  const median = sorted.length > 0 ? sorted[sorted.length >> 1] : 1;
  return median > 0 ? median : 1;
}
