/**
 * Honest confidence: an interval around the smoothed IoU, by split-conformal prediction on held-out residuals,
 * Mondrian over novelty bins (the estimator: server/lib/analysis/conformal.ts), calibrated on a run.
 *
 * The residuals come for free: every patch's stored iou_hat is out-of-fold (its estimator never saw it), so
 * |target − iou_hat| is a held-out residual (target = what the surface learns: the IoU, or 1 for an empty patch
 * under the run's surfaceEmpty 'one'). Coverage is measured by calibrating on one half of the patches and
 * counting hits on the other; the stored intervals are then calibrated on all of them.
 */
import { requireRun } from '../db/analysis-repo.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { getInsightRecord } from '../db/insight-records.ts';
import {
  readPatchIntervals,
  replacePatchIntervals,
  type PatchIntervalRow,
} from '../db/patch-insights-repo.ts';
import { MondrianConformal, type MondrianConformalJSON, type MondrianParams } from '../analysis/conformal.ts';
import { EstimatorError } from '../analysis/estimator.ts';
import { KdTree } from '../analysis/kdtree.ts';
import { createRng, permutation } from '../analysis/random.ts';
import { InsightsError } from './errors.ts';
import { readLatentRows, type LatentRows } from './latent-rows.ts';

export interface MethodReport {
  r2: number;
  mae: number;
  meanWidth: number;
  coverage: number;
  /** Coverage and width per novelty bin, from the least novel up. */
  byNovelty: { bin: string; n: number; coverage: number; meanWidth: number }[];
}

export interface ConfidenceRecord {
  nominal: number;
  nCalibration: number;
  nTest: number;
  /** The stored intervals: the out-of-fold MLP (smoothed IoU), Mondrian over novelty. */
  method: 'mlp+mondrian-conformal';
  methods: Record<'mlpMondrian' | 'mlpGlobal' | 'knnMondrian' | 'meanMondrian', MethodReport>;
  model: MondrianConformalJSON;
}

function r2(truth: number[], pred: number[]): number {
  const m = truth.reduce((a, b) => a + b, 0) / truth.length;
  let ssr = 0;
  let sst = 0;
  truth.forEach((t, i) => {
    ssr += (t - pred[i]) ** 2;
    sst += (t - m) ** 2;
  });
  return sst === 0 ? Number.NaN : 1 - ssr / sst;
}

function report(
  conformal: MondrianConformal,
  truth: number[],
  pred: number[],
  novelty: number[],
): MethodReport {
  const e = conformal.params.binEdges;
  const bins = Array.from({ length: e.length + 1 }, (_, b) => ({
    bin: b === 0 ? `<${e[0]}` : b === e.length ? `≥${e[b - 1]}` : `${e[b - 1]}–${e[b]}`,
    n: 0,
    hits: 0,
    width: 0,
  }));
  let hits = 0;
  let width = 0;
  let mae = 0;
  truth.forEach((t, i) => {
    const [lo, hi] = conformal.interval(pred[i], novelty[i]);
    const hit = t >= lo && t <= hi ? 1 : 0;
    const b = bins[conformal.bin(novelty[i])];
    b.n++;
    b.hits += hit;
    b.width += hi - lo;
    hits += hit;
    width += hi - lo;
    mae += Math.abs(t - pred[i]);
  });
  const n = truth.length;
  return {
    r2: r2(truth, pred),
    mae: mae / n,
    meanWidth: width / n,
    coverage: hits / n,
    byNovelty: bins.map((b) => ({
      bin: b.bin,
      n: b.n,
      coverage: b.n ? b.hits / b.n : Number.NaN,
      meanWidth: b.n ? b.width / b.n : Number.NaN,
    })),
  };
}

/** kNN regression on the PCs: predictions for `query` rows from `ref` rows (leave-one-out when they coincide). */
function knnPredict(
  rows: LatentRows,
  ref: number[],
  query: number[],
  k: number,
  selfExclude: boolean,
): number[] {
  const d = rows.k;
  const pts = new Float32Array(ref.length * d);
  ref.forEach((r, i) => pts.set(rows.pcs.subarray(r * d, (r + 1) * d), i * d));
  const tree = new KdTree(pts, d);
  const kk = Math.min(k, ref.length - (selfExclude ? 1 : 0));
  const dist = new Float64Array(kk);
  const nb = new Int32Array(kk);
  return query.map((q, qi) => {
    tree.knn(rows.pcs, q * d, kk, dist, selfExclude ? qi : -1, nb);
    let s = 0;
    let m = 0;
    for (let j = 0; j < kk; j++) {
      if (nb[j] < 0) continue;
      s += rows.target[ref[nb[j]]];
      m++;
    }
    return m ? s / m : Number.NaN;
  });
}

export interface ConfidenceOptions extends MondrianParams {
  seed?: number;
  /** Neighbours of the kNN baseline. */
  knnK?: number;
}

/** Measures coverage and width on a held-out half, for the stored method and the simpler baselines. */
export function evaluateConfidence(rows: LatentRows, options: ConfidenceOptions = {}): ConfidenceRecord {
  const valid: number[] = [];
  for (let i = 0; i < rows.n; i++)
    if (Number.isFinite(rows.target[i]) && Number.isFinite(rows.iouHat[i])) valid.push(i);
  if (valid.length < 40) {
    throw new EstimatorError(
      `confidence intervals need at least 40 patches with an IoU, got ${valid.length}; add patches with buildings`,
    );
  }
  const perm = permutation(valid.length, createRng(options.seed ?? 7));
  const half = valid.length >> 1;
  const cal = Array.from(perm.subarray(0, half), (p) => valid[p]);
  const test = Array.from(perm.subarray(half), (p) => valid[p]);
  const get = (idx: number[], a: ArrayLike<number>) => idx.map((i) => a[i]);
  const truthC = get(cal, rows.target);
  const truthT = get(test, rows.target);
  const novC = get(cal, rows.novelty);
  const novT = get(test, rows.novelty);
  const params = { alpha: options.alpha, binEdges: options.binEdges, minPerBin: options.minPerBin };

  const mlpC = get(cal, rows.iouHat);
  const mlpT = get(test, rows.iouHat);
  const mlpMondrian = report(new MondrianConformal(params).fit(mlpC, truthC, novC), truthT, mlpT, novT);
  const globalOnly = new MondrianConformal({ ...params, binEdges: [] }).fit(mlpC, truthC, novC);
  const mlpGlobal = report(globalOnly, truthT, mlpT, novT);
  // Report the global method's per-bin coverage in the same bins as the Mondrian one, for comparison.
  mlpGlobal.byNovelty = mlpMondrian.byNovelty.map((b, bi) => {
    const inBin = test.map((_, i) => i).filter((i) => new MondrianConformal(params).bin(novT[i]) === bi);
    const q = globalOnly.quantiles[0];
    const hits = inBin.filter((i) => Math.abs(truthT[i] - mlpT[i]) <= q).length;
    const width = inBin.reduce((s, i) => s + Math.min(1, mlpT[i] + q) - Math.max(0, mlpT[i] - q), 0);
    return {
      bin: b.bin,
      n: inBin.length,
      coverage: inBin.length ? hits / inBin.length : Number.NaN,
      meanWidth: inBin.length ? width / inBin.length : Number.NaN,
    };
  });

  const mean = truthC.reduce((a, b) => a + b, 0) / truthC.length;
  const meanMondrian = report(
    new MondrianConformal(params).fit(
      truthC.map(() => mean),
      truthC,
      novC,
    ),
    truthT,
    truthT.map(() => mean),
    novT,
  );
  const k = options.knnK ?? 15;
  const knnC = knnPredict(rows, cal, cal, k, true);
  const knnT = knnPredict(rows, cal, test, k, false);
  const knnMondrian = report(new MondrianConformal(params).fit(knnC, truthC, novC), truthT, knnT, novT);

  const all = new MondrianConformal(params).fit(
    get(valid, rows.iouHat),
    get(valid, rows.target),
    get(valid, rows.novelty),
  );
  return {
    nominal: 1 - all.params.alpha,
    nCalibration: cal.length,
    nTest: test.length,
    method: 'mlp+mondrian-conformal',
    methods: { mlpMondrian, mlpGlobal, knnMondrian, meanMondrian },
    model: all.toJSON(),
  };
}

/** Calibrates the run's intervals, stores them per patch and the record beside the run. */
export async function fitConfidenceIntervals(
  db: DatabaseHandle,
  runId: number,
  options: ConfidenceOptions = {},
): Promise<ConfidenceRecord> {
  await requireRun(db, runId);
  const rows = await readLatentRows(db, runId);
  const record = evaluateConfidence(rows, options);
  const model = MondrianConformal.fromJSON(record.model);
  function* intervals(): Generator<PatchIntervalRow> {
    for (let i = 0; i < rows.n; i++) {
      if (!Number.isFinite(rows.iouHat[i])) continue;
      const [iouLow, iouHigh] = model.interval(rows.iouHat[i], rows.novelty[i]);
      yield { idx: i, iouLow, iouHigh };
    }
  }
  await replacePatchIntervals(db, runId, intervals(), record);
  return record;
}

/** The run's stored record: method, coverage against the nominal level, the baselines, the fitted model. */
export async function getConfidenceRecord(db: DatabaseHandle, runId: number): Promise<ConfidenceRecord> {
  await requireRun(db, runId);
  const record = await getInsightRecord<ConfidenceRecord>(db, runId, 'confidence');
  if (!record) {
    throw new InsightsError(`run ${runId} has no confidence intervals yet`, {
      hint: `run \`npx tsx server/lib/insights/run-insights.ts --run ${runId}\` first`,
    });
  }
  return record;
}

/** The run's per-patch intervals as columns in idx order (empty before the intervals are fitted). */
export async function getPatchIntervals(db: DatabaseHandle, runId: number) {
  await requireRun(db, runId);
  return await readPatchIntervals(db, runId);
}
