import { describe, expect, it } from 'vitest';
import { createRng } from '../../server/lib/analysis/random.ts';
import { averagePrecision, labelErrorScores, precisionAtK } from '../../server/lib/insights/label-errors.ts';
import { dominantError, familiesOf } from '../../server/lib/insights/failure-families.ts';
import { emptyLatentRows, rankPercentiles, type LatentRows } from '../../server/lib/insights/latent-rows.ts';

const PIX = 256 * 256;

/**
 * A synthetic run: two look-alike groups in a 2-D latent space. Town patches (label and model agree, IoU ≈ 0.8),
 * 10 of them with a wrong label (buildings erased: the model sees them, the label does not); bare patches (both
 * empty), 10 with planted buildings the imagery lacks, and 15 look-alike "parking lots" in a corner of their own
 * where the model raises false alarms (a model error, shared by all its neighbours).
 */
function syntheticRun() {
  const rng = createRng(11);
  const kinds: string[] = [];
  for (let i = 0; i < 200; i++) kinds.push('town');
  for (let i = 0; i < 200; i++) kinds.push('bare');
  for (let i = 0; i < 15; i++) kinds.push('parking');
  for (let i = 0; i < 10; i++) kinds[i * 20] = 'town-erased';
  for (let i = 0; i < 10; i++) kinds[200 + i * 20] = 'bare-planted';
  const n = kinds.length;
  const k = 2;
  const rows: LatentRows = {
    ...emptyLatentRows(n, k),
    groups: kinds.map((kd) => kd.split('-')[0]),
    keys: kinds.map((_, i) => `p${i}`),
    hasEvidence: true,
  };
  kinds.forEach((kind, i) => {
    const [cx, cy] = kind.startsWith('town') ? [5, 0] : kind === 'parking' ? [0, 6] : [0, 0];
    rows.pcs[i * k] = cx + rng.next();
    rows.pcs[i * k + 1] = cy + rng.next();
    let tp = 0;
    let fp = 0;
    let fn = 0;
    if (kind === 'town') [tp, fp, fn] = [8000, 1000, 1000];
    if (kind === 'town-erased') [tp, fp, fn] = [0, 10000, 0];
    if (kind === 'bare-planted') [tp, fp, fn] = [0, 0, 6000];
    if (kind === 'parking') [tp, fp, fn] = [0, 5000, 0];
    rows.tp[i] = tp;
    rows.fp[i] = fp;
    rows.fn[i] = fn;
    rows.gtFraction[i] = (tp + fn) / PIX;
    rows.predFraction[i] = (tp + fp) / PIX;
    rows.iou[i] = tp + fp + fn === 0 ? Number.NaN : tp / (tp + fp + fn);
    rows.empty[i] = tp + fp + fn === 0 ? 1 : 0;
    rows.probInside[i] = tp + fn ? (kind === 'bare-planted' ? 0.03 : 0.8) : Number.NaN;
    // The model is sure of the erased town's buildings, less of the parking lots' "roofs".
    rows.probOutside[i] = fp ? (kind === 'town-erased' ? 0.95 : kind === 'parking' ? 0.7 : 0.6) : Number.NaN;
    rows.boundaryIou[i] = Number.isFinite(rows.iou[i]) ? rows.iou[i] : Number.NaN;
    rows.cluster[i] = kind.startsWith('town') ? 1 : 0;
  });
  return { rows, kinds };
}

describe('label-error scores', () => {
  it('rank planted label errors above model errors and correct patches', () => {
    const { rows, kinds } = syntheticRun();
    const r = labelErrorScores(rows, { k: 20 });
    const order = Array.from({ length: rows.n }, (_, i) => i).sort((a, b) => r.score[b] - r.score[a]);
    const planted = (i: number) => kinds[i] === 'town-erased' || kinds[i] === 'bare-planted';
    expect(precisionAtK(order, planted, 10)).toBe(1);
    expect(averagePrecision(order, planted)).toBeGreaterThan(0.95);
    expect(r.direction[0]).toBe('missing_in_label');
    expect(r.direction[200]).toBe('missing_in_image');
    // Parking lots fail like their neighbours: a small neighbour gap, so they rank below every planted error.
    const idxOf = (pred: (kd: string) => boolean) =>
      kinds
        .map((kd, i) => [kd, i] as const)
        .filter(([kd]) => pred(kd))
        .map(([, i]) => i);
    const parking = idxOf((kd) => kd === 'parking');
    const plantedIdx = idxOf((kd) => kd.includes('-'));
    expect(Math.max(...parking.map((i) => r.score[i]))).toBeLessThan(
      Math.min(...plantedIdx.map((i) => r.score[i])),
    );
    expect(Math.max(...parking.map((i) => r.neighbourGap[i]))).toBeLessThan(
      Math.min(...plantedIdx.map((i) => r.neighbourGap[i])),
    );
  });

  it('falls back to recall and precision without the evidence pass', () => {
    const { rows, kinds } = syntheticRun();
    const bare = {
      ...rows,
      probInside: rows.probInside.map(() => Number.NaN),
      probOutside: rows.probOutside.map(() => Number.NaN),
      hasEvidence: false,
    };
    const r = labelErrorScores(bare, { k: 20 });
    const order = Array.from({ length: rows.n }, (_, i) => i).sort((a, b) => r.score[b] - r.score[a]);
    expect(
      precisionAtK(order, (i) => kinds[i] !== 'town' && kinds[i] !== 'bare' && kinds[i] !== 'parking', 20),
    ).toBe(1);
  });

  it('computes precision@k and average precision as defined', () => {
    const pos = (i: number) => i % 2 === 0;
    expect(precisionAtK([0, 1, 2, 3], pos, 2)).toBe(0.5);
    // Positives at ranks 1 and 3: (1/1 + 2/3) / 2.
    expect(averagePrecision([0, 1, 2, 3], pos)).toBeCloseTo((1 + 2 / 3) / 2);
    expect(rankPercentiles([3, 1, 1, 2])).toEqual(Float64Array.from([1, 1 / 6, 1 / 6, 2 / 3]));
  });
});

describe('failure families', () => {
  it('names the dominant error by the documented rule', () => {
    expect(dominantError({ tp: 90, fp: 5, fn: 5 }, 0.9, 0.88)).toBe('none');
    expect(dominantError({ tp: 60, fp: 20, fn: 20 }, 0.6, 0.3)).toBe('boundary');
    expect(dominantError({ tp: 10, fp: 80, fn: 10 }, 0.1, 0.1)).toBe('false_alarms');
    expect(dominantError({ tp: 10, fp: 10, fn: 80 }, 0.1, 0.1)).toBe('missed_buildings');
    expect(dominantError({ tp: 0, fp: 0, fn: 0 }, null, null)).toBe('none');
  });

  it('puts the look-alike false alarms in a family of their own whose dominant error is false alarms', () => {
    const { rows, kinds } = syntheticRun();
    const { families, assignment } = familiesOf(rows, { targetFamilySize: 150 });
    const parkingFamilies = new Set(
      kinds.map((kd, i) => (kd === 'parking' ? assignment[i] : null)).filter(Boolean),
    );
    expect(parkingFamilies.size).toBe(1);
    const fam = families.find((f) => parkingFamilies.has(f.id))!;
    expect(fam.dominantError).toBe('false_alarms');
    expect(fam.groupMix.parking).toBe(15);
    expect(fam.prototypes.length).toBeGreaterThan(0);
    expect(fam.representatives.every((i) => assignment[i] === fam.id)).toBe(true);
    expect(assignment[fam.medoid]).toBe(fam.id);
    expect(fam.iouHistogram.counts.reduce((a, b) => a + b, 0)).toBe(
      fam.size - Math.round(fam.emptyShare * fam.size),
    );
  });
});
