/**
 * The tile inspector: one tile large with its predicted buildings, its scores in plain words, and the
 * training patches nearest it in the model's latent space (image / ground truth / prediction) — the
 * evidence behind the confidence. A training patch opens the same way, with its own IoU.
 */
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Imagery, type Neighbour, type Project, type ScoredTile } from '../data/api.ts';
import { DEFAULT_TIER_THRESHOLDS } from '../../../server/lib/scored-tiles/tiers.ts';
import { lonLatToWorldPixel, parseTaskId } from '../../../server/lib/geo/tiles.ts';
import { num, pct, Panel } from './common.ts';

export type Inspected =
  | { kind: 'tile'; taskId: string }
  | {
      kind: 'patch';
      idx: number;
      iou?: number;
      iouHat?: number;
      group?: string | null;
      taskId?: string | null;
    }
  | null;

/** Why a tile has its priority, in words a mapping manager uses. */
export function priorityReason(
  t: Pick<ScoredTile, 'status' | 'buildingProb' | 'buildingProbLow' | 'buildingProbHigh' | 'priority'>,
): string {
  if (t.status !== 'scored')
    return 'The imagery could not be read, so nobody knows what is here: volunteers should look.';
  // The width of the no-label interval is the tile's doubt: how little the reference run speaks for it.
  const doubt = (t.buildingProbHigh ?? t.buildingProb) - (t.buildingProbLow ?? t.buildingProb);
  const likely = t.buildingProb >= 0.5;
  if (doubt >= 0.5) {
    return likely
      ? 'The model sees buildings here, on a tile unlike those it was checked on: volunteers should map it.'
      : 'This tile looks unlike anything the model was checked on, so its "no building" is a guess: volunteers should look.';
  }
  if (likely)
    return 'The model sees buildings here and does well on tiles like this: volunteers should map it.';
  if (t.priority < DEFAULT_TIER_THRESHOLDS.low)
    return 'The model is confident this tile holds no building and does well on tiles like it: it can be skipped.';
  return 'The model sees no building but is not fully sure: worth a look when volunteers have time.';
}

/** Novelty (percentile of latent distance to the training set) from which the surface extrapolates. */
export const EXTRAPOLATION_NOVELTY = 80;

/**
 * The model's confidence as a manager should read it: the smoothed IoU with its interval, and in words
 * when the tile lies beyond the training data, where the surface's number is an extrapolation.
 */
export function confidenceWords(
  t: Pick<ScoredTile, 'iouHat' | 'iouLow' | 'iouHigh' | 'novelty' | 'status'>,
): { value: string; note: string | null } {
  if (t.status !== 'scored' || !Number.isFinite(t.iouHat)) return { value: '–', note: null };
  const hasInterval = typeof t.iouLow === 'number' && typeof t.iouHigh === 'number';
  const value = hasInterval
    ? `≈ ${num(t.iouHat)} (likely ${num(t.iouLow)}–${num(t.iouHigh)})`
    : `≈ ${num(t.iouHat)} (no interval for this run)`;
  const wide = hasInterval && t.iouHigh! - t.iouLow! >= 0.5;
  let note: string | null = null;
  if (t.novelty >= EXTRAPOLATION_NOVELTY) {
    note = `Extrapolating (novelty ${num(t.novelty, 0)} / 100): the model has seen little like this tile, so its confidence is carried over from distant training tiles and may be far off${wide ? ' — the wide range says so' : ''}.`;
  } else if (wide) {
    note = 'Uncertain: the range is wide, so treat the confidence as a rough guide.';
  }
  return { value, note };
}

function Footprints(props: { tile: ScoredTile; size: number }) {
  const { tile, size } = props;
  if (!tile.footprints) return null;
  // The tile drawn `size` pixels across: its own pixels of the zoom-z world, offset to its corner.
  const at = ([lon, lat]: number[]) => {
    const [px, py] = lonLatToWorldPixel(lon, lat, tile.z, size);
    return `${(px - tile.x * size).toFixed(1)},${(py - tile.y * size).toFixed(1)}`;
  };
  const d = tile.footprints.coordinates
    .flatMap((poly) => poly.map((ring) => `M${ring.map(at).join('L')}Z`))
    .join('');
  return h(
    'svg',
    { class: 'footprints', width: size, height: size, viewBox: `0 0 ${size} ${size}` },
    h('path', { d, fill: 'rgba(0,229,255,0.25)', stroke: '#00e5ff', 'stroke-width': 2 }),
  );
}

export function Triplet(props: { runId: number; idx: number; size?: number; caption?: string }) {
  const size = props.size ?? 84;
  const kinds = [
    ['image', 'image'],
    ['mask', 'ground truth'],
    ['prediction', 'prediction'],
  ] as const;
  return h(
    'figure',
    { class: 'triplet' },
    h(
      'div',
      { class: 'triplet-row' },
      kinds.map(([k, label]) =>
        h('img', {
          key: k,
          src: api.patchImage(props.runId, props.idx, k),
          width: size,
          height: size,
          alt: label,
          title: label,
          loading: 'lazy',
        }),
      ),
    ),
    props.caption ? h('figcaption', null, props.caption) : null,
  );
}

export function Inspector(props: {
  project: Project;
  imagery: Imagery;
  inspected: Inspected;
  onClose: () => void;
}) {
  const { project, imagery, inspected } = props;
  const [tile, setTile] = useState<ScoredTile | null>(null);
  const [neighbours, setNeighbours] = useState<Neighbour[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setTile(null);
    setNeighbours(null);
    setError(null);
    if (inspected?.kind !== 'tile') return;
    let live = true;
    api.tile(project.id, inspected.taskId).then(
      (t) => live && setTile(t),
      (e: Error) => live && setError(e.message),
    );
    api.neighbours(project.id, inspected.taskId).then(
      (n) => live && setNeighbours(n),
      () => live && setNeighbours([]),
    );
    return () => {
      live = false;
    };
  }, [inspected && (inspected.kind === 'tile' ? inspected.taskId : `p${inspected.idx}`)]);

  const close = h('button', { class: 'link', onClick: props.onClose, title: 'Close the inspector' }, 'close');
  if (!inspected) {
    return h(
      Panel,
      { title: 'Tile inspector', id: 'inspector' },
      h(
        'p',
        { class: 'muted' },
        'Click a tile on the map, or a point in the latent view, to see it large with its scores and the training tiles the model compares it to.',
      ),
    );
  }
  if (inspected.kind === 'patch') {
    return h(
      Panel,
      { title: `Training tile ${inspected.taskId ?? `#${inspected.idx}`}`, id: 'inspector', actions: close },
      h(Triplet, { runId: project.runId, idx: inspected.idx, size: 112 }),
      h(
        'dl',
        { class: 'scores' },
        h('dt', null, 'Model accuracy here (IoU)'),
        h(
          'dd',
          null,
          inspected.iou === undefined || Number.isNaN(inspected.iou)
            ? 'undefined (no building in label or prediction)'
            : num(inspected.iou),
        ),
        h('dt', null, 'Model confidence (smoothed IoU)'),
        h('dd', null, num(inspected.iouHat)),
        h('dt', null, 'District'),
        h('dd', null, inspected.group ?? '–'),
      ),
      h(
        'p',
        { class: 'muted' },
        'Left to right: the imagery, what a person mapped (ground truth), what the model predicted.',
      ),
    );
  }
  const t = parseTaskId(inspected.taskId);
  return h(
    Panel,
    { title: `Tile ${inspected.taskId}`, id: 'inspector', actions: close },
    h(
      'div',
      { class: 'inspector-tile' },
      h('img', {
        src: api.tileImage(imagery.id, t.z, t.x, t.y),
        width: 256,
        height: 256,
        alt: `imagery of tile ${inspected.taskId}`,
      }),
      tile ? h(Footprints, { tile, size: 256 }) : null,
    ),
    h('p', { class: 'muted small' }, 'Cyan outlines: buildings the model predicts.'),
    error ? h('p', { class: 'error' }, error) : null,
    tile
      ? h(
          'div',
          null,
          h('p', { class: `reason tier-${tile.tier ?? 'none'}` }, priorityReason(tile)),
          confidenceWords(tile).note
            ? h('p', { class: 'extrapolating', 'data-field': 'extrapolating' }, confidenceWords(tile).note)
            : null,
          h(
            'dl',
            { class: 'scores' },
            h('dt', null, 'Priority'),
            h('dd', null, `${num(tile.priority)} (${tile.tier ?? '–'})`),
            h('dt', null, 'Chance of a building'),
            h('dd', null, pct(tile.buildingProb)),
            h('dt', null, 'Model confidence (smoothed IoU)'),
            h('dd', { 'data-field': 'confidence' }, confidenceWords(tile).value),
            h('dt', null, 'How unusual (novelty)'),
            h('dd', null, `${num(tile.novelty, 0)} / 100`),
            h('dt', null, 'Latent distance to settlements'),
            h('dd', null, num(tile.urbanDistance)),
          ),
        )
      : error
        ? null
        : h('p', { class: 'muted' }, 'Loading scores…'),
    h('h3', null, 'The training tiles the model finds most alike'),
    h(
      'p',
      { class: 'muted small' },
      'Nearest in the model’s latent space. If the model did well on these (high IoU), it is likely to do well here.',
    ),
    neighbours === null
      ? h('p', { class: 'muted' }, 'Finding neighbours…')
      : neighbours.length === 0
        ? h('p', { class: 'muted' }, 'No neighbours (the tile has no latent position).')
        : h(
            'div',
            { class: 'neighbours' },
            neighbours.map((nb) =>
              h(Triplet, {
                key: nb.idx,
                runId: project.runId,
                idx: nb.idx,
                size: 72,
                caption: `${nb.group ?? ''} · IoU ${nb.iou === null ? 'undefined' : num(nb.iou)} · distance ${num(nb.distance, 1)}`,
              }),
            ),
          ),
  );
}
