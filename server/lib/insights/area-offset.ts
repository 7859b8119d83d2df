/**
 * An imagery offset: every footprint of an area traced against imagery that was itself shifted, so the whole
 * label sits a few metres off the buildings the model sees. Reported once, as what it is — one shift for the
 * area, fixed by aligning the imagery (or moving every footprint) — not as dozens of separate moved footprints.
 *
 * The evidence: the whole label — at least a few footprints — slid over the prediction as one shape (the same
 * matched filter as one footprint, footprint-shift.ts) fits clearly better moved than where it is. The footprints
 * whose own best shift agrees are counted as its members, and are not reported again one by one.
 */
import { ringAround, searchShift } from './footprint-shift.ts';
import { DEFAULT_LABEL_OBJECT_OPTIONS, type FoundObject, type LabelObjectOptions } from './label-objects.ts';

export interface AreaOffsetFinding {
  kind: 'area_offset' | 'ok';
  /** Shift that moves the label onto the buildings (pixels, x right, y down). */
  dx: number;
  dy: number;
  /** Evidence 0..1. */
  score: number;
  /** Labelled footprints whose own best shift agrees with the area's (within `agreeWithin` px). */
  members: number;
  /** Labelled footprints the model sees somewhere near (their own match is positive). */
  footprints: number;
  /** Matched-filter response of the whole label at the best shift and where it is drawn. */
  match: number;
  aligned: number;
  /** Indices into the objects given of the member footprints. */
  memberIndices: number[];
}

export interface AreaOffsetOptions extends Pick<LabelObjectOptions, 'maxShift' | 'minShift' | 'ringWidth'> {
  /** Footprints the label must hold before a shift of all of them is the area's, not one footprint's. */
  minFootprints?: number;
  /** A footprint agrees when its own shift is within this many pixels of the area's (1.5 × minShift by default). */
  agreeWithin?: number;
  tagAt?: number;
}

const clamp01 = (v: number) => (v <= 0 ? 0 : v >= 1 ? 1 : v);

/**
 * The area's offset from a patch's label objects (as findLabelObjects gave them) and the probabilities and
 * label they came from. Null when the label holds no footprint.
 */
export function findAreaOffset(
  objects: FoundObject[],
  probs: ArrayLike<number>,
  gt: ArrayLike<number>,
  width: number,
  height: number,
  options: AreaOffsetOptions = {},
): AreaOffsetFinding | null {
  const maxShift = options.maxShift ?? DEFAULT_LABEL_OBJECT_OPTIONS.maxShift;
  const minShift = options.minShift ?? DEFAULT_LABEL_OBJECT_OPTIONS.minShift;
  const ringWidth = options.ringWidth ?? DEFAULT_LABEL_OBJECT_OPTIONS.ringWidth;
  const minFootprints = options.minFootprints ?? 3;
  // 1.5 px at the defaults' scale, kept in ground terms where the shifts are (labelObjectOptionsAtScale).
  const agreeWithin = options.agreeWithin ?? 1.5 * (minShift / DEFAULT_LABEL_OBJECT_OPTIONS.minShift);
  const tagAt = options.tagAt ?? DEFAULT_LABEL_OBJECT_OPTIONS.tagAt;
  const inside: number[] = [];
  for (let i = 0; i < gt.length; i++) if (gt[i]) inside.push(i);
  if (inside.length === 0) return null;
  const shape = { inside: Int32Array.from(inside), ring: ringAround(inside, width, height, ringWidth) };
  const whole = searchShift(shape, probs, width, height, { maxShift, maxSamples: 4000 });
  const labelled = objects.map((o, i) => ({ o, i })).filter(({ o }) => o.from === 'label' && o.shift);
  const seen = labelled.filter(({ o }) => o.shift!.match > 0.1);
  const memberIndices = seen
    .filter(({ o }) => Math.hypot(o.shift!.dx - whole.dx, o.shift!.dy - whole.dy) <= agreeWithin)
    .map(({ i }) => i);
  // A shift that runs into the edge of the search is no estimate.
  const inReach = Math.max(Math.abs(whole.dx), Math.abs(whole.dy)) < maxShift - 0.5;
  const moved = inReach && Math.hypot(whole.dx, whole.dy) >= minShift;
  const gain = whole.match - Math.max(0, whole.aligned);
  // Measured on real masks (scripts/bench/label-objects.ts): the whole label's gain separates planted area
  // offsets from clean windows far better than single footprints' shifts agree, which the model's soft outlines
  // scatter — so the gain carries the evidence and the members are reported beside it.
  const score = moved ? clamp01(gain / 0.14) * clamp01(whole.match / 0.15) : 0;
  return {
    kind: score >= tagAt && labelled.length >= minFootprints ? 'area_offset' : 'ok',
    dx: whole.dx,
    dy: whole.dy,
    score,
    members: memberIndices.length,
    footprints: seen.length,
    match: whole.match,
    aligned: whole.aligned,
    memberIndices,
  };
}
