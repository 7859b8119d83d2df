/**
 * `npm run bench`: every benchmark in turn, each printing its own table and a closing JSON line.
 *   npm run bench                      all
 *   npm run bench -- inference scoring only those
 * Benchmarks are not tests: timing limits live here, never in the test suite.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../server/lib/paths.ts';

const benches: Record<string, string[]> = {
  inference: ['npx', 'tsx', 'scripts/bench/inference.ts'],
  analysis: ['npx', 'tsx', 'scripts/bench/analysis-scale.ts'],
  scoring: ['npx', 'tsx', 'scripts/bench/scoring.ts'],
  faults: ['npx', 'tsx', 'scripts/bench/faults.ts'],
  insights: ['npx', 'tsx', 'scripts/bench/insights.ts'],
  'label-objects': ['npx', 'tsx', 'scripts/bench/label-objects.ts'],
  'trust-sampling': ['npx', 'tsx', 'scripts/bench/trust-sampling.ts'],
  trust: ['npx', 'tsx', 'scripts/bench/trust.ts'],
  'ui-overlay': ['npx', 'tsx', 'scripts/bench/ui-overlay.ts'],
  'ui-latent': ['npx', 'tsx', 'scripts/bench/ui-latent.ts'],
  store: ['npx', 'tsx', 'scripts/bench/store.ts'],
  cluster: ['npx', 'tsx', 'scripts/bench/cluster.ts'],
  demo: ['bash', 'scripts/bench/demo-fresh-clone.sh'],
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : Object.keys(benches);
let failed = 0;
for (const name of names) {
  const cmd = benches[name];
  if (!cmd) {
    console.error(`unknown benchmark '${name}'; choose from ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  if (!existsSync(join(repoRoot, cmd[2]))) {
    console.error(`bench ${name}: ${cmd[2]} is not there yet — skipped`);
    continue;
  }
  console.error(`\n=== bench: ${name} (${cmd.join(' ')})`);
  const res = spawnSync(cmd[0], cmd.slice(1), { cwd: repoRoot, stdio: 'inherit' });
  if (res.status !== 0) {
    failed++;
    console.error(`bench ${name} failed with exit code ${res.status}`);
  }
}
process.exit(failed > 0 ? 1 : 0);
