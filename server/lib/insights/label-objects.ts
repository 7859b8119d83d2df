/**
 * Label errors per object. A patch's label and its prediction are cut into connected footprints, and each gets
 * the evidence of the one error it could be:
 *
 * - phantom — a labelled footprint the model sees nothing under, nor anywhere near it in the same shape
 *   (construction site, demolished building, a label from another date): fix = delete it;
 * - offset — a labelled footprint whose best match in the prediction is the same shape moved (traced against
 *   offset imagery): fix = move it by the estimated shift;
 * - missing — a predicted building no footprint covers, even after the offset footprints are moved: fix = add it.
 *
 * Everything is measured at the model's resolution on its probabilities. The evidence is the model's: it is as
 * good as the model is where the patch lies, which the patch-level score (label-errors.ts) weighs in.
 */
import { labelComponents, simplifyRing, traceOutline, type Point } from '../scoring/vectorize.ts';
import { dilate, ringAround, searchShift, type ShiftSearch } from './footprint-shift.ts';

export const OBJECT_KINDS = ['phantom', 'missing', 'offset'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

export interface FoundObject {
  /** The error this object most likely is, or 'ok' when no evidence reaches the tagging threshold. */
  kind: ObjectKind | 'ok';
  /** A footprint of the label, or a predicted building (only 'missing' objects come from the prediction). */
  from: 'label' | 'prediction';
  /** Evidence of its kind (0..1); for 'ok' the largest of its evidences. */
  score: number;
  phantom: number;
  offset: number;
  missing: number;
  /** Pixels, at the resolution the probabilities were given in. */
  area: number;
  centre: Point;
  /** Mean probability over the object's own pixels. */
  meanProb: number;
  /** Best placement of a labelled footprint on the prediction; null for predicted objects. */
  shift: ShiftSearch | null;
  /** What the evidence is computed from (model resolution). */
  measures: ObjectMeasures;
  /** Pixel indices (y · width + x) of the object at the model's resolution. */
  pixels: Int32Array;
  /** Outer outline in pixel-corner coordinates (not closed), simplified. */
  outline: Point[];
}

/** Raw measurements of one object, beside the evidence they give. */
export interface ObjectMeasures {
  /** Highest probability over the object's pixels. */
  maxProb: number;
  /** Share of the object's pixels the model is sure of (≥ 0.8). */
  coreShare: number;
  /** Mean probability on a thin ring just outside the object (where no other footprint is). */
  ringProb: number;
  /** Object area over its bounding box's: 1 for a rectangle, low for a sprawling or thin blob. */
  extent: number;
  /** Share of the ring that is labelled footprint (a predicted blob hugging a footprint is its outline noise). */
  ringLabelled: number;
}

export interface LabelObjectOptions {
  /** Probability at which a pixel counts as predicted building. */
  threshold?: number;
  /** Largest footprint shift searched, in pixels (per axis). */
  maxShift?: number;
  /** Shifts below this many pixels are the model's own outline noise, not an offset. */
  minShift?: number;
  /** Footprints smaller than this many pixels are specks. */
  minPixels?: number;
  /** Area (pixels) at which an object's evidence counts fully; smaller objects count in proportion. */
  areaScale?: number;
  /** Width of the ring outside a footprint that the matched filter reads (pixels). */
  ringWidth?: number;
  /** Evidence at which an object is tagged with its kind. */
  tagAt?: number;
}

export const DEFAULT_LABEL_OBJECT_OPTIONS: Required<LabelObjectOptions> = {
  threshold: 0.5,
  maxShift: 12,
  minShift: 1,
  minPixels: 6,
  areaScale: 50,
  ringWidth: 2,
  tagAt: 0.5,
};

/** Model input side the defaults are set for: a 256-px tile seen at 128 px. */
export const LABEL_OBJECT_MODEL_SIDE = 128;

/**
 * A model with `scale` times as many pixels on the same ground as LABEL_OBJECT_MODEL_SIDE (2 for one at the tile's
 * full 256 px) gets the defaults in ground terms: lengths times `scale`, areas times its square.
 */
export function labelObjectOptionsAtScale(scale: number): Required<LabelObjectOptions> {
  if (!(scale > 0)) throw new RangeError(`labelObjectOptionsAtScale: scale must be positive, got ${scale}`);
  const d = DEFAULT_LABEL_OBJECT_OPTIONS;
  return {
    ...d,
    maxShift: d.maxShift * scale,
    minShift: d.minShift * scale,
    minPixels: Math.round(d.minPixels * scale * scale),
    areaScale: d.areaScale * scale * scale,
    ringWidth: Math.max(1, Math.round(d.ringWidth * scale)),
  };
}

const clamp01 = (v: number) => (v <= 0 ? 0 : v >= 1 ? 1 : v);

/** Pixel indices of every component, grouped by label (counting sort: one pass, no per-pixel objects). */
function pixelsByLabel(labels: Int32Array, count: number): { start: Int32Array; pixels: Int32Array } {
  const start = new Int32Array(count + 2);
  for (let i = 0; i < labels.length; i++) start[labels[i] + 1]++;
  for (let l = 1; l <= count + 1; l++) start[l] += start[l - 1];
  const fill = start.slice();
  const pixels = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) pixels[fill[labels[i]]++] = i;
  return { start, pixels };
}

/** `ring`: the pixels just outside the object (ringAround). */
function measure(
  inside: Int32Array,
  ring: Int32Array,
  probs: ArrayLike<number>,
  label: Uint8Array,
  width: number,
  height: number,
): ObjectMeasures {
  let maxProb = 0;
  let core = 0;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (const p of inside) {
    const v = probs[p];
    if (v > maxProb) maxProb = v;
    if (v >= 0.8) core++;
    const x = p % width;
    const y = (p - x) / width;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  let ringSum = 0;
  let ringLabelled = 0;
  for (const p of ring) {
    ringSum += probs[p];
    ringLabelled += label[p];
  }
  return {
    maxProb,
    coreShare: core / inside.length,
    ringProb: ring.length ? ringSum / ring.length : 0,
    extent: inside.length / ((x1 - x0 + 1) * (y1 - y0 + 1)),
    ringLabelled: ring.length ? ringLabelled / ring.length : 0,
  };
}

function centreOf(pixels: Int32Array, width: number): Point {
  let sx = 0;
  let sy = 0;
  for (const p of pixels) {
    const x = p % width;
    sx += x + 0.5;
    sy += (p - x) / width + 0.5;
  }
  return [sx / pixels.length, sy / pixels.length];
}

/**
 * The objects of one patch: probabilities and a 0/1 label of `width × height` pixels in, every footprint of
 * either that is at least `minPixels` large out, with its evidence and kind.
 */
export function findLabelObjects(
  probs: ArrayLike<number>,
  gt: ArrayLike<number>,
  width: number,
  height: number,
  options: LabelObjectOptions = {},
): FoundObject[] {
  const o = { ...DEFAULT_LABEL_OBJECT_OPTIONS, ...options };
  const n = width * height;
  if (probs.length !== n || gt.length !== n) {
    throw new RangeError(
      `findLabelObjects: ${width}×${height} needs ${n} probabilities and label pixels, got ${probs.length} and ${gt.length}`,
    );
  }
  const label = new Uint8Array(n);
  const pred = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    label[i] = gt[i] ? 1 : 0;
    pred[i] = probs[i] >= o.threshold ? 1 : 0;
  }
  const areaWeight = (area: number) => clamp01(area / o.areaScale);
  const objects: FoundObject[] = [];

  // ── labelled footprints: phantom or offset ──
  const L = labelComponents(label, width, height);
  const lp = pixelsByLabel(L.labels, L.sizes.length - 1);
  // A footprint is matched against prediction that no other footprint accounts for.
  const visible = new Float32Array(n);
  const explained = new Uint8Array(n);
  for (let i = 0; i < n; i++) explained[i] = label[i];
  for (let l = 1; l < L.sizes.length; l++) {
    if (L.sizes[l] < o.minPixels) continue;
    const inside = lp.pixels.subarray(lp.start[l], lp.start[l + 1]);
    for (let i = 0; i < n; i++) visible[i] = L.labels[i] === 0 || L.labels[i] === l ? probs[i] : 0;
    let sum = 0;
    for (const p of inside) sum += probs[p];
    const meanProb = sum / inside.length;
    const shape = { inside, ring: ringAround(inside, width, height, o.ringWidth) };
    const shift = searchShift(shape, visible, width, height, { maxShift: o.maxShift });
    // A shift that runs into the edge of the search is no estimate: the shape matched nothing within reach.
    const inReach = Math.max(Math.abs(shift.dx), Math.abs(shift.dy)) < o.maxShift - 0.5;
    const moved = inReach && Math.hypot(shift.dx, shift.dy) >= o.minShift;
    const w = areaWeight(inside.length);
    // The model sees the shape clearly (cover) where the search placed it, and clearly less where it is drawn.
    const gain = moved ? shift.cover - shift.coverAligned : 0;
    const offset = w * clamp01(gain / 0.3) * clamp01(shift.cover / 0.6);
    const measures = measure(inside, shape.ring, visible, label, width, height);
    // Little under it, and no edge of a building where it is drawn (inside no brighter than around it). Measured
    // on real masks (scripts/bench/label-objects.ts) this separates planted phantoms from real footprints better
    // than the probability at its best shift, which in a dense block lands on a neighbour's unmapped building.
    const phantom = w * (1 - clamp01(meanProb / 0.5)) * (1 - clamp01((meanProb - measures.ringProb) / 0.3));
    const kind: FoundObject['kind'] =
      offset >= o.tagAt && offset >= phantom ? 'offset' : phantom >= o.tagAt ? 'phantom' : 'ok';
    if (kind === 'offset') {
      // Where the footprint belongs is explained too: the building under it is not missing from the label.
      const dx = Math.round(shift.dx);
      const dy = Math.round(shift.dy);
      for (const p of inside) {
        const x = (p % width) + dx;
        const y = Math.floor(p / width) + dy;
        if (x >= 0 && y >= 0 && x < width && y < height) explained[y * width + x] = 1;
      }
    }
    objects.push({
      kind,
      from: 'label',
      score: kind === 'offset' ? offset : kind === 'phantom' ? phantom : Math.max(offset, phantom),
      phantom,
      offset,
      missing: 0,
      area: inside.length,
      centre: centreOf(inside, width),
      meanProb,
      shift,
      measures,
      pixels: inside,
      outline: simplifyRing(traceOutline(L.labels, width, height, l, L.firsts[l]), 0.75),
    });
  }

  // ── predicted buildings: missing ──
  // Prediction near a footprint is the footprint's own outline noise; what lies further out is unexplained.
  // Cutting the predicted mask there splits a block of buildings, some mapped and some not, into its parts.
  const near = dilate(explained, width, height, o.ringWidth);
  const unexplained = new Uint8Array(n);
  for (let i = 0; i < n; i++) unexplained[i] = pred[i] && !near[i] ? 1 : 0;
  const P = labelComponents(unexplained, width, height);
  const pp = pixelsByLabel(P.labels, P.sizes.length - 1);
  for (let l = 1; l < P.sizes.length; l++) {
    if (P.sizes[l] < o.minPixels) continue;
    const inside = pp.pixels.subarray(pp.start[l], pp.start[l + 1]);
    let sum = 0;
    for (const p of inside) sum += probs[p];
    const meanProb = sum / inside.length;
    // Smooth in area and probability so that confident large blobs are ordered, not tied at 1.
    const missing = (1 - Math.exp(-inside.length / o.areaScale)) * clamp01((meanProb - 0.5) / 0.3);
    objects.push({
      kind: missing >= o.tagAt ? 'missing' : 'ok',
      from: 'prediction',
      score: missing,
      phantom: 0,
      offset: 0,
      missing,
      area: inside.length,
      centre: centreOf(inside, width),
      meanProb,
      shift: null,
      measures: measure(inside, ringAround(inside, width, height, o.ringWidth), probs, label, width, height),
      pixels: inside,
      outline: simplifyRing(traceOutline(P.labels, width, height, l, P.firsts[l]), 0.75),
    });
  }
  return objects;
}
