/**
 * The repositories written once run against both stores: an in-memory SQLite store and a database on a local
 * Postgres server. Bulk tile writes are idempotent on project + z/x/y, keyset pages are complete and in
 * order (tiles, patches, the review queue, label objects, mapped tiles, fAIr polygons), a job's progress adds
 * up when batches race, transactions roll back on error, a sample, label or fAIr import that breaks a rule
 * leaves nothing — and the same writes give the same rows out of either store. Opening a Postgres database refuses, with the reason and changing
 * nothing, a server that does not answer, a schema newer than the code's, one older when told not to
 * migrate, and a URL that is neither a database nor a file.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatabaseOpenError,
  inTransaction,
  openDatabase,
  ping,
  readConsistently,
  type DatabaseHandle,
} from '../../server/lib/db/client.ts';
import { getRun, iteratePatchKeys, listRuns } from '../../server/lib/db/analysis-repo.ts';
import {
  countFairObjects,
  fairSignalsByTier,
  fairTileSignalRows,
  getFairImport,
  insertFairImport,
  iterateFairObjects,
  listFairImports,
} from '../../server/lib/db/fair-repo.ts';
import { getInsightRecord } from '../../server/lib/db/insight-records.ts';
import type { SampleDesign } from '../../server/lib/db/json.ts';
import {
  clearLabelObjects,
  countLabelObjects,
  iterateLabelObjects,
  labelObjectPage,
  listAreaOffsets,
  writeAreaOffsetMerges,
  writeLabelObjects,
  type LabelObjectRow,
} from '../../server/lib/db/label-objects-repo.ts';
import {
  clearPatchEvidence,
  insightRunShape,
  iterateInsightPatches,
  readPatchIntervals,
  replacePatchIntervals,
  writePatchEvidence,
} from '../../server/lib/db/patch-insights-repo.ts';
import {
  getPublication,
  insertPublication,
  knownRemoteIds,
  listPublications,
  setPublicationStatus,
  unfinishedPublication,
  updatePublishedProject,
} from '../../server/lib/db/publish-repo.ts';
import {
  countLabelErrorScores,
  iterateReviewRows,
  nearestUnmarkedRank,
  replaceLabelErrorScores,
  reviewRowAt,
  reviewRows,
  upsertReviewMark,
} from '../../server/lib/db/review-repo.ts';
import {
  countLabels,
  getSampleRow,
  insertSample,
  latestSampleId,
  listSamples,
  projectTilesAmong,
  sampleLabels,
  sampleRects,
  sampleTileRows,
  storeLabels,
  tilesWithMappingLabels,
} from '../../server/lib/db/trust-repo.ts';
import { PAGE_ROWS } from '../../server/lib/db/keyset-pages.ts';
import {
  countRunPatches,
  getStoredColumns,
  projectTileComponents,
  projectTileRows,
  projectTileStats,
  putStoredColumns,
  runPatchComponents,
  runPatchRows,
  runPatchStats,
} from '../../server/lib/db/latent-repo.ts';
import { getJob, queueJob, storeBatch } from '../../server/lib/db/jobs-repo.ts';
import { deleteProject, getProject, insertProject, listProjects } from '../../server/lib/db/projects-repo.ts';
import type { NewTileScore } from '../../server/lib/db/schema.ts';
import {
  countProjectTiles,
  countTileStatuses,
  getTileScore,
  insertTileScores,
  isTileStored,
  iterateOverlayCells,
  iterateTilePairs,
  iterateTileScores,
  iterateVectorCells,
  replaceFailedTileScores,
  retryableTiles,
} from '../../server/lib/db/tile-scores-repo.ts';
import { tileToQuadkey } from '../../server/lib/geo/tiles.ts';
import { collect } from '../fixtures/collect.ts';
import { dialectStores, DIALECTS } from '../fixtures/dialect-stores.ts';
import { createSyntheticProject, type SyntheticProject } from '../fixtures/synthetic-project.ts';

const stores = dialectStores();
afterAll(async () => {
  await stores.stop();
});

/** A project with one tile of its own, for the tests to write theirs beside. */
const newProject = (db: DatabaseHandle, name = 'p') =>
  createSyntheticProject(db, { side: 1, latentColumns: 'lazy', origin: { x: 10, y: 10 }, name });

/**
 * Deterministic rows of a `cols` × `rows` block at (x0, y0): every kind of column a tile row has (JSON,
 * timestamps, nulls, enums), so a round trip through either store shows any value it changes.
 */
function tileRows(
  p: SyntheticProject,
  modelId: number,
  x0: number,
  y0: number,
  cols: number,
  rows: number,
): NewTileScore[] {
  const out: NewTileScore[] = [];
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < cols; i++) {
      const x = x0 + i;
      const y = y0 + j;
      const k = i * 31 + j * 17;
      const failed = k % 11 === 0;
      out.push({
        projectId: p.projectId,
        z: 18,
        x,
        y,
        taskId: `18-${x}-${y}`,
        quadkey: tileToQuadkey(18, x, y),
        status: failed ? 'failed' : 'scored',
        error: failed ? 'imagery server answered 503' : null,
        attempts: 1,
        buildingProb: failed ? null : (k % 97) / 97,
        iouHat: failed ? null : (k % 89) / 89,
        iouLow: failed ? null : (k % 89) / 89 - 0.1,
        iouHigh: failed ? null : (k % 89) / 89 + 0.1,
        novelty: failed ? null : (k % 13) / 3,
        // Ties on purpose, so the priority order must fall back on the position.
        priority: (k % 7) / 7,
        tier: (['high', 'medium', 'low', 'skip'] as const)[k % 4],
        pcs: failed ? null : [i / 10, -j / 10, 0.5, 0, 0, 0, 0, 0, k],
        footprints:
          k % 5 === 0
            ? {
                type: 'MultiPolygon',
                coordinates: [
                  [
                    [
                      [x, y],
                      [x + 1, y],
                      [x, y + 1],
                      [x, y],
                    ],
                  ],
                ],
              }
            : null,
        jobId: p.jobId,
        runId: p.runId,
        modelId,
        scoredAt: new Date(1_700_000_000_000 + k),
      });
    }
  }
  return out;
}

/** `tileRows` of the project's own model. */
async function rowsFor(
  db: DatabaseHandle,
  p: SyntheticProject,
  x0: number,
  y0: number,
  cols: number,
  rows: number,
) {
  return tileRows(p, (await getRun(db, p.runId))!.modelId, x0, y0, cols, rows);
}

describe.each(DIALECTS)('the repositories on %s', (dialect) => {
  let db: DatabaseHandle;
  beforeAll(async () => {
    db = await stores.open(dialect);
  });

  it('answers a ping, and keeps projects, imagery and runs', async () => {
    await ping(db);
    expect(db.dialect).toBe(dialect);
    const p = await newProject(db, 'kept');
    expect((await getProject(db, p.projectId))?.name).toBe('kept');
    expect((await listProjects(db)).map((x) => x.id)).toContain(p.projectId);
    const run = (await getRun(db, p.runId))!;
    expect(run.patchCount).toBe(64);
    const keys = await collect(iteratePatchKeys(db, p.runId));
    expect(keys.map((k) => k.idx)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    await deleteProject(db, p.projectId);
    expect(await getProject(db, p.projectId)).toBeUndefined();
    // Its tiles went with it.
    expect(await countProjectTiles(db, p.projectId)).toBe(0);
  });

  it('writes a bulk of tiles once: a second write of the same project + z/x/y changes nothing', async () => {
    const p = await newProject(db);
    const rows = await rowsFor(db, p, 1000, 2000, 60, 45); // 2,700 rows: several statements
    expect(await insertTileScores(db, rows)).toBe(rows.length);
    const changed = rows.map((r) => ({ ...r, priority: 0.99, tier: 'high' as const }));
    expect(await insertTileScores(db, changed)).toBe(0);
    expect(await countProjectTiles(db, p.projectId)).toBe(rows.length + 1);
    // First write wins, every value as written.
    for (const row of [rows[0], rows[11], rows[1234], rows[rows.length - 1]]) {
      const stored = await getTileScore(db, p.projectId, 18, row.x, row.y);
      expect(stored).toMatchObject({ ...row, modelId: row.modelId });
      expect(stored!.scoredAt).toEqual(row.scoredAt);
    }
    expect(await isTileStored(db, p.projectId, 18, 1000, 2000)).toBe(true);
    expect(await isTileStored(db, p.projectId, 18, 999, 2000)).toBe(false);
    const statuses = await countTileStatuses(db, p.projectId);
    expect(statuses.get('failed')).toBe(rows.filter((r) => r.status === 'failed').length);
    expect(typeof statuses.get('scored')).toBe('number');
  });

  it('pages a project completely and in order, by position and by priority', async () => {
    const p = await newProject(db);
    const rows = await rowsFor(db, p, 3000, 5000, 40, 30); // 1,200 rows: more than two pages of 500
    // Written in reverse, so neither insertion order nor a row id gives the order asked for.
    await insertTileScores(db, [...rows].reverse());
    const byPosition = (
      await collect(
        iterateTileScores(db, p.projectId, { range: { minX: 3000, maxX: 3039, minY: 5000, maxY: 5029 } }),
      )
    ).map((t) => `${t.y}/${t.x}`);
    expect(byPosition).toEqual([...rows].sort((a, b) => a.y - b.y || a.x - b.x).map((t) => `${t.y}/${t.x}`));
    const byPriority = await collect(iterateTileScores(db, p.projectId, { orderBy: 'priority' }));
    expect(byPriority).toHaveLength(rows.length + 1);
    for (let i = 1; i < byPriority.length; i++) {
      const [a, b] = [byPriority[i - 1], byPriority[i]];
      expect(
        a.priority > b.priority || (a.priority === b.priority && (a.y < b.y || (a.y === b.y && a.x < b.x))),
      ).toBe(true);
    }
    // Map-tile cells: a range inside the block, more rows than one keyset page.
    const r = { minX: 3001, maxX: 3038, minY: 5002, maxY: 5029 };
    const cells = await collect(iterateOverlayCells(db, p.projectId, 18, r));
    expect(cells).toHaveLength(38 * 28);
    expect(cells.map((c) => `${c.x}/${c.y}`)).toEqual(
      rows
        .filter((t) => t.x >= r.minX && t.x <= r.maxX && t.y >= r.minY && t.y <= r.maxY)
        .sort((a, b) => a.x - b.x || a.y - b.y)
        .map((t) => `${t.x}/${t.y}`),
    );
    const vectors = await collect(iterateVectorCells(db, p.projectId, 18, r));
    const written = new Map(rows.map((t) => [t.taskId, t]));
    for (const v of vectors) expect(v.footprints).toEqual(written.get(v.taskId)!.footprints);
    // Two projects over the same tiles.
    const q = await newProject(db);
    await insertTileScores(
      db,
      (await rowsFor(db, q, 3020, 5000, 40, 30)).map((t) => ({ ...t, priority: 1 - t.priority })),
    );
    const pairs = await collect(iterateTilePairs(db, p.projectId, q.projectId));
    expect(pairs).toHaveLength(20 * 30 + 1); // the overlap, and the one tile both fixtures placed
    expect(pairs.every((t) => t.x >= 3020 || t.x === 10)).toBe(true);
  });

  it("scans a run's patches in keyset pages, every one once and in idx order", async () => {
    const n = PAGE_ROWS + 321;
    const p = await createSyntheticProject(db, { side: 1, latentColumns: 'lazy', runPatches: n });
    expect(await countRunPatches(db, p.runId)).toBe(n);
    const idx: number[] = [];
    for await (const row of runPatchRows(db, p.runId)) {
      idx.push(row[17] as number);
      // Other statements between rows, as a scoring job's writes would be.
      if (idx.length % 1000 === 1) await countProjectTiles(db, p.projectId);
    }
    expect(idx).toEqual(Array.from({ length: n }, (_, i) => i));
    let k = 0;
    for await (const row of runPatchComponents(db, p.runId)) expect(row[0]).toBe(k++);
    expect(k).toBe(n);
  });

  it('replaces failed rows on a retry, adding its reads; a scored tile keeps its row', async () => {
    const p = await newProject(db);
    const rows = await rowsFor(db, p, 7000, 7000, 12, 12);
    await insertTileScores(db, rows);
    const failed = rows.filter((r) => r.status === 'failed');
    expect(failed.length).toBeGreaterThan(3);
    const retryJob = await queueJob(
      db,
      { projectId: p.projectId, mode: 'retry', total: failed.length, batchSize: 4 },
      [],
    );
    expect((await collect(retryableTiles(db, p.projectId, retryJob.id))).length).toBe(failed.length);
    const healed = failed.map((r) => ({
      ...r,
      status: 'scored' as const,
      error: null,
      iouHat: 0.5,
      attempts: 2,
      jobId: retryJob.id,
    }));
    const scored = rows.find((r) => r.status === 'scored')!;
    const again = { ...scored, iouHat: 0.123, jobId: retryJob.id };
    expect(await replaceFailedTileScores(db, [...healed, again])).toBe(failed.length);
    const one = (await getTileScore(db, p.projectId, 18, failed[0].x, failed[0].y))!;
    expect(one).toMatchObject({ status: 'scored', error: null, iouHat: 0.5, attempts: 3 });
    expect((await getTileScore(db, p.projectId, 18, scored.x, scored.y))!.iouHat).toBe(scored.iouHat);
    expect(await collect(retryableTiles(db, p.projectId, retryJob.id))).toEqual([]);
  });

  it("adds up a job's batches, also when they are stored at the same time", async () => {
    const p = await newProject(db);
    const job = await queueJob(db, { projectId: p.projectId, mode: 'score', total: 401, batchSize: 50 }, [
      p.jobId,
    ]);
    // Progress starts at the tile already stored; the older job is closed.
    expect(job).toMatchObject({ status: 'queued', done: 1 });
    expect((await getJob(db, p.jobId))!.status).toBe('failed');
    const rows = (await rowsFor(db, p, 100, 100, 50, 8)).map((r) => ({ ...r, jobId: job.id }));
    const batches = Array.from({ length: 8 }, (_, k) => rows.slice(k * 50, k * 50 + 50));
    await Promise.all(batches.map((b) => storeBatch(db, job.id, b)));
    const done = (await getJob(db, job.id))!;
    expect(done.done).toBe(401);
    expect(done.failed).toBe(job.failed + rows.filter((r) => r.status !== 'scored').length);
    // A batch stored twice (a worker that died before it could say so) is recounted, not added again.
    await storeBatch(db, job.id, batches[3]);
    expect((await getJob(db, job.id))!.done).toBe(401);
  });

  it('rolls a transaction back when its body throws, and a nested one alone', async () => {
    const p = await newProject(db);
    const before = await countProjectTiles(db, p.projectId);
    const rows = await rowsFor(db, p, 500, 500, 10, 10);
    await expect(
      inTransaction(db, async (tx) => {
        await insertTileScores(tx, rows.slice(0, 50));
        throw new Error('the body failed');
      }),
    ).rejects.toThrow('the body failed');
    expect(await countProjectTiles(db, p.projectId)).toBe(before);
    await inTransaction(db, async (tx) => {
      await insertTileScores(tx, rows.slice(0, 50));
      // Nested, even through the outer handle: a savepoint of the open transaction.
      await expect(
        inTransaction(db, async (inner) => {
          await insertTileScores(inner, rows.slice(50));
          throw new Error('the nested body failed');
        }),
      ).rejects.toThrow('the nested body failed');
    });
    expect(await countProjectTiles(db, p.projectId)).toBe(before + 50);
    const counted = await readConsistently(db, async (tx) => countProjectTiles(tx, p.projectId));
    expect(counted).toBe(before + 50);
  });

  it.runIf(dialect === 'postgres')(
    'reads one snapshot in readConsistently while another connection writes',
    async () => {
      const p = await newProject(db);
      const rows = await rowsFor(db, p, 600, 600, 10, 10);
      await insertTileScores(db, rows.slice(0, 40));
      const seen = await readConsistently(db, async (tx) => {
        const first = await countProjectTiles(tx, p.projectId);
        await insertTileScores(db, rows.slice(40)); // committed on another pooled connection
        return [first, await countProjectTiles(tx, p.projectId)];
      });
      expect(seen).toEqual([41, 41]);
      expect(await countProjectTiles(db, p.projectId)).toBe(101);
    },
  );
});

describe('the same writes into both stores', () => {
  it('give the same rows, pages and pairs out of either', async () => {
    const out: Record<string, unknown> = {};
    for (const dialect of DIALECTS) {
      const db = await stores.open(dialect);
      const a = await newProject(db, 'a');
      const b = await newProject(db, 'b');
      const rows = await rowsFor(db, a, 200, 300, 30, 25);
      await insertTileScores(db, rows);
      await insertTileScores(db, rows.slice(100, 400)); // again: nothing changes
      await insertTileScores(
        db,
        (await rowsFor(db, b, 210, 300, 30, 25)).map((t) => ({ ...t, priority: t.priority / 2 })),
      );
      const healed = rows
        .filter((r) => r.status === 'failed')
        .slice(0, 5)
        .map((r) => ({ ...r, status: 'scored' as const, error: null, iouHat: 0.25 }));
      await replaceFailedTileScores(db, healed);
      out[dialect] = {
        // The fixture's own tile and run carry the clock's time of writing: left out.
        tiles: (await collect(iterateTileScores(db, a.projectId))).filter((t) => t.x !== 10),
        byPriority: (await collect(iterateTileScores(db, a.projectId, { orderBy: 'priority' }))).map(
          (t) => t.taskId,
        ),
        cells: await collect(
          iterateVectorCells(db, a.projectId, 18, { minX: 0, maxX: 1e6, minY: 0, maxY: 1e6 }),
        ),
        pairs: await collect(iterateTilePairs(db, a.projectId, b.projectId)),
        statuses: [...(await countTileStatuses(db, a.projectId))].sort(),
        run: { ...(await getRun(db, a.runId)), createdAt: undefined },
        patchStats: await runPatchStats(db, a.runId),
        patchRows: await collect(runPatchRows(db, a.runId)),
      };
    }
    const { sqlite, postgres } = out as Record<string, { tiles: unknown[] }>;
    expect(sqlite.tiles.length).toBe(30 * 25);
    expect(postgres).toEqual(sqlite);
  });
});

// ── the insight, review, label-object, trust, publishing and fAIr repositories ─────────────────────

/** Deterministic label objects of a run's first `patches` patches: every kind, tied scores, JSON outlines. */
function labelObjectRows(patches: number, perPatch: number): LabelObjectRow[] {
  const rows: LabelObjectRow[] = [];
  for (let idx = 0; idx < patches; idx++) {
    for (let n = 0; n < perPatch; n++) {
      const k = idx * 7 + n * 3;
      const kind = (['phantom', 'missing', 'offset'] as const)[k % 3];
      rows.push({
        idx,
        n,
        kind,
        // Ten distinct scores: ties everywhere, so the order must fall back on (idx, n).
        score: (k % 10) / 10,
        areaPx: 100 + k,
        dxPx: kind === 'offset' ? (k % 5) - 2 : null,
        dyPx: kind === 'offset' ? (k % 3) - 1 : null,
        eastM: null,
        northM: null,
        outlinePx: [
          [k % 64, 0],
          [64, k % 64],
          [0, 64],
        ],
        outline: k % 2 === 0 ? [[30 + idx / 1000, -10 - n / 1000]] : null,
        lon: k % 2 === 0 ? 30 + idx / 1000 : null,
        lat: k % 2 === 0 ? -10 - n / 1000 : null,
        members: null,
      });
    }
  }
  return rows;
}

const sampleDesign = (seed: number): SampleDesign => ({
  method: 'stratified-srswor',
  seed,
  size: 6,
  priorityBins: 10,
  floorRate: 0.05,
  minPerStratum: 1,
  tiles: 100,
  keptApart: 0,
  strata: [
    {
      index: 0,
      binLow: 0,
      binHigh: 10,
      low: 0,
      high: 1,
      tiles: 100,
      size: 6,
      inclusionProb: 0.06,
      meanBuildingProb: 0.4,
    },
  ],
});

/**
 * The same writes through every repository ported from SQLite-only, and everything they read back, with
 * what carries the clock's time of writing left out.
 */
async function insightTrustRoundTrip(db: DatabaseHandle) {
  const p = await createSyntheticProject(db, {
    side: 6,
    latentColumns: 'lazy',
    origin: { x: 4000, y: 4000 },
    name: 'round trip',
  });
  const out: Record<string, unknown> = {};
  const noClock = <T extends object>(row: T) => ({ ...row, createdAt: undefined, updatedAt: undefined }) as T;

  // Runs, with values read out of their JSON.
  // (The fixture names its model and dataset after the clock too.)
  out.runs = (await listRuns(db)).map((r) => ({
    ...noClock(r),
    modelName: undefined,
    datasetName: undefined,
  }));

  // The latent view: stored columns, and the placed tiles of a project written with components.
  const body = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
  const header = { format: 'tilelens-columns/1', rows: 100, columns: [], meta: { k: 1 }, bodyBytes: 300 };
  expect(await putStoredColumns(db, p.runId, [{ name: 'a', columns: { header, body } }], 1)).toBe(true);
  expect(
    await putStoredColumns(db, p.runId, [{ name: 'a', columns: { header, body: body.slice(1) } }], 2),
  ).toBe(true);
  out.storedV1 = [...(await getStoredColumns(db, p.runId, ['a', 'b'], 1))];
  const stored = await getStoredColumns(db, p.runId, ['a', 'b'], 2);
  out.stored = [...stored].map(([name, c]) => [name, c.header, [...c.body]]);
  const placed = await rowsFor(db, p, 4100, 4100, 12, 8);
  await insertTileScores(db, placed);
  const asOf = 1_700_000_000_000 + 1000;
  out.placedStats = await projectTileStats(db, p.projectId, asOf);
  expect(out.placedStats).toMatchObject({ n: placed.filter((t) => t.pcs !== null).length, minX: 4100 });
  out.placedComponents = await collect(projectTileComponents(db, p.projectId, asOf, 2, 9));
  out.placedRows = await collect(projectTileRows(db, p.projectId, asOf));

  // Patch insights: evidence replaced per patch, intervals replaced per run.
  await clearPatchEvidence(db, p.runId);
  await writePatchEvidence(
    db,
    p.runId,
    Array.from({ length: 40 }, (_, idx) => ({
      idx,
      probInside: idx % 4 === 0 ? null : idx / 40,
      probOutside: idx / 80,
      boundaryIou: idx % 3 === 0 ? null : 1 - idx / 40,
    })),
  );
  await writePatchEvidence(db, p.runId, [{ idx: 5, probInside: 0.5, probOutside: null, boundaryIou: 0.25 }]);
  const intervals = Array.from({ length: 64 }, (_, idx) => ({ idx, iouLow: idx / 100, iouHigh: idx / 50 }));
  await replacePatchIntervals(db, p.runId, intervals.slice(0, 10), { alpha: 0.2 });
  await replacePatchIntervals(db, p.runId, intervals, { alpha: 0.1 });
  out.intervals = await readPatchIntervals(db, p.runId);
  out.confidenceRecord = await getInsightRecord(db, p.runId, 'confidence');
  out.shape = await insightRunShape(db, p.runId);
  out.insightPatches = await collect(iterateInsightPatches(db, p.runId, 9));

  // The review queue and its marks.
  const scores = Array.from({ length: 64 }, (_, i) => ({
    idx: (i * 13) % 64,
    score: 1 - i / 64,
    rank: i + 1,
    disagreement: i / 64,
    neighbourGap: (i % 5) / 5,
    direction: (['missing_in_image', 'missing_in_label', 'none'] as const)[i % 3],
  }));
  await replaceLabelErrorScores(db, p.runId, scores, { version: 1 });
  await upsertReviewMark(db, p.runId, scores[0].idx, 'unsure', null);
  await upsertReviewMark(db, p.runId, scores[0].idx, 'label_wrong', 'a shed, not a house');
  await upsertReviewMark(db, p.runId, scores[1].idx, 'model_wrong', null);
  await upsertReviewMark(db, p.runId, scores[40].idx, 'label_wrong', 'far down the queue');
  out.reviewCount = await countLabelErrorScores(db, p.runId);
  out.reviewAt = await reviewRowAt(db, p.runId, 1);
  out.reviewMissing = (await reviewRowAt(db, p.runId, 65)) ?? null;
  out.unmarked = [
    await nearestUnmarkedRank(db, p.runId, 1, 'next'),
    await nearestUnmarkedRank(db, p.runId, 3, 'previous'),
    await nearestUnmarkedRank(db, p.runId, 1, 'previous'),
  ];
  out.reviewPage = await reviewRows(db, p.runId, 10, 5);
  out.reviewExport = await collect(iterateReviewRows(db, p.runId, 3, ['label_wrong']));
  out.labelErrorsRecord = await getInsightRecord(db, p.runId, 'label_errors');

  // Label objects, with an area offset merged into its neighbour's.
  await clearLabelObjects(db, p.runId);
  const objects = labelObjectRows(20, 3);
  await writeLabelObjects(db, p.runId, objects);
  await writeLabelObjects(db, p.runId, [{ ...objects[4], score: 0.95 }]); // replaced, not added
  const area = (idx: number): LabelObjectRow => ({
    idx,
    n: 9,
    kind: 'area_offset',
    score: 0.8,
    areaPx: 4096,
    dxPx: 3,
    dyPx: -2,
    eastM: 0.9,
    northM: 0.6,
    outlinePx: [
      [0, 0],
      [64, 0],
      [64, 64],
    ],
    outline: null,
    lon: null,
    lat: null,
    members: 4,
  });
  await writeLabelObjects(db, p.runId, [area(30), area(31)]);
  await writeAreaOffsetMerges(db, p.runId, [
    {
      anchor: { idx: 30, n: 9 },
      absorbed: [{ idx: 31, n: 9 }],
      dxPx: 3.5,
      dyPx: -2,
      eastM: 1,
      northM: 0.6,
      members: 8,
      areaPx: 8192,
      outline: [
        [30, -10],
        [30.1, -10],
        [30, -10],
      ],
      lon: 30.05,
      lat: null,
      patches: 2,
    },
  ]);
  out.objectCounts = await countLabelObjects(db, p.runId);
  out.objectPage = await labelObjectPage(db, p.runId, 'phantom', 3, 5);
  out.objects = await collect(iterateLabelObjects(db, p.runId, 'offset'));
  out.areaOffsets = await listAreaOffsets(db, p.runId);

  // Trust: a sample, answers to it and the mapping's, and the tiles with their mapping labels.
  const tiles = Array.from({ length: 6 }, (_, i) => ({
    z: 18,
    x: 4000 + i,
    y: 4000 + (i % 2),
    taskId: `18-${4000 + i}-${4000 + (i % 2)}`,
    stratum: 0,
    inclusionProb: 0.06,
    priority: i / 6,
    buildingProb: 1 - i / 6,
  }));
  const sampleId = await insertSample(
    db,
    p.projectId,
    sampleDesign(3),
    [{ x0: 4000, x1: 4005, y0: 4000, y1: 4001 }],
    tiles,
  );
  const answer = (i: number, label: 'building' | 'no_building' | 'bad_imagery') => ({
    z: 18,
    x: tiles[i].x,
    y: tiles[i].y,
    taskId: tiles[i].taskId,
    label,
    yesCount: label === 'building' ? 3 : 0,
    noCount: label === 'no_building' ? 3 : 0,
    maybeCount: 0,
    badCount: label === 'bad_imagery' ? 2 : 0,
    agreement: 0.75,
  });
  const imp = { projectId: p.projectId, source: 'mapswipe-csv' as const, rows: 3, outside: 0 };
  await storeLabels(db, { ...imp, purpose: 'sample', mapswipeProjectId: '-Nsample' }, [
    answer(0, 'building'),
    answer(1, 'no_building'),
  ]);
  await storeLabels(db, { ...imp, purpose: 'sample' }, [answer(1, 'building')]); // replaces tile 1's answer
  await storeLabels(db, { ...imp, purpose: 'mapping' }, [
    answer(1, 'no_building'),
    answer(2, 'bad_imagery'),
    answer(3, 'building'),
  ]);
  out.sample = noClock((await getSampleRow(db, sampleId))!);
  out.sampleTiles = await sampleTileRows(db, sampleId);
  out.latestSample = await latestSampleId(db, p.projectId);
  out.samples = (await listSamples(db, p.projectId)).map(noClock);
  out.sampleRects = await sampleRects(db, p.projectId);
  out.sampleLabels = [...(await sampleLabels(db, p.projectId, sampleId))].sort();
  out.among = [
    ...(await projectTilesAmong(db, p.projectId, [
      ...tiles,
      { z: 18, x: 1, y: 1 },
      { z: 17, x: 4000, y: 4000 },
    ])),
  ].sort();
  out.labelCounts = [
    await countLabels(db, p.projectId, 'sample'),
    await countLabels(db, p.projectId, 'mapping'),
  ];
  out.mapped = await collect(tilesWithMappingLabels(db, p.projectId));

  // Publishing: a publication, its projects' steps and statuses.
  const pubId = await insertPublication(db, {
    projectId: p.projectId,
    target: 'mapswipe',
    baseUrl: 'https://mapswipe.example',
    request: { tiers: ['high'], nested: { a: [1, 2] } },
    projects: [
      { key: 'find-high', kind: 'find', clientId: 'c-1', spec: { tier: 'high' } },
      { key: 'validate', kind: 'validate', clientId: 'c-2', assetClientId: 'a-2', spec: { n: 2 } },
    ],
  });
  await updatePublishedProject(db, pubId, 'find-high', { stage: 'created', remoteId: 'remote-1' });
  await updatePublishedProject(db, pubId, 'validate', {
    remoteStatus: 'draft',
    polledAt: new Date(1_700_000_000_123),
  });
  out.unfinished = noClock((await unfinishedPublication(db, p.projectId, 'mapswipe'))!);
  await setPublicationStatus(db, pubId, 'done');
  out.unfinishedAfter = (await unfinishedPublication(db, p.projectId, 'mapswipe')) ?? null;
  const published = (await listPublications(db, p.projectId)).map((r) => ({
    publication: noClock(r.publication),
    projects: r.projects.map(noClock),
  }));
  out.publications = published;
  out.remoteIds = [...(await knownRemoteIds(db, 'mapswipe'))];
  out.noPublication = (await getPublication(db, pubId + 1000)) ?? null;

  // fAIr: polygons filed under tiles, their per-tile signal, and the tiles' tiers.
  const predictions = Array.from({ length: 30 }, (_, idx) => {
    const x = 4000 + (idx % 7);
    const y = 4000 + (idx % 3);
    return {
      idx,
      z: 18,
      x,
      y,
      taskId: `18-${x}-${y}`,
      confidence: idx % 4 === 0 ? null : (idx % 10) / 10,
      geometry: {
        type: 'Polygon' as const,
        coordinates: [
          [
            [x, y],
            [x + 0.5, y],
            [x, y + 0.5],
            [x, y],
          ],
        ],
      },
    };
  });
  const importId = await insertFairImport(
    db,
    { projectId: p.projectId, name: 'fair.geojson', features: 32 },
    predictions,
  );
  out.fairImport = noClock((await getFairImport(db, importId))!);
  out.fairImports = (await listFairImports(db, p.projectId)).map(noClock);
  out.fairSignals = await fairTileSignalRows(db, importId);
  out.fairTiers = await fairSignalsByTier(db, importId, p.projectId);
  out.fairObjects = await collect(iterateFairObjects(db, p.projectId, importId));
  out.fairCount = await countFairObjects(db, importId);
  return out;
}

describe.each(DIALECTS)('the insight, review, trust, publishing and fAIr repositories on %s', (dialect) => {
  let db: DatabaseHandle;
  beforeAll(async () => {
    db = await stores.open(dialect);
  });

  it('pages the review queue, label objects, mapped tiles and fAIr polygons completely and in order', async () => {
    const n = PAGE_ROWS + 57;
    const p = await createSyntheticProject(db, {
      side: 40,
      latentColumns: 'lazy',
      runPatches: n,
      origin: { x: 9000, y: 9000 },
    });
    // The review queue over more than a page, with marks deep in it.
    const scores = Array.from({ length: n }, (_, i) => ({
      idx: (i * 7919) % n,
      score: 1 - i / n,
      rank: i + 1,
      disagreement: 0.5,
      neighbourGap: 0.5,
      direction: 'none' as const,
    }));
    await replaceLabelErrorScores(db, p.runId, scores, {});
    const marked = [5, PAGE_ROWS + 3, n - 1].map((i) => scores[i].idx);
    for (const idx of marked) await upsertReviewMark(db, p.runId, idx, 'label_wrong', null);
    expect(await countLabelErrorScores(db, p.runId)).toBe(n);
    const all = await collect(iterateReviewRows(db, p.runId, n, []));
    expect(all.map((r) => r.rank)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const exported = await collect(iterateReviewRows(db, p.runId, 2, ['label_wrong']));
    expect(exported.map((r) => r.rank)).toEqual([1, 2, 6, PAGE_ROWS + 4, n]);
    expect(await nearestUnmarkedRank(db, p.runId, 5, 'next')).toBe(7);

    // Objects of one kind over more than a page, ties in score broken by (idx, n).
    const objects = labelObjectRows(n, 4).filter((o) => o.kind === 'phantom');
    expect(objects.length).toBeGreaterThan(PAGE_ROWS);
    for (let i = 0; i < objects.length; i += 1000)
      await writeLabelObjects(db, p.runId, objects.slice(i, i + 1000));
    const listed = await collect(iterateLabelObjects(db, p.runId, 'phantom'));
    const expected = [...objects].sort((a, b) => b.score - a.score || a.idx - b.idx || a.n - b.n);
    expect(listed.map((o) => [o.idx, o.n])).toEqual(expected.map((o) => [o.idx, o.n]));
    expect(listed.map((o) => o.rank)).toEqual(expected.map((_, i) => i + 1));
    const limited = await collect(iterateLabelObjects(db, p.runId, 'phantom', PAGE_ROWS + 1));
    expect(limited).toHaveLength(PAGE_ROWS + 1);
    expect(await labelObjectPage(db, p.runId, 'phantom', PAGE_ROWS, 3)).toEqual(
      listed.slice(PAGE_ROWS, PAGE_ROWS + 3),
    );

    // 1,600 tiles with their mapping labels: more than one page of 1,000, north to south, west to east.
    const mapped = await collect(tilesWithMappingLabels(db, p.projectId));
    expect(mapped.map((t) => `${t.y}/${t.x}`)).toEqual(
      Array.from({ length: 1600 }, (_, k) => `${9000 + Math.floor(k / 40)}/${9000 + (k % 40)}`),
    );

    // fAIr polygons, more than a page of 500, most urgent tile first, file order within a tile.
    const predictions = Array.from({ length: 1234 }, (_, idx) => {
      const x = 9000 + (idx % 50); // ten columns past the project: unscored tiles
      const y = 9000 + ((idx * 3) % 40);
      return {
        idx,
        z: 18,
        x,
        y,
        taskId: `18-${x}-${y}`,
        confidence: 0.5,
        geometry: {
          type: 'Polygon' as const,
          coordinates: [
            [
              [x, y],
              [x + 1, y],
              [x, y],
            ],
          ],
        },
      };
    });
    const importId = await insertFairImport(
      db,
      { projectId: p.projectId, name: 'f', features: 1234 },
      predictions,
    );
    const fair = await collect(iterateFairObjects(db, p.projectId, importId));
    expect(fair).toHaveLength(1234);
    const key = (o: { priority: number | null }) => o.priority ?? -1;
    for (let i = 1; i < fair.length; i++) {
      const [a, b] = [fair[i - 1], fair[i]];
      expect(key(a) > key(b) || (key(a) === key(b) && a.idx < b.idx)).toBe(true);
    }
    expect(fair.filter((o) => o.tier === null)).toHaveLength(predictions.filter((q) => q.x >= 9040).length);
  });

  it('refuses a sample, a label import or a fAIr import that breaks a rule, leaving nothing of it', async () => {
    const p = await newProject(db, 'refusals');
    const tile = { z: 18, x: 10, y: 10, taskId: '18-10-10', stratum: 0, priority: 0.5, buildingProb: 0.5 };
    await expect(
      insertSample(
        db,
        p.projectId,
        sampleDesign(1),
        [],
        [
          { ...tile, inclusionProb: 0.5 },
          { ...tile, x: 11, taskId: '18-11-10', inclusionProb: 0 }, // outside (0, 1]
        ],
      ),
    ).rejects.toThrow();
    expect(await latestSampleId(db, p.projectId)).toBeUndefined();
    await expect(
      storeLabels(
        db,
        { projectId: p.projectId, source: 'mapswipe-csv', purpose: 'mapping', rows: 2, outside: 0 },
        [
          { z: 18, x: 10, y: 10, taskId: '18-10-10', label: 'building' },
          { z: 18, x: 11, y: 10, taskId: '18-11-10', label: 'building', yesCount: -1 },
        ],
      ),
    ).rejects.toThrow();
    expect(await countLabels(db, p.projectId, 'mapping')).toEqual({
      building: 0,
      no_building: 0,
      bad_imagery: 0,
    });
    async function* failing() {
      yield {
        idx: 0,
        z: 18,
        x: 10,
        y: 10,
        taskId: '18-10-10',
        confidence: 0.9,
        geometry: {
          type: 'Polygon' as const,
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [0, 0],
            ],
          ],
        },
      };
      throw new Error('the file ended half-way');
    }
    await expect(
      insertFairImport(db, { projectId: p.projectId, name: 'bad', features: 2 }, failing()),
    ).rejects.toThrow('the file ended half-way');
    expect(await listFairImports(db, p.projectId)).toEqual([]);
    // A review mark on a patch of a run that does not exist is refused by its reference.
    await expect(upsertReviewMark(db, 999_999, 0, 'unsure', null)).rejects.toThrow();
  });

  it.runIf(dialect === 'postgres')(
    'skips storing latent columns when the store refuses the write (a read-only transaction)',
    async () => {
      const p = await newProject(db, 'read-only');
      const columns = {
        header: { format: 'f', rows: 0, columns: [], meta: {}, bodyBytes: 0 },
        body: new Uint8Array(0),
      };
      const written = await readConsistently(db, (tx) =>
        putStoredColumns(tx, p.runId, [{ name: 'a', columns }], 1),
      );
      expect(written).toBe(false);
      expect((await getStoredColumns(db, p.runId, ['a'], 1)).size).toBe(0);
    },
  );
});

describe('the same insight, review, trust, publishing and fAIr writes into both stores', () => {
  it('give the same rows out of either', async () => {
    const out: Record<string, unknown> = {};
    for (const dialect of DIALECTS) out[dialect] = await insightTrustRoundTrip(await stores.open(dialect));
    const { sqlite, postgres } = out as Record<string, Record<string, unknown>>;
    // Not vacuous: each part holds what was written.
    expect((sqlite.insightPatches as unknown[]).length).toBe(64);
    expect((sqlite.reviewExport as unknown[]).length).toBe(4);
    expect((sqlite.objects as unknown[]).length).toBeGreaterThan(5);
    expect((sqlite.fairObjects as unknown[]).length).toBe(30);
    expect((sqlite.placedComponents as unknown[]).length).toBeGreaterThan(80);
    expect(sqlite.samples).toEqual([expect.objectContaining({ labelled: 3, badImagery: 1 })]);
    for (const key of Object.keys(sqlite)) expect({ [key]: postgres[key] }).toEqual({ [key]: sqlite[key] });
  });
});

describe('opening a Postgres database', () => {
  const tablesOf = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const r = await client.query<{ n: string }>(
        "select count(*) as n from information_schema.tables where table_schema in ('public', 'drizzle')",
      );
      return Number(r.rows[0].n);
    } finally {
      await client.end();
    }
  };

  it('refuses a server that does not answer, naming the URL without its password', async () => {
    const error = await openDatabase('postgres://tilelens:secret@127.0.0.1:1/tilelens').catch((e) => e);
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect(error.message).toMatch(/does not answer or refuses the connection/);
    expect(error.message).not.toContain('secret');
  });

  it('refuses a URL that is neither a postgres:// URL nor a file path', async () => {
    await expect(openDatabase('mysql://root@127.0.0.1/tilelens')).rejects.toThrow(
      /neither a postgres:\/\/ URL nor the path of a SQLite file/,
    );
  });

  it('migrates an empty database, and opens it again without migrating', async () => {
    const url = await stores.emptyPostgresDatabase();
    const first = await openDatabase(url);
    await first.close();
    const tables = await tablesOf(url);
    expect(tables).toBeGreaterThan(20);
    const again = await openDatabase(url, { migrate: false });
    await ping(again);
    await again.close();
    expect(await tablesOf(url)).toBe(tables);
  });

  it('refuses, changing nothing, a schema behind the code when told not to migrate', async () => {
    const url = await stores.emptyPostgresDatabase();
    await expect(openDatabase(url, { migrate: false })).rejects.toThrow(
      /behind this tilelens \(it holds no tilelens schema at all\)/,
    );
    expect(await tablesOf(url)).toBe(0);
  });

  it('refuses, changing nothing, a schema a newer tilelens made', async () => {
    const url = await stores.emptyPostgresDatabase();
    await (await openDatabase(url)).close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(
      "insert into drizzle.__drizzle_migrations (hash, created_at) values ('a-migration-from-the-future', 99999999999999)",
    );
    await client.end();
    const tables = await tablesOf(url);
    await expect(openDatabase(url)).rejects.toThrow(
      /1 migration\(s\) this tilelens does not have: a newer tilelens made it/,
    );
    expect(await tablesOf(url)).toBe(tables);
  });
});
