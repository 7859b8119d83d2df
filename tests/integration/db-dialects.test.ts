/**
 * The repositories written once run against both stores: an in-memory SQLite store and a database on a local
 * Postgres server. Bulk tile writes are idempotent on project + z/x/y, keyset pages are complete and in
 * order, a job's progress adds up when batches race, transactions roll back on error — and the same writes
 * give the same rows out of either store. Opening a Postgres database refuses, with the reason and changing
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
import { getRun, iteratePatchKeys } from '../../server/lib/db/analysis-repo.ts';
import { PAGE_ROWS } from '../../server/lib/db/keyset-pages.ts';
import {
  countRunPatches,
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
