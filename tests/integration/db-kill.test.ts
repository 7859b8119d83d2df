import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDatabase } from '../../server/lib/db/client.ts';
import { getPatches, listRuns, saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import {
  registerSampleModelAndDataset,
  sampleClusters,
  samplePatches,
  sampleRun,
} from '../fixtures/db-sample-run.ts';
import { pragmaRows, pragmaValue, sqlValue } from '../../server/lib/db/store-probe.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SAVER = join(ROOT, 'tests/fixtures/db-kill-save.ts');
// What tests/fixtures/db-kill-save.ts prints once it is deep inside its transaction.
const MARKER = 'in-transaction';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tilelens-kill-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('leaves no trace of a run whose writer is SIGKILLed mid-transaction', async () => {
  const path = join(dir, 'tilelens.db');
  const setup = await openDatabase(path);
  const ids = await registerSampleModelAndDataset(setup);
  const kept = await saveAnalysisRun(setup, sampleRun(ids, 500), samplePatches(500), sampleClusters(500));
  await setup.close();

  // node --import tsx rather than npx tsx: both of those start the script in a child of their own,
  // and SIGKILL must reach the process that holds the transaction.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', SAVER, path, String(ids.modelId), String(ids.datasetId)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  const walBytesAtKill = await new Promise<number>((done, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes(MARKER)) {
        const wal = `${path}-wal`;
        const bytes = existsSync(wal) ? statSync(wal).size : 0;
        child.kill('SIGKILL');
        done(bytes);
      }
    });
    void exited.then(({ code }) => fail(new Error(`the saver exited (${code}) before the kill: ${stderr}`)));
  });
  expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
  expect(stdout).not.toContain('finished');
  // Uncommitted pages had already spilled into the WAL, so recovery really had something to discard.
  expect(walBytesAtKill).toBeGreaterThan(1_000_000);

  const after = await openDatabase(path);
  try {
    expect(await pragmaValue(after, 'integrity_check')).toBe('ok');
    expect(await pragmaRows(after, 'foreign_key_check')).toEqual([]);
    expect((await listRuns(after)).map((r) => r.id)).toEqual([kept]);
    expect(await sqlValue(after, 'select count(*) from patches')).toBe(500);
    expect(await sqlValue(after, 'select count(*) from clusters')).toBe(sampleClusters(500).length);
    expect((await getPatches(after, kept, { limit: 1000, columns: ['idx'] })).map((p) => p.idx)).toEqual(
      Array.from({ length: 500 }, (_, i) => i),
    );
    // And the database takes the next run as if nothing had happened.
    const next = await saveAnalysisRun(after, sampleRun(ids, 50), samplePatches(50), sampleClusters(50));
    expect((await listRuns(after)).map((r) => r.id)).toEqual([next, kept]);
  } finally {
    await after.close();
  }
});
