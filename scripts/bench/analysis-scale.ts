/**
 * Scale benchmark of the latent-space analysis: synthetic 512-d pooled activations with latent structure (Gaussian
 * clusters in a random 20-d subspace + noise; IoU a nonlinear function of the latent position; an empty,
 * building-free cluster), written as float16, then `analyzeLatentSpace` timed per stage with peak memory.
 * Baseline, same process: a naive scalar JS covariance pass on the first 10k rows, extrapolated per row.
 *
 *   npx tsx scripts/bench/analysis-scale.ts [--rows 10000,100000,1000000] [--dims 512] [--keep]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ActivationReader, ActivationWriter } from '../../server/lib/analysis/activation-store.ts';
import { analyzeLatentSpace } from '../../server/lib/analysis/latent-analysis.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const sizes = arg('rows', '10000,100000,1000000').split(',').map(Number);
const DIMS = Number(arg('dims', '512'));
const LATENT = 20;
const CLUSTERS = 5;

interface Synthetic {
  path: string;
  iou: Float32Array;
  gtFraction: Float32Array;
  seconds: number;
}

function generate(dir: string, n: number, seed = 1): Synthetic {
  const t0 = performance.now();
  const rng = createRng(seed);
  const basis = Float32Array.from({ length: LATENT * DIMS }, () => rng.normal() / Math.sqrt(LATENT));
  const centers = Float32Array.from({ length: CLUSTERS * LATENT }, () => rng.normal() * 2.5);
  const offset = Float32Array.from({ length: DIMS }, () => 1 + rng.next());
  // A table of normals read at random offsets: per-value Box–Muller for 5e8 values would dominate the benchmark.
  const noise = Float32Array.from({ length: 1 << 20 }, () => rng.normal() * 0.3);
  const file = path.join(dir, `synthetic-${n}.f16`);
  const writer = ActivationWriter.create(file, { dims: DIMS, dtype: 'float16' });
  const iou = new Float32Array(n);
  const gtFraction = new Float32Array(n);
  const block = 2048;
  const rows = new Float32Array(block * DIMS);
  const z = new Float32Array(LATENT);
  for (let start = 0; start < n; start += block) {
    const m = Math.min(block, n - start);
    for (let r = 0; r < m; r++) {
      const c = rng.int(CLUSTERS);
      for (let j = 0; j < LATENT; j++) z[j] = centers[c * LATENT + j] + rng.normal();
      const o = r * DIMS;
      const off = rng.int((1 << 20) - DIMS);
      for (let j = 0; j < DIMS; j++) rows[o + j] = offset[j] + noise[off + j];
      for (let l = 0; l < LATENT; l++) {
        const zl = z[l];
        const b = l * DIMS;
        for (let j = 0; j < DIMS; j++) rows[o + j] += zl * basis[b + j];
      }
      const i = start + r;
      // Cluster 0 is building-free (IoU undefined); clusters 3 and 4 are built-up.
      gtFraction[i] = c === 0 ? 0 : Math.min(1, Math.max(0, (c >= 3 ? 0.3 : 0.04) + 0.05 * z[5]));
      iou[i] = c === 0 ? NaN : 1 / (1 + Math.exp(-(Math.sin(z[0]) + 0.4 * z[1] * z[2] - 0.3 * z[3])));
    }
    writer.append(rows, m);
  }
  writer.close();
  return { path: file, iou, gtFraction, seconds: (performance.now() - t0) / 1000 };
}

/** The baseline: the textbook scalar covariance update, one row at a time, full d×d. */
function naiveCovarianceSecondsPerRow(file: string, rows: number): number {
  const reader = ActivationReader.open(file);
  const cov = new Float64Array(DIMS * DIMS);
  const mean = new Float64Array(DIMS);
  const t0 = performance.now();
  let seen = 0;
  for (const chunk of reader.chunks(1024)) {
    for (let r = 0; r < chunk.rows && seen < rows; r++, seen++) {
      const o = r * DIMS;
      for (let i = 0; i < DIMS; i++) {
        mean[i] += chunk.data[o + i];
        for (let j = 0; j < DIMS; j++) cov[i * DIMS + j] += chunk.data[o + i] * chunk.data[o + j];
      }
    }
    if (seen >= rows) break;
  }
  reader.close();
  return (performance.now() - t0) / 1000 / seen;
}

const mib = (bytes: number) => bytes / 2 ** 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tilelens-bench-'));
const results: Record<string, unknown>[] = [];
let baselinePerRow = NaN;
try {
  for (const n of sizes) {
    const data = generate(dir, n);
    if (Number.isNaN(baselinePerRow))
      baselinePerRow = naiveCovarianceSecondsPerRow(data.path, Math.min(n, 10_000));
    const reader = ActivationReader.open(data.path);
    let peakRss = process.memoryUsage().rss;
    const rssBefore = peakRss;
    const t0 = performance.now();
    const result = await analyzeLatentSpace(
      reader,
      { iou: data.iou, gtFraction: data.gtFraction },
      { seed: 1, onProgress: () => (peakRss = Math.max(peakRss, process.memoryUsage().rss)) },
    );
    const total = (performance.now() - t0) / 1000;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    reader.close();
    const row = {
      rows: n,
      generateS: +data.seconds.toFixed(2),
      fileMiB: +mib(fs.statSync(data.path).size).toFixed(1),
      ...Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [`${k}S`, +v.toFixed(2)])),
      totalS: +total.toFixed(2),
      naiveCovS: +(baselinePerRow * n).toFixed(1),
      covSpeedup: +((baselinePerRow * n) / result.timings.pcaFit).toFixed(1),
      rssBeforeMiB: +mib(rssBefore).toFixed(0),
      peakRssMiB: +mib(peakRss).toFixed(0),
      maxRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(0),
      evr9: +result.explainedVarianceRatio.reduce((a, b) => a + b, 0).toFixed(3),
      r2: +result.estimator.heldOutR2.toFixed(3),
      meanR2: +result.estimator.meanPredictorR2.toFixed(3),
      oofR2: +result.estimator.oofR2.toFixed(3),
      k: result.kmeans.chosenK,
      silhouette: +result.kmeans.silhouette.toFixed(3),
      dbscanClusters: result.dbscan?.nClusters,
      ari: result.dbscan ? +result.dbscan.adjustedRand.toFixed(3) : null,
      urbanised: result.urbanised.clusters.join(' '),
    };
    results.push(row);
    console.log(JSON.stringify(row));
    if (!process.argv.includes('--keep')) {
      fs.rmSync(data.path);
      fs.rmSync(`${data.path}.json`);
    }
  }
} finally {
  if (!process.argv.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
}

const cols = [
  'rows',
  'pcaFitS',
  'pcaTransformS',
  'estimatorS',
  'kmeansS',
  'dbscanS',
  'clustersS',
  'totalS',
  'naiveCovS',
  'covSpeedup',
  'peakRssMiB',
  'r2',
  'meanR2',
  'k',
  'silhouette',
];
console.log(
  `\nanalyzeLatentSpace, ${DIMS}-d float16 rows (baseline: naive JS covariance ${(baselinePerRow * 1e6).toFixed(1)} µs/row, first 10k rows)`,
);
console.log(cols.map((c) => c.padStart(12)).join(''));
for (const r of results) console.log(cols.map((c) => String(r[c] ?? '').padStart(12)).join(''));
const base = results[0] as { rows: number; totalS: number };
for (const r of results.slice(1) as { rows: number; totalS: number }[]) {
  console.log(
    `per-row time vs ${base.rows} rows: ${(r.totalS / r.rows / (base.totalS / base.rows)).toFixed(2)}×`,
  );
}
console.log(
  JSON.stringify({
    bench: 'analysis-scale',
    dims: DIMS,
    baselineNaiveCovUsPerRow: baselinePerRow * 1e6,
    results,
  }),
);
