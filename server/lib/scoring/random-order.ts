/**
 * The random baseline of a ranking: a stable pseudo-random score per tile, so "tiles sent in random order" is the
 * same order on every request and in every benchmark.
 */
import { createHash } from 'node:crypto';

export function randomScore(taskId: string): number {
  return createHash('sha256').update(taskId).digest().readUInt32LE(0) / 2 ** 32;
}
