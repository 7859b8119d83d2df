import { describe, expect, it } from 'vitest';
import { checkChunks, chunkTileCount, rangeChunks, tileListChunks } from '../../server/lib/queue/chunks.ts';
import { chunkJobId } from '../../server/lib/queue/pg-boss-queue.ts';

describe('chunks of a project', () => {
  it('covers the tile order with contiguous ranges, the last one shorter', () => {
    const chunks = rangeChunks(3, 10, 4);
    expect(chunks.map((c) => c.spec)).toEqual([
      { kind: 'range', start: 0, end: 4 },
      { kind: 'range', start: 4, end: 8 },
      { kind: 'range', start: 8, end: 10 },
    ]);
    expect(chunks.map((c) => [c.projectId, c.seq])).toEqual([
      [3, 0],
      [3, 1],
      [3, 2],
    ]);
    expect(chunks.reduce((n, c) => n + chunkTileCount(c.spec), 0)).toBe(10);
    expect(rangeChunks(3, 0, 4)).toEqual([]);
  });

  it('splits an explicit tile list (a retry) in order, copying only z/x/y', () => {
    const tiles = Array.from({ length: 5 }, (_, i) => ({ z: 18, x: 100 + i, y: 200, extra: true }));
    const chunks = tileListChunks(2, tiles, 2);
    expect(chunks.map((c) => chunkTileCount(c.spec))).toEqual([2, 2, 1]);
    expect(chunks[2].spec).toEqual({ kind: 'tiles', tiles: [{ z: 18, x: 104, y: 200 }] });
  });

  it('refuses sizes, ids and lists that do not make a project’s chunks', () => {
    expect(() => rangeChunks(3, 10, 0)).toThrow(/tiles per chunk/);
    expect(() => rangeChunks(0, 10, 4)).toThrow(/project id/);
    expect(() => rangeChunks(3, -1, 4)).toThrow(/tile count/);
    expect(() => checkChunks(3, [])).toThrow(/no chunks/);
    expect(() => checkChunks(4, rangeChunks(3, 10, 4))).toThrow(/one project per send/);
    const empty = [{ projectId: 3, seq: 0, spec: { kind: 'range' as const, start: 5, end: 5 } }];
    expect(() => checkChunks(3, empty)).toThrow(/1 to/);
  });

  it('gives pg-boss job ids that sort by the chunk’s place', () => {
    const ids = [0, 1, 2, 15, 16, 255, 4096].map(chunkJobId);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id))).toBe(
      true,
    );
  });
});
