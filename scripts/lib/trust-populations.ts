/**
 * Synthetic regions with a known answer, for the interval and guarantee maths (tests and
 * scripts/bench/trust-sampling.ts): every tile has the model's scores and its truth.
 *
 *   good          a calibrated model; the low-score tiles hold almost no building
 *   dense         as good, in a town: 45 % of tiles lie in built-up land instead of 30 %
 *   hidden        the low-score strata hide a roof style the model never saw: 4 % of them hold buildings
 *   miscalibrated the model is badly miscalibrated for the region: it expects 15 % of empty land to hold
 *                 buildings (0.4 % does) and is unsure of the built-up tiles
 *   empty         no tile holds a building, though the model thinks some do
 */
import { createRng } from '../../server/lib/analysis/random.ts';
import { sigmoid, logit } from '../../server/lib/trust/region-calibrator.ts';
import type { TrustTile } from '../../server/lib/trust/trust-tile.ts';

export interface TruthTile extends TrustTile {
  holdsBuilding: boolean;
}

export type PopulationKind = 'good' | 'dense' | 'hidden' | 'miscalibrated' | 'empty';

export const POPULATIONS: PopulationKind[] = ['good', 'dense', 'hidden', 'miscalibrated', 'empty'];

export function population(kind: PopulationKind, n = 8000, seed = 11): TruthTile[] {
  const rng = createRng(seed);
  const tiles: TruthTile[] = [];
  const side = Math.ceil(Math.sqrt(n));
  for (let i = 0; i < n; i++) {
    // 30 % of tiles lie in built-up land (45 % in a town); elsewhere buildings are rare.
    const built = rng.next() < (kind === 'dense' ? 0.45 : 0.3);
    const q = built ? 0.55 + 0.4 * rng.next() : 0.002 + 0.004 * rng.next();
    let holds = rng.next() < q;
    let modelLogit = logit(q) + 0.4 * rng.normal();
    if (kind === 'hidden' && !built && rng.next() < 0.04) holds = true;
    if (kind === 'miscalibrated') modelLogit = 0.4 * modelLogit + 0.5;
    if (kind === 'empty') holds = false;
    const p = sigmoid(modelLogit);
    // Priority mostly follows the prediction, with a little of the latent signals' own noise.
    const priority = Math.min(1, Math.max(0, sigmoid(modelLogit + 0.3 * rng.normal())));
    const x = 150000 + (i % side);
    const y = 140000 + Math.floor(i / side);
    tiles.push({ taskId: `18-${x}-${y}`, priority, buildingProb: p, holdsBuilding: holds });
  }
  return tiles;
}

export function trueBuildingTiles(tiles: TruthTile[]): number {
  return tiles.reduce((s, t) => s + (t.holdsBuilding ? 1 : 0), 0);
}

/** True recall of "send priority ≥ threshold" at the estimator's bin resolution; 1 when nothing holds a building. */
export function trueRecall(tiles: TruthTile[], threshold: number): number {
  const edge = Math.ceil(threshold * 10_000 - 1e-7);
  let all = 0;
  let sent = 0;
  for (const t of tiles) {
    if (!t.holdsBuilding) continue;
    all++;
    if (Math.min(9999, Math.floor(t.priority * 10_000 + 1e-7)) >= edge) sent++;
  }
  return all > 0 ? sent / all : 1;
}
