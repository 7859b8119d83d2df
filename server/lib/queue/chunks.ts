/**
 * A chunk is the unit of scoring work a worker takes: a project id and either a contiguous range of the
 * project's tile order (the grid walked north to south, west to east: the same order on every host, so a
 * range names the same tiles everywhere) or, for a retry, the explicit tiles. Chunks are small enough that a
 * lost one costs little to redo and large enough that the queue's own cost per tile stays small.
 */
import type { ChunkState } from '../db/chunk-ledger-repo.ts';
import { TilelensError } from '../errors.ts';

/** Where a chunk stands (the ledger's states, kept in memory by the in-process engine alike). */
export type ChunkRecordState = ChunkState;

export interface TileRef {
  z: number;
  x: number;
  y: number;
}

export type ChunkSpec =
  /** Tiles `start` (inclusive) to `end` (exclusive) of the project's tile order. */
  { kind: 'range'; start: number; end: number } | { kind: 'tiles'; tiles: TileRef[] };

export interface Chunk {
  projectId: number;
  /** The chunk's place among the project's chunks, 0-based: its name in progress and records. */
  seq: number;
  spec: ChunkSpec;
  /**
   * What the sender decided once for all the chunks of one send and every worker must read alike (for scoring:
   * the job, its batch size and the look its tiles are read through); carried as JSON, never interpreted here.
   */
  shared?: Record<string, unknown>;
}

export const DEFAULT_CHUNK_TILES = 256;
export const MAX_CHUNK_TILES = 10_000;

export class QueueError extends TilelensError {
  override name = 'QueueError';
  constructor(
    code: string,
    message: string,
    options: { status?: 400 | 404 | 409 | 500 | 503; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

export function chunkTileCount(spec: ChunkSpec): number {
  return spec.kind === 'range' ? spec.end - spec.start : spec.tiles.length;
}

function checkChunkTiles(chunkTiles: number): void {
  if (!Number.isInteger(chunkTiles) || chunkTiles < 1 || chunkTiles > MAX_CHUNK_TILES) {
    throw new QueueError(
      'invalid-chunk',
      `tiles per chunk must be an integer from 1 to ${MAX_CHUNK_TILES}, got ${chunkTiles}`,
      { status: 400 },
    );
  }
}

function checkProjectId(projectId: number): void {
  if (!Number.isInteger(projectId) || projectId < 1) {
    throw new QueueError('invalid-chunk', `a project id is a positive integer, got ${projectId}`, {
      status: 400,
    });
  }
}

/** The chunks covering a project's `tileCount` tiles in order, `chunkTiles` each (the last may be shorter). */
export function rangeChunks(projectId: number, tileCount: number, chunkTiles = DEFAULT_CHUNK_TILES): Chunk[] {
  checkProjectId(projectId);
  checkChunkTiles(chunkTiles);
  if (!Number.isInteger(tileCount) || tileCount < 0) {
    throw new QueueError('invalid-chunk', `a tile count is a non-negative integer, got ${tileCount}`, {
      status: 400,
    });
  }
  const chunks: Chunk[] = [];
  for (let start = 0; start < tileCount; start += chunkTiles) {
    chunks.push({
      projectId,
      seq: chunks.length,
      spec: { kind: 'range', start, end: Math.min(tileCount, start + chunkTiles) },
    });
  }
  return chunks;
}

/** Chunks of explicit tiles (a retry of failed tiles), `chunkTiles` each in the order given. */
export function tileListChunks(
  projectId: number,
  tiles: readonly TileRef[],
  chunkTiles = DEFAULT_CHUNK_TILES,
): Chunk[] {
  checkProjectId(projectId);
  checkChunkTiles(chunkTiles);
  const chunks: Chunk[] = [];
  for (let i = 0; i < tiles.length; i += chunkTiles) {
    chunks.push({
      projectId,
      seq: chunks.length,
      spec: { kind: 'tiles', tiles: tiles.slice(i, i + chunkTiles).map(({ z, x, y }) => ({ z, x, y })) },
    });
  }
  return chunks;
}

/** Refuses a list of chunks that is not one project's, numbered 0..n-1, each with at least one tile. */
export function checkChunks(projectId: number, chunks: readonly Chunk[]): void {
  checkProjectId(projectId);
  if (chunks.length === 0) {
    throw new QueueError('invalid-chunk', `nothing to queue for project ${projectId}: no chunks`, {
      status: 400,
    });
  }
  chunks.forEach((c, i) => {
    if (c.projectId !== projectId || c.seq !== i) {
      throw new QueueError(
        'invalid-chunk',
        `chunk ${i} of project ${projectId} names project ${c.projectId}, seq ${c.seq}; chunks go in order, one project per send`,
        { status: 400 },
      );
    }
    const ok =
      c.spec.kind === 'range'
        ? Number.isInteger(c.spec.start) &&
          Number.isInteger(c.spec.end) &&
          c.spec.start >= 0 &&
          c.spec.end > c.spec.start
        : c.spec.tiles.length > 0;
    if (!ok || chunkTileCount(c.spec) > MAX_CHUNK_TILES) {
      throw new QueueError(
        'invalid-chunk',
        `chunk ${i} of project ${projectId} must hold 1 to ${MAX_CHUNK_TILES} tiles`,
        { status: 400 },
      );
    }
  });
}
