/**
 * What a tile's pixel probabilities say about the tile as a whole, beyond the share the threshold paints: how sure
 * the surest pixel is (a faint roof the threshold misses still lifts it), the mean probability, and how undecided
 * the model is overall. The same function serves the reference analysis and scoring, so a tile is described the
 * same way on both sides of the tile classifier.
 *
 * A second look at the mirrored tile (test-time augmentation) adds how far the model disagrees with itself: where
 * a roof is half seen — hazy, coarse or a style the model never learnt — the mirror image is painted differently,
 * while clear roofs and clear ground are painted the same both ways.
 */
export interface PredictionEvidence {
  maxProb: number;
  meanProb: number;
  /** Mean of 4·p·(1 − p): 0 where every pixel is 0 or 1, 1 where every pixel is ½. */
  uncertainty: number;
}

export function predictionEvidence(probs: ArrayLike<number>): PredictionEvidence {
  let max = 0;
  let sum = 0;
  let undecided = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (p > max) max = p;
    sum += p;
    undecided += 4 * p * (1 - p);
  }
  const n = Math.max(1, probs.length);
  return { maxProb: max, meanProb: sum / n, uncertainty: undecided / n };
}

/** `n` RGB tiles (HWC, `width` × `height`, one after another) mirrored left to right, into a new batch. */
export function mirrorTiles(batch: Uint8Array, n: number, width: number, height: number): Uint8Array {
  const row = width * 3;
  if (batch.length !== n * height * row)
    throw new RangeError(`mirrorTiles: ${batch.length} bytes are not ${n} tiles of ${width}×${height} RGB`);
  const out = new Uint8Array(batch.length);
  for (let t = 0; t < n; t++) {
    for (let y = 0; y < height; y++) {
      const base = (t * height + y) * row;
      for (let x = 0; x < width; x++) {
        const src = base + x * 3;
        const dst = base + (width - 1 - x) * 3;
        out[dst] = batch[src];
        out[dst + 1] = batch[src + 1];
        out[dst + 2] = batch[src + 2];
      }
    }
  }
  return out;
}

/**
 * Mean squared difference between a tile's probabilities and those of its mirror image, mirrored back
 * (`width` × `height`, the model's output size): 0 where the model paints the tile the same both ways.
 */
export function mirrorDisagreement(
  probs: ArrayLike<number>,
  mirrored: ArrayLike<number>,
  width: number,
  height: number,
): number {
  if (probs.length !== width * height || mirrored.length !== width * height)
    throw new RangeError(`mirrorDisagreement: planes must hold ${width}×${height} probabilities`);
  let sum = 0;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) {
      const d = probs[base + x] - mirrored[base + width - 1 - x];
      sum += d * d;
    }
  }
  return sum / Math.max(1, width * height);
}
