/**
 * The whole-run and whole-project reads come in keyset pages: every row once, in order, across page
 * boundaries, and other statements run on the same connection between rows (an open better-sqlite3
 * iterator would refuse them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/lib/db/client.ts';
import { saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import { saveInsightRecord } from '../../server/lib/db/insight-records.ts';
import { PAGE_ROWS } from '../../server/lib/db/keyset-pages.ts';
import {
  projectTileComponents,
  projectTileRows,
  runPatchComponents,
  runPatchRows,
} from '../../server/lib/db/latent-repo.ts';
import {
  countProjectTiles,
  insertTileScores,
  iterateOverlayCells,
  iterateTilePairs,
  iterateVectorCells,
} from '../../server/lib/db/tile-scores-repo.ts';
import type { NewTileScore } from '../../server/lib/db/schema.ts';
import { tileToQuadkey } from '../../server/lib/geo/tiles.ts';
import { registerSampleModelAndDataset, samplePatches, sampleRun } from '../fixtures/db-sample-run.ts';
import { createSyntheticProject } from '../fixtures/synthetic-project.ts';

let db: DatabaseHandle;
let ids: { modelId: number; datasetId: number };
const PATCHES = PAGE_ROWS + 904;

beforeAll(async () => {
  db = await openDatabase(':memory:');
  ids = await registerSampleModelAndDataset(db);
});
afterAll(async () => {
  await db.close();
});

describe('a run scanned in keyset pages', () => {
  it('yields every patch once in idx order while other statements run between rows', async () => {
    const runId = await saveAnalysisRun(db, sampleRun(ids, PATCHES), samplePatches(PATCHES), []);
    const seen: number[] = [];
    for await (const row of runPatchRows(db, runId)) {
      seen.push(row[17] as number);
      // A write on the same connection in the middle of the scan, as a scoring job's would be.
      if (seen.length % 1000 === 1) {
        await saveInsightRecord(db, runId, 'evidence', {
          patches: seen.length,
          threshold: 0.5,
          objects: 0,
          seconds: 0,
        });
      }
    }
    expect(seen).toEqual(Array.from({ length: PATCHES }, (_, i) => i));
    let n = 0;
    for await (const row of runPatchComponents(db, runId)) {
      expect(row[0]).toBe(n);
      expect(row[1]).toBeCloseTo(Math.sin(n), 12);
      n++;
    }
    expect(n).toBe(PATCHES);
  });
});

describe("a project's tiles read in keyset pages", () => {
  it('yields the placed tiles in primary-key order, west to east then north to south, with their components', async () => {
    const p = await createSyntheticProject(db, { side: 2 });
    const cols = 97;
    const rows = Math.ceil((PAGE_ROWS + 500) / cols);
    const placed: NewTileScore[] = [];
    for (let j = 0; j < rows; j++) {
      for (let i = 0; i < cols; i++) {
        const x = 1000 + i;
        const y = 2000 + j;
        placed.push({
          projectId: p.projectId,
          z: 18,
          x,
          y,
          taskId: `18-${x}-${y}`,
          quadkey: tileToQuadkey(18, x, y),
          status: 'scored',
          priority: (i + j) / (cols + rows),
          tier: 'low',
          iouHat: 0.5,
          novelty: 1,
          buildingProb: 0.5,
          pcs: [i, j, i + j, 0, 0, 0, 0, 0, 0],
          jobId: p.jobId,
          runId: p.runId,
          modelId: ids.modelId,
          scoredAt: new Date(1000),
        });
      }
    }
    // Written in reverse, so that neither insertion order nor rowid gives the order asked for.
    for (let k = placed.length; k > 0; k -= 500) {
      await insertTileScores(db, placed.slice(Math.max(0, k - 500), k));
    }
    const components: Array<[number, number]> = [];
    for await (const row of projectTileComponents(db, p.projectId, 2000, 1, 2)) {
      components.push([row[0] as number, row[1] as number]);
      if (components.length === PAGE_ROWS) await countProjectTiles(db, p.projectId);
    }
    const inKeyOrder = [...placed].sort((a, b) => a.x - b.x || a.y - b.y);
    expect(components).toEqual(inKeyOrder.map((t) => [t.x - 1000, t.y - 2000]));
    const attributes: Array<[number, number]> = [];
    for await (const row of projectTileRows(db, p.projectId, 2000))
      attributes.push([row[5] as number, row[6] as number]);
    expect(attributes).toEqual(inKeyOrder.map((t) => [t.x, t.y]));
  });

  it('yields every cell of a map tile range once, and the tiles two projects share', async () => {
    const side = 70; // 4,900 tiles: more than one page
    expect(side * side).toBeGreaterThan(PAGE_ROWS);
    const a = await createSyntheticProject(db, { side });
    const b = await createSyntheticProject(db, { side });
    const whole = { minX: a.minX, maxX: a.minX + side - 1, minY: a.minY, maxY: a.minY + side - 1 };
    const keys = new Set<string>();
    for await (const c of iterateOverlayCells(db, a.projectId, 18, whole)) {
      keys.add(`${c.x}/${c.y}`);
      if (keys.size === 1) await countProjectTiles(db, b.projectId);
    }
    expect(keys.size).toBe(side * side);
    // A range narrower than the project: the rows and columns inside it, nothing else.
    const part = { minX: a.minX + 3, maxX: a.minX + 66, minY: a.minY + 5, maxY: a.minY + 69 };
    let inside = 0;
    for await (const c of iterateVectorCells(db, a.projectId, 18, part)) {
      expect(c.x >= part.minX && c.x <= part.maxX && c.y >= part.minY && c.y <= part.maxY).toBe(true);
      expect(c.taskId).toBe(`18-${c.x}-${c.y}`);
      inside++;
    }
    expect(inside).toBe(64 * 65);
    const pairs = new Set<string>();
    for await (const t of iterateTilePairs(db, a.projectId, b.projectId)) pairs.add(t.taskId);
    expect(pairs.size).toBe(side * side);
  });
});
