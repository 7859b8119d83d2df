/**
 * Runs one scoring job in its own process, pacing it between batches, so a test can kill the process
 * part-way: `tsx tests/integration/scoring-child.ts <db> <dataDir> <projectId> <batchSize> <pauseMs>`.
 * Prints `done <n>` after each stored batch.
 */
import { openDatabase } from '../../server/lib/db/client.ts';
import { startScoring, waitForJob } from '../../server/lib/scoring/jobs.ts';

const [dbPath, dataDir, projectId, batchSize, pauseMs] = process.argv.slice(2);
const db = await openDatabase(dbPath);
const ctx = { db, dataDir };
const job = await startScoring(ctx, Number(projectId), {
  batchSize: Number(batchSize),
  onBatch: async (j) => {
    process.stdout.write(`done ${j.done}\n`);
    await new Promise((resolve) => setTimeout(resolve, Number(pauseMs)));
  },
});
const end = await waitForJob(ctx, job.id);
process.stdout.write(`finished ${end.status}\n`);
await db.close();
