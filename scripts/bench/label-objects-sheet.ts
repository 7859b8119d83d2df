/**
 * A contact sheet of the label-object benchmark's top false hits, to look at what outranks the planted errors
 * (are they real label errors or the model's mistakes?): each window's imagery, its label hatched in cyan, the
 * object circled in red with its evidence and mean probability.
 *
 *   npx tsx scripts/bench/label-objects.ts --cache data/scratch/bench-cache.bin --kinds missing --dump data/scratch/d
 *   npx tsx scripts/bench/label-objects-sheet.ts --dump data/scratch/d-missing.jsonl --cache data/scratch/bench-cache.bin
 *                                              [--from 0] [--count 12] [--planted]
 *                                              [--out screenshots/label-objects-sheet.png]
 *
 * Only objects that were not planted, in the strict ranking's order, among its top k (k = objects planted); with
 * --planted, the planted objects the detector found, weakest evidence first.
 * Skips cleanly without the real data.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { repoRoot } from '../../server/lib/paths.ts';

const { values } = parseArgs({
  options: {
    dump: { type: 'string' },
    cache: { type: 'string' },
    real: { type: 'string', default: process.env.REALDATA ?? resolve(repoRoot, '../shared/realdata') },
    from: { type: 'string', default: '0' },
    count: { type: 'string', default: '12' },
    /** Planted objects instead, weakest evidence first: what the detector misses. */
    planted: { type: 'boolean', default: false },
    out: { type: 'string', default: 'screenshots/label-objects-sheet.png' },
  },
});
if (!values.dump || !values.cache) {
  console.error(
    'usage: label-objects-sheet.ts --dump PREFIX-<kind>.jsonl --cache FILE [--from 0] [--count 12] [--planted] [--out PNG]',
  );
  process.exit(2);
}
if (!existsSync(values.real)) {
  console.log(JSON.stringify({ skipped: `no ${values.real}` }));
  process.exit(0);
}

/** The benchmark's model input side (scripts/bench/label-objects.ts), the sheet's tile side and columns. */
const MODEL = 128;
const TILE = 256;
const COLS = 4;

interface Row {
  set: string;
  w: number;
  g: string;
  pl: unknown;
  ev: number;
  meanProb: number;
  area: number;
  centre: [number, number];
}
const rows = readFileSync(values.dump, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Row);
const keys = (JSON.parse(readFileSync(`${values.cache}.json`, 'utf8')) as Array<{ key: string }>).map(
  (m) => m.key,
);
const cache = readFileSync(values.cache);
const planted = rows.filter((r) => r.set === 'planted').length;
const from = Number(values.from);
const candidates = rows.filter((r) => r.set === 'cand');
const shown = (
  values.planted
    ? candidates.filter((r) => r.pl !== null).sort((a, b) => a.ev - b.ev)
    : candidates
        .sort((a, b) => b.ev - a.ev)
        .slice(0, planted)
        .filter((r) => r.pl === null)
).slice(from, from + Number(values.count));

const tiles: Buffer[] = [];
for (const r of shown) {
  const [path, win] = keys[r.w].split('#');
  const [x, y, w, h] = win.split(',').map(Number);
  const image = await sharp(resolve(values.real, path))
    .extract({ left: x, top: y, width: w, height: h })
    .resize(TILE, TILE)
    .removeAlpha()
    .raw()
    .toBuffer();
  // The label at the model's resolution as the benchmark held it: hatched, so the imagery shows through.
  const mask = cache.subarray(r.w * MODEL * MODEL * 5 + MODEL * MODEL * 4, (r.w + 1) * MODEL * MODEL * 5);
  const scale = TILE / MODEL;
  for (let py = 0; py < TILE; py++)
    for (let px = 0; px < TILE; px++)
      if ((px + py) % 4 === 0 && mask[Math.floor(py / scale) * MODEL + Math.floor(px / scale)]) {
        const i = (py * TILE + px) * 3;
        image[i] = 0;
        image[i + 1] = 200;
        image[i + 2] = 255;
      }
  const radius = Math.max(8, Math.sqrt(r.area) * scale * 0.6);
  const svg = `<svg width="${TILE}" height="${TILE}"><circle cx="${r.centre[0] * scale}" cy="${r.centre[1] * scale}" r="${radius}" fill="none" stroke="red" stroke-width="3"/><text x="4" y="16" fill="yellow" font-size="14">${r.g} #${from + tiles.length + 1} ev ${r.ev.toFixed(2)} p ${r.meanProb.toFixed(2)}</text></svg>`;
  tiles.push(
    await sharp(image, { raw: { width: TILE, height: TILE, channels: 3 } })
      .composite([{ input: Buffer.from(svg) }])
      .png()
      .toBuffer(),
  );
}
const gap = 4;
await sharp({
  create: {
    width: COLS * (TILE + gap),
    height: Math.max(1, Math.ceil(tiles.length / COLS)) * (TILE + gap),
    channels: 3,
    background: '#000',
  },
})
  .composite(
    tiles.map((t, i) => ({
      input: t,
      left: (i % COLS) * (TILE + gap),
      top: Math.floor(i / COLS) * (TILE + gap),
    })),
  )
  .png()
  .toFile(values.out);
console.log(JSON.stringify({ out: values.out, shown: tiles.length }));
