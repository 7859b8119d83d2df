/**
 * Builds the synthetic demo world (imagery PMTiles + footprints GeoJSON + per-tile records).
 *   npx tsx scripts/build-demo-world.ts --out data/demo --seed 7 [--scale small] [--preview]
 * Progress goes to stderr; the JSON summary to stdout.
 */
import { parseArgs } from 'node:util';
import { generateDemoWorld } from './demo-world/generate.ts';
import { writePreviews } from './demo-world/preview.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'data/demo' },
    seed: { type: 'string', default: '7' },
    scale: { type: 'string', default: 'full' },
    preview: { type: 'boolean', default: false },
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed must be an integer, got "${values.seed}"`);
  process.exit(2);
}
if (values.scale !== 'full' && values.scale !== 'small') {
  console.error(`--scale must be "full" or "small", got "${values.scale}"`);
  process.exit(2);
}
let lastShown = 0;
const summary = await generateDemoWorld({
  seed,
  outDir: values.out!,
  scale: values.scale,
  onProgress(done, total) {
    const now = performance.now();
    if (done === total || now - lastShown > 1000) {
      lastShown = now;
      process.stderr.write(`demo world: ${done}/${total} tiles\n`);
    }
  },
});
if (values.preview) {
  const written = await writePreviews(values.out!);
  process.stderr.write(`demo world: previews in ${written.dir} (${written.files.length} files)\n`);
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
