import { describe, expect, it } from 'vitest';
import {
  acrossModelsLines,
  acrossModelsOf,
  priorityVsModelOutput,
  skippedShares,
  type CaseTileRow,
} from '../../scripts/bench/trust/report.ts';

function row(i: number, holdsBuilding: boolean, priority: number, predFraction: number): CaseTileRow {
  return {
    taskId: `18-${i}-0`,
    priority,
    buildingProb: priority,
    buildingProbLow: priority,
    buildingProbHigh: priority,
    predFraction,
    maxProb: predFraction,
    novelty: 0,
    noveltyRatio: 0,
    holdsBuilding,
  };
}

describe('priority against the model output in the trust benchmark', () => {
  it('reads no difference, and no interval, when both rank the tiles the same way', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => row(i, i % 3 === 0, (i % 97) / 100, (i % 97) / 100));
    const d = await priorityVsModelOutput(rows, 0.95, 100);
    expect(d.difference).toBe(0);
    expect(d.low).toBe(0);
    expect(d.high).toBe(0);
  });

  it('finds the gain when priority sees building tiles the model output paints nothing on', async () => {
    // 100 building tiles, 100 empty; the model output paints only half the building tiles, priority knows all.
    const rows = Array.from({ length: 200 }, (_, i) => {
      const building = i < 100;
      return row(i, building, building ? 0.9 : 0.1, building && i < 50 ? 0.5 : 0);
    });
    const shares = await skippedShares(rows, 0.95);
    expect(shares.priority).toBeCloseTo(0.5, 6);
    // The model output must send every unpainted tile (ties sent together) to reach 95 %: it skips nothing.
    expect(shares.modelOutput).toBe(0);
    // The oracle sends 95 of the 100 building tiles and nothing else.
    expect(shares.oracle).toBeCloseTo(105 / 200, 6);
    const d = await priorityVsModelOutput(rows, 0.95, 200, 3);
    expect(d.difference).toBeCloseTo(0.5, 6);
    expect(d.low).toBeGreaterThan(0.35);
    expect(d.high).toBeLessThanOrEqual(0.65);
    // Seeded: the same interval on a second call.
    expect(await priorityVsModelOutput(rows, 0.95, 200, 3)).toEqual(d);
  });
});

describe('the trust benchmark across reference models', () => {
  const figures = (name: string, reference: string, d95: number, d99: number, auroc: number | null) => ({
    name,
    reference,
    predictionMisses: 0.1,
    priorityVsModelOutput: {
      '0.95': { difference: d95, low: d95 - 0.02, high: d95 + 0.02 },
      '0.99': { difference: d99, low: d99 - 0.02, high: d99 + 0.02 },
    },
    noveltyAuroc: auroc,
  });

  it('keeps the figure of every model per case, in order, and leaves out cases scored against one model only', () => {
    const across = acrossModelsOf([
      figures('haze', 'A', 0.05, 0.04, 0.86),
      figures('test', 'A', 0.01, -0.003, null),
      figures('only-once', 'B', 0.2, 0.2, 0.9),
      figures('haze', 'A seed 8', 0.11, 0.09, 0.91),
      figures('test', 'A seed 8', -0.01, 0.002, null),
    ]);
    expect(across.map((a) => a.name)).toEqual(['haze', 'test']);
    const haze = across[0];
    expect(haze.models).toBe(2);
    expect(haze.priorityVsModelOutput['0.95']).toEqual([0.05, 0.11]);
    expect(haze.priorityVsModelOutput['0.99']).toEqual([0.04, 0.09]);
    expect(haze.noveltyAuroc).toEqual([0.86, 0.91]);
    expect(across[1].noveltyAuroc).toEqual([]);
    const lines = acrossModelsLines(across).join('\n');
    expect(lines).toContain('priority − model output at 95 % +5.0 / +11.0 (+5.0 to +11.0) pts');
    expect(lines).toContain('novelty AUROC 0.860 / 0.910 (0.860 to 0.910)');
    expect(lines).toContain('at 99 % -0.3 / +0.2 (-0.3 to +0.2) pts');
  });
});
