/**
 * `tilelens label-fixes`: a run's suspected label errors written for the mappers who fix them — thin over
 * server/lib/exports/label-fixes.ts, the same files the API serves.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from './lib/db/client.ts';
import {
  labelFixesGeoJson,
  labelFixesMapRoulette,
  labelFixSelectionSchema,
  type LabelFixStats,
} from './lib/exports/label-fixes.ts';
import { labelObjectCounts } from './lib/insights/object-queue.ts';
import { defaultDbPath } from './lib/paths.ts';
import { UsageError } from './cli-usage.ts';

export const labelFixesUsage = `  label-fixes  a run's suspected label errors for mappers (after run-insights): GeoJSON, one feature per
             object with its fix and a JOSM remote-control link, and a MapRoulette challenge (line-by-line
             GeoJSON, one task per object, priority by confidence); each kind strongest first
              --run ID --out DIR  [--kinds phantom,missing,offset,area_offset] [--limit 1000] [--min-score 0]
            prints one line of JSON: the files, objects per kind, objects left out as not on a map
`;

/** Streams an export's chunks into a file (an export of 100,000 objects never sits in memory whole). */
async function writeChunks(path: string, chunks: AsyncIterable<string>): Promise<void> {
  const fd = openSync(path, 'w');
  try {
    for await (const c of chunks) writeSync(fd, c);
  } finally {
    closeSync(fd);
  }
}

export async function labelFixesCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      run: { type: 'string' },
      out: { type: 'string' },
      kinds: { type: 'string' },
      limit: { type: 'string' },
      'min-score': { type: 'string' },
      db: { type: 'string' },
    },
    strict: true,
  });
  const runId = Number(v.run);
  if (!v.run || !Number.isInteger(runId) || runId < 1)
    throw new UsageError(`label-fixes needs --run ID (a whole number), got ${v.run ?? 'none'}`);
  if (!v.out) throw new UsageError('label-fixes needs --out DIR');
  const parsed = labelFixSelectionSchema.safeParse({
    kinds: v.kinds,
    limit: v.limit,
    minScore: v['min-score'],
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = { kinds: '--kinds', limit: '--limit', minScore: '--min-score' }[String(issue.path[0])];
    throw new UsageError(`${flag ?? 'label-fixes'}: ${issue.message}`);
  }
  const db = await openDatabase(v.db ?? defaultDbPath);
  try {
    // Refuses a run without the evidence pass, saying which command makes it.
    await labelObjectCounts(db, runId);
    const out = resolve(v.out);
    mkdirSync(out, { recursive: true });
    const geojson = join(out, `run-${runId}-label-fixes.geojson`);
    const maproulette = join(out, `run-${runId}-maproulette.geojson`);
    const stats: LabelFixStats = { offMap: 0, written: {} };
    await writeChunks(geojson, labelFixesGeoJson(db, runId, parsed.data, stats));
    await writeChunks(maproulette, labelFixesMapRoulette(db, runId, parsed.data));
    process.stdout.write(
      `${JSON.stringify({ runId, geojson, maproulette, objects: stats.written, leftOutNotOnMap: stats.offMap })}\n`,
    );
  } finally {
    await db.close();
  }
  return 0;
}
