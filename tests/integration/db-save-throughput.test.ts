import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openDatabase } from '../../server/lib/db/client.ts';
import { getPatches, PATCH_BATCH_ROWS, saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import {
  registerSampleModelAndDataset,
  sampleClusters,
  samplePatch,
  sampleRun,
} from '../fixtures/db-sample-run.ts';

const N = 100_000;

it(`saves ${N.toLocaleString('en')} patches into a file database in one transaction`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tilelens-throughput-'));
  const handle = await openDatabase(join(dir, 'tilelens.db'));
  try {
    const ids = await registerSampleModelAndDataset(handle);
    // Built beforehand so the time is the database's, not the fixture's.
    const rows = Array.from({ length: N }, (_, i) => samplePatch(i));
    const started = performance.now();
    const runId = await saveAnalysisRun(handle, sampleRun(ids, N), rows, sampleClusters(N));
    const ms = performance.now() - started;
    console.log(
      `saveAnalysisRun: ${N} patches in ${ms.toFixed(0)} ms (${Math.round(N / (ms / 1000)).toLocaleString('en')} patches/s, ` +
        `${PATCH_BATCH_ROWS} rows per INSERT)`,
    );
    const last = await getPatches(handle, runId, { limit: 1, offset: N - 1, columns: ['idx'] });
    expect(last).toEqual([{ idx: N - 1 }]);
  } finally {
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
