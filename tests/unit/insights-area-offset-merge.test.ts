/**
 * One imagery offset over neighbouring patches is one finding: neighbours whose shifts agree merge, others
 * (far apart, or shifted another way) stay apart; through the database the merged finding replaces its parts.
 */
import { describe, expect, it } from 'vitest';
import {
  mergeAreaOffsets,
  mergeRunAreaOffsets,
  type AreaOffsetItem,
} from '../../server/lib/insights/area-offset-merge.ts';
import { openDatabase } from '../../server/lib/db/client.ts';
import { saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import {
  writeLabelObjects,
  labelObjectPage,
  type LabelObjectRow,
} from '../../server/lib/db/label-objects-repo.ts';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import { registerSampleModelAndDataset, samplePatch, sampleRun } from '../fixtures/db-sample-run.ts';

const ring = (z: number, x: number, y: number): Array<[number, number]> => {
  const [w, s, e, n] = tileBounds(z, x, y);
  return [
    [w, n],
    [e, n],
    [e, s],
    [w, s],
    [w, n],
  ];
};

function tileItem(
  id: number,
  x: number,
  y: number,
  east: number,
  north: number,
  score = 0.8,
): AreaOffsetItem {
  return {
    id,
    score,
    tile: { z: 18, x, y },
    patchKey: `18-${x}-${y}`,
    dxPx: east / 0.5,
    dyPx: -north / 0.5,
    eastM: east,
    northM: north,
    members: 4,
    areaPx: 256 * 256,
    outline: ring(18, x, y),
  };
}

describe('merging area offsets', () => {
  it('merges touching tiles whose shifts agree, and keeps the rest apart', () => {
    const groups = mergeAreaOffsets([
      tileItem(0, 100, 200, 2, -1, 0.7),
      tileItem(1, 101, 200, 2.3, -1.2, 0.9),
      tileItem(2, 102, 201, 1.8, -0.8), // touches 1 at a corner
      tileItem(3, 100, 201, -2, 1), // touches 0, shifted the other way
      tileItem(4, 110, 200, 2, -1), // same shift, far away
    ]);
    const sorted = groups.map((g) => [...g.ids].sort()).sort((a, b) => a[0] - b[0]);
    expect(sorted).toEqual([[0, 1, 2], [3], [4]]);
    const big = groups.find((g) => g.ids.length === 3)!;
    expect(big.anchor).toBe(1);
    expect(big.score).toBe(0.9);
    expect(big.members).toBe(12);
    expect(big.eastM).toBeCloseTo((2 + 2.3 + 1.8) / 3, 9);
    expect(big.northM).toBeCloseTo((-1 - 1.2 - 0.8) / 3, 9);
    // The area the three tiles span: west of tile 100 to east of tile 102, north of row 200 to south of 201.
    const [w, , , n] = tileBounds(18, 100, 200);
    const [, s, e] = tileBounds(18, 102, 201);
    expect(big.outline).toEqual([
      [w, n],
      [e, n],
      [e, s],
      [w, s],
      [w, n],
    ]);
  });

  it('merges touching windows of one image, never windows of two images', () => {
    const win = (id: number, file: string, x: number, y: number, dx: number): AreaOffsetItem => ({
      id,
      score: 0.8,
      tile: null,
      patchKey: `${file}#${x},${y},256,256`,
      dxPx: dx,
      dyPx: 0,
      eastM: null,
      northM: null,
      members: 3,
      areaPx: 256 * 256,
      outline: null,
    });
    const groups = mergeAreaOffsets([
      win(0, 'a.tif', 0, 0, 4),
      win(1, 'a.tif', 256, 0, 4.5),
      win(2, 'a.tif', 768, 0, 4), // a window's gap away
      win(3, 'b.tif', 512, 0, 4), // touches 1's extent, but in another image
    ]);
    expect(groups.map((g) => [...g.ids].sort()).sort((a, b) => a[0] - b[0])).toEqual([[0, 1], [2], [3]]);
    const merged = groups.find((g) => g.ids.length === 2)!;
    expect(merged.dxPx).toBeCloseTo(4.25, 9);
    expect(merged.eastM).toBeNull();
    expect(merged.outline).toBeNull();
  });

  it('stores the merged finding once in the run, the others absorbed', async () => {
    const db = await openDatabase(':memory:');
    try {
      const ids = await registerSampleModelAndDataset(db);
      // samplePatch(i) lies at tile (140000 + i, 90000): patches 0, 1, 2 touch in a row.
      const runId = await saveAnalysisRun(db, sampleRun(ids, 4), [0, 1, 2, 3].map(samplePatch), []);
      const row = (idx: number, east: number): LabelObjectRow => ({
        idx,
        n: 0,
        kind: 'area_offset',
        score: 0.6 + idx / 10,
        areaPx: 256 * 256,
        dxPx: east / 0.5,
        dyPx: 0,
        eastM: east,
        northM: 0,
        outlinePx: [
          [0, 0],
          [256, 0],
          [256, 256],
          [0, 256],
        ],
        outline: ring(18, 140_000 + idx, 90_000),
        lon: null,
        lat: null,
        members: 5,
      });
      await writeLabelObjects(db, runId, [row(0, 2), row(1, 2.4), row(2, -3)]);
      expect(await mergeRunAreaOffsets(db, runId)).toEqual({ findings: 2, absorbed: 1 });
      const page = await labelObjectPage(db, runId, 'area_offset', 0, 10);
      expect(page.map((o) => [o.idx, o.patches, o.members])).toEqual([
        [2, 1, 5],
        [1, 2, 10],
      ]);
      expect(page[1].eastM).toBeCloseTo(2.2, 9);
      expect(page[1].outline![0]).toEqual(ring(18, 140_000, 90_000)[0]);
      expect(page[1].outline![1]).toEqual(ring(18, 140_001, 90_000)[1]);
    } finally {
      await db.close();
    }
  });
});
