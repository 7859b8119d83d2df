/**
 * Novelty that notices a shift: how far a tile's pooled activations lie from the reference set, in the full
 * activation space rather than the 9 PCs the paper's plot uses.
 *
 * The 9 display PCs hold the reference set's main contrast (undeveloped vs urbanised); coarser imagery, another
 * sensor's colours, haze or a roof the model never saw move activations mostly *off* those axes, so a distance
 * measured inside them calls such tiles ordinary. Here the activations are standardised per channel, a PCA with
 * more components describes the reference set, and a tile's novelty is the length of what that PCA cannot explain
 * (the reconstruction residual) together with its nearest-neighbour distance inside the PCA (both as multiples of
 * the reference rows' own 99th percentile, the larger counting). Reported two ways: `ratio` (1 = as far out as the
 * reference set's 99th-percentile tile; unbounded, so ranks keep working far outside) and `percentile` (0–100 of
 * the reference set's own scores, the number shown to people).
 *
 * The reference scores come from rows the PCA was not fitted on (a seeded held-out share), so a new tile exactly
 * like the training tiles reads as typical rather than as slightly novel.
 */
import { assertFeatures, assertFitted, assertKind, EstimatorError, type EstimatorJSON } from './estimator.ts';
import { KdTree } from './kdtree.ts';
import { StreamingPCA, type StreamingPCAJSON } from './pca.ts';
import { createRng } from './random.ts';

export interface ShiftNoveltyParams {
  /** PCA components describing the reference set (capped at dims − 1). */
  nComponents?: number;
  /** Neighbours for the in-PCA distance. */
  k?: number;
  /** Reference rows kept for the neighbour search (sampled past this size). */
  sampleSize?: number;
  /** Share of reference rows held out of the fit to calibrate the scores. */
  holdout?: number;
  seed?: number;
}

export interface ShiftNoveltyJSON extends EstimatorJSON {
  kind: 'ShiftNovelty';
  params: Required<ShiftNoveltyParams>;
  dims: number;
  mean: number[];
  scale: number[];
  pca: StreamingPCAJSON;
  /** Neighbour-search reference rows in PCA space (sampleSize × nComponents, flattened). */
  reference: number[];
  /** 99th percentiles of the held-out rows' residual and neighbour distance: the units of `ratio`. */
  residualUnit: number;
  knnUnit: number;
  /** Ascending held-out ratios: the scale of `percentile`. */
  referenceRatios: number[];
  calibration: 'held-out' | 'in-sample';
}

export interface ShiftNoveltyScores {
  ratio: Float32Array;
  percentile: Float32Array;
  residualRatio: Float32Array;
  knnRatio: Float32Array;
}

/** A source of reference rows that can be read more than once, in chunks. */
export interface RowChunks {
  rows: number;
  dims: number;
  chunks(): Iterable<{ start: number; rows: number; data: Float32Array }>;
}

/** Held-out rows below which a reference calibrates on its own rows. */
const MIN_HELD = 40;

function quantile(sorted: Float64Array | Float32Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export class ShiftNovelty {
  readonly params: Required<ShiftNoveltyParams>;
  dims = 0;
  private mean = new Float64Array(0);
  private scale = new Float64Array(0);
  private pca: StreamingPCA | null = null;
  private reference = new Float32Array(0);
  private tree: KdTree | null = null;
  private residualUnit = 1;
  private knnUnit = 1;
  private referenceRatios = new Float32Array(0);
  /** Whether the scale comes from held-out reference rows or, for a small reference, from its own rows. */
  calibration: 'held-out' | 'in-sample' = 'held-out';

  constructor(params: ShiftNoveltyParams = {}) {
    this.params = {
      nComponents: params.nComponents ?? 32,
      k: params.k ?? 5,
      sampleSize: params.sampleSize ?? 5000,
      holdout: params.holdout ?? 0.2,
      seed: params.seed ?? 7,
    };
    if (!(this.params.holdout > 0 && this.params.holdout < 1))
      throw new EstimatorError(`ShiftNovelty: holdout must lie in (0, 1), got ${params.holdout}`);
  }

  get fitted(): boolean {
    return this.pca !== null && this.tree !== null;
  }

  get nComponents(): number {
    return this.pca?.nComponents ?? 0;
  }

  /**
   * Streams the reference rows three times: moments, PCA, then the scores of the held-out rows. A reference too
   * small to spare a held-out share (under MIN_HELD / holdout rows) calibrates on its own rows instead, leaving
   * each row out of its own neighbour search — slightly optimistic, and said so in `calibration`.
   */
  async fit(source: RowChunks): Promise<this> {
    const { rows, dims } = source;
    if (dims < 2) throw new EstimatorError(`ShiftNovelty.fit: needs at least 2 dims, got ${dims}`);
    if (rows < 8)
      throw new EstimatorError(`ShiftNovelty.fit: ${rows} reference rows are too few to describe`);
    const rng = createRng(this.params.seed);
    const inSample = rows * this.params.holdout < MIN_HELD;
    const held = new Uint8Array(rows);
    let nHeld = 0;
    if (!inSample)
      for (let r = 0; r < rows; r++) if (rng.next() < this.params.holdout) ((held[r] = 1), nHeld++);
    const nFit = rows - nHeld;
    const m = Math.min(this.params.nComponents, dims - 1, Math.floor(nFit / 2));
    this.calibration = inSample ? 'in-sample' : 'held-out';
    this.dims = dims;
    this.mean = new Float64Array(dims);
    const sq = new Float64Array(dims);
    for (const c of source.chunks()) {
      for (let r = 0; r < c.rows; r++) {
        if (held[c.start + r]) continue;
        for (let j = 0; j < dims; j++) {
          const v = c.data[r * dims + j];
          this.mean[j] += v;
          sq[j] += v * v;
        }
      }
    }
    this.scale = new Float64Array(dims);
    for (let j = 0; j < dims; j++) {
      this.mean[j] /= nFit;
      const variance = sq[j] / nFit - this.mean[j] ** 2;
      // A channel that never fires in the reference set gets unit scale: any activity there is novel.
      this.scale[j] = variance > 1e-12 ? Math.sqrt(variance) : 1;
    }

    const pca = new StreamingPCA({ nComponents: m, kernel: 'js' });
    for (const c of source.chunks()) {
      const keep: number[] = [];
      for (let r = 0; r < c.rows; r++) if (!held[c.start + r]) keep.push(r);
      if (keep.length === 0) continue;
      const z = new Float32Array(keep.length * dims);
      keep.forEach((r, i) => this.standardiseRow(c.data, r * dims, z, i * dims));
      await pca.partialFit(z, keep.length);
    }
    await pca.finalize();
    this.pca = pca;

    // Neighbour-search reference: a sample of the fitted rows, in PCA space.
    const fitRows: number[] = [];
    for (let r = 0; r < rows; r++) if (!held[r]) fitRows.push(r);
    const take = Math.min(this.params.sampleSize, fitRows.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(rng.next() * (fitRows.length - i));
      [fitRows[i], fitRows[j]] = [fitRows[j], fitRows[i]];
    }
    const slot = new Map(fitRows.slice(0, take).map((row, i) => [row, i]));
    this.reference = new Float32Array(take * m);
    const calResidual: number[] = [];
    const calCoords: number[] = [];
    const calSlot: number[] = [];
    for (const c of source.chunks()) {
      const { coords, residual } = this.project(c.data, c.rows);
      for (let r = 0; r < c.rows; r++) {
        const row = c.start + r;
        const at = slot.get(row);
        if (at !== undefined) this.reference.set(coords.subarray(r * m, (r + 1) * m), at * m);
        if (inSample ? at !== undefined : held[row]) {
          calResidual.push(residual[r]);
          for (let j = 0; j < m; j++) calCoords.push(coords[r * m + j]);
          calSlot.push(inSample ? at! : -1);
        }
      }
    }
    this.tree = new KdTree(this.reference, m);
    const nCal = calResidual.length;
    const calKnn = this.knnDistances(Float32Array.from(calCoords), nCal, calSlot);
    this.residualUnit = quantile(Float64Array.from(calResidual).sort(), 0.99) || 1;
    this.knnUnit = quantile(Float64Array.from(calKnn).sort(), 0.99) || 1;
    const ratios = new Float32Array(nCal);
    for (let i = 0; i < nCal; i++)
      ratios[i] = Math.max(calResidual[i] / this.residualUnit, calKnn[i] / this.knnUnit);
    this.referenceRatios = ratios.sort();
    return this;
  }

  private standardiseRow(src: Float32Array, from: number, dst: Float32Array, to: number): void {
    for (let j = 0; j < this.dims; j++) dst[to + j] = (src[from + j] - this.mean[j]) / this.scale[j];
  }

  /** Standardised rows → PCA coordinates and the residual length outside the PCA. */
  private project(X: Float32Array, n: number): { coords: Float32Array; residual: Float32Array } {
    const pca = this.pca!;
    const d = this.dims;
    const z = new Float32Array(n * d);
    for (let r = 0; r < n; r++) this.standardiseRow(X, r * d, z, r * d);
    const coords = pca.transform(z, n);
    const m = pca.nComponents;
    const residual = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      // |z − μ|² − |coords|²: what the orthonormal components leave unexplained.
      let total = 0;
      for (let j = 0; j < d; j++) total += (z[r * d + j] - pca.mean[j]) ** 2;
      let explained = 0;
      for (let j = 0; j < m; j++) explained += coords[r * m + j] ** 2;
      residual[r] = Math.sqrt(Math.max(0, total - explained));
    }
    return { coords, residual };
  }

  /** Distance to the k-th nearest reference row; `exclude[r]` names a reference slot row r may not use (itself). */
  private knnDistances(coords: Float32Array, n: number, exclude?: number[]): Float64Array {
    const m = this.pca!.nComponents;
    const k = Math.min(this.params.k, Math.max(1, this.reference.length / m - 1));
    const out = new Float64Array(n);
    const buf = new Float64Array(k);
    for (let r = 0; r < n; r++)
      out[r] = Math.sqrt(this.tree!.knn(coords, r * m, k, buf, exclude?.[r] ?? -1)[k - 1]);
    return out;
  }

  /** `X` holds n rows of pooled activations, as the reference run pooled them. */
  score(X: Float32Array, n: number): ShiftNoveltyScores {
    assertFitted('ShiftNovelty', this.fitted);
    assertFeatures('ShiftNovelty.score', X, n, this.dims);
    const { coords, residual } = this.project(X, n);
    const knn = this.knnDistances(coords, n);
    const out: ShiftNoveltyScores = {
      ratio: new Float32Array(n),
      percentile: new Float32Array(n),
      residualRatio: new Float32Array(n),
      knnRatio: new Float32Array(n),
    };
    const ref = this.referenceRatios;
    for (let r = 0; r < n; r++) {
      out.residualRatio[r] = residual[r] / this.residualUnit;
      out.knnRatio[r] = knn[r] / this.knnUnit;
      const ratio = Math.max(out.residualRatio[r], out.knnRatio[r]);
      out.ratio[r] = ratio;
      let lo = 0;
      let hi = ref.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ref[mid] <= ratio) lo = mid + 1;
        else hi = mid;
      }
      out.percentile[r] = (100 * lo) / ref.length;
    }
    return out;
  }

  toJSON(): ShiftNoveltyJSON {
    assertFitted('ShiftNovelty', this.fitted);
    return {
      kind: 'ShiftNovelty',
      params: { ...this.params },
      dims: this.dims,
      mean: Array.from(this.mean),
      scale: Array.from(this.scale),
      pca: this.pca!.toJSON(),
      reference: Array.from(this.reference),
      residualUnit: this.residualUnit,
      knnUnit: this.knnUnit,
      referenceRatios: Array.from(this.referenceRatios),
      calibration: this.calibration,
    };
  }

  static fromJSON(json: ShiftNoveltyJSON): ShiftNovelty {
    assertKind('ShiftNovelty', json, 'ShiftNovelty');
    const model = new ShiftNovelty(json.params);
    model.dims = json.dims;
    model.mean = Float64Array.from(json.mean);
    model.scale = Float64Array.from(json.scale);
    model.pca = StreamingPCA.fromJSON(json.pca);
    model.reference = Float32Array.from(json.reference);
    model.tree = new KdTree(model.reference, model.pca.nComponents);
    model.residualUnit = json.residualUnit;
    model.knnUnit = json.knnUnit;
    model.referenceRatios = Float32Array.from(json.referenceRatios);
    model.calibration = json.calibration;
    return model;
  }
}
