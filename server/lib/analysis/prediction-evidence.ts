/**
 * What a tile's pixel probabilities say about the tile as a whole, beyond the share the threshold paints: how sure
 * the surest pixel is (a faint roof the threshold misses still lifts it), the mean probability, and how undecided
 * the model is overall. The same function serves the reference analysis and scoring, so a tile is described the
 * same way on both sides of the tile classifier.
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
