/**
 * The manager's decision: a priority threshold, with the effort curve from the server showing, live,
 * how many tiles go to volunteers, how many are skipped and how many building tiles the skipped ones
 * are expected to hold — each with its range, and first what the figures rest on (the reference run alone,
 * unverified where the region is unlike it, or labels from the region). Then the exports.
 */
import { h } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  api,
  EXPORTS,
  type EffortPoint,
  type ExportKind,
  type Project,
  type ProjectEffort,
} from '../data/api.ts';
import { int, num, Panel, pct } from './common.ts';
import { PublishSection } from './publish.ts';
import { OverlayTemplates } from './overlay-templates.ts';

export function pointAt(points: EffortPoint[], threshold: number): EffortPoint | null {
  if (points.length === 0) return null;
  let best = points[0];
  for (const p of points)
    if (Math.abs(p.threshold - threshold) < Math.abs(best.threshold - threshold)) best = p;
  return best;
}

/** The highest threshold whose expected recall still reaches `target` (the fewest tiles sent). */
export function thresholdFor(points: EffortPoint[], target: number): EffortPoint | null {
  let best: EffortPoint | null = null;
  for (const p of points)
    if (p.expectedRecall >= target - 1e-12 && (!best || p.threshold > best.threshold)) best = p;
  return best;
}

const TARGETS = [0.9, 0.95, 0.99];

/** What the figures rest on, in one line a manager reads before any number. */
function BasisNote(props: { effort: ProjectEffort }) {
  const { basis, coverage } = props.effort;
  if (basis.kind === 'labels')
    return h('p', { class: 'basis basis-labels', 'data-basis': 'labels' }, `Figures ${basis.promise}.`);
  if (!coverage.verified)
    return h(
      'p',
      { class: 'basis basis-unverified', 'data-basis': 'unverified', role: 'status' },
      h('strong', null, 'Unverified. '),
      `${pct(coverage.uncoveredShare)} of this region's tiles look unlike anything the reference run was checked on, ` +
        "so these figures are estimates with wide ranges. Draw a calibration sample below and import the volunteers' answers to make them hold here.",
    );
  return h(
    'p',
    { class: 'basis basis-reference', 'data-basis': 'reference' },
    'Figures from the reference run alone: this region looks like the tiles the model was checked on.',
  );
}

/** How the scoring job read the region's imagery (restored where hazy or coarse), in one sentence. */
function RegionLookNote(props: { look: NonNullable<ProjectEffort['regionLook']> }) {
  const { look } = props;
  return h(
    'p',
    { class: `region-look region-look-${look.look}`, 'data-region-look': look.look, title: look.detail },
    look.sentence,
  );
}

/** Why volunteers are needed at all: what the model's own output would miss if it were trusted alone. */
function ModelAloneLine(props: { m: NonNullable<ProjectEffort['modelAlone']> }) {
  const { m } = props;
  return h(
    'p',
    {
      class: 'model-alone',
      'data-model-alone': m.expectedMissedBuildingTiles.toFixed(2),
      'data-model-alone-low': m.missedLow.toFixed(2),
      'data-model-alone-high': m.missedHigh.toFixed(2),
    },
    `The model alone paints nothing on ${int(m.emptyTiles)} ${m.emptyTiles === 1 ? 'tile' : 'tiles'}; about ` +
      `${num(m.expectedMissedBuildingTiles, 0)} building ${Math.round(m.expectedMissedBuildingTiles) === 1 ? 'tile' : 'tiles'} ` +
      `(${num(m.missedLow, 0)}–${num(m.missedHigh, 0)}, ${pct(m.expectedMissShare)} of all) hide there — ` +
      'the ones only volunteers can find.',
  );
}

export function ThresholdPanel(props: {
  project: Project;
  version: number;
  threshold: number;
  onThreshold: (t: number) => void;
}) {
  const [effort, setEffort] = useState<ProjectEffort | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api.effort(props.project.id).then(
      (r) => live && setEffort({ ...r, points: [...r.points].sort((a, b) => a.threshold - b.threshold) }),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [props.project.id, props.version]);
  const points = effort?.points ?? null;
  const current = useMemo(
    () => (points ? pointAt(points, props.threshold) : null),
    [points, props.threshold],
  );
  if (error)
    return h(
      Panel,
      { title: 'Which tiles go to volunteers', id: 'thresholds' },
      h('p', { class: 'error' }, error),
    );
  if (!effort || !points || !current)
    return h(
      Panel,
      { title: 'Which tiles go to volunteers', id: 'thresholds' },
      h('p', { class: 'muted' }, 'Loading the effort curve…'),
    );
  const total = current.sent + current.skipped;
  const W = 300;
  const H = 120;
  // Effort curve: x = share of tiles sent, y = share of building tiles found, with its interval as a band.
  const bySent = [...points].sort((a, b) => a.sent - b.sent);
  const x = (p: EffortPoint) => ((p.sent / Math.max(1, total)) * W).toFixed(1);
  const y = (v: number) => (H - v * H).toFixed(1);
  const path = bySent.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p)},${y(p.expectedRecall)}`).join('');
  const band =
    bySent.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p)},${y(p.recallHigh)}`).join('') +
    [...bySent]
      .reverse()
      .map((p) => `L${x(p)},${y(p.recallLow)}`)
      .join('') +
    'Z';
  const cx = (current.sent / Math.max(1, total)) * W;
  const cy = H - current.expectedRecall * H;
  const level = pct(effort.confidence);
  const guarantee = effort.guarantee;
  return h(
    Panel,
    {
      title: 'Which tiles go to volunteers',
      id: 'thresholds',
      subtitle: 'Tiles at or above the priority threshold go to volunteers; the rest are skipped.',
    },
    h(BasisNote, { effort }),
    effort.regionLook ? h(RegionLookNote, { look: effort.regionLook }) : null,
    h(
      'label',
      { class: 'slider' },
      h('span', null, `Priority threshold ${num(current.threshold)}`),
      h('input', {
        type: 'range',
        min: 0,
        max: 1,
        step: 0.01,
        value: props.threshold,
        'aria-label': 'priority threshold',
        onInput: (e: Event) => props.onThreshold(Number((e.target as HTMLInputElement).value)),
      }),
    ),
    h(
      'div',
      { class: 'recall-targets' },
      h('span', { class: 'muted' }, 'Find at least '),
      TARGETS.map((t) => {
        const p = thresholdFor(points, t);
        return h(
          'button',
          {
            key: t,
            type: 'button',
            disabled: !p,
            'data-target': t,
            title: p ? `threshold ${num(p.threshold)}: ${int(p.sent)} tiles to volunteers` : 'not reachable',
            onClick: () => p && props.onThreshold(p.threshold),
          },
          pct(t),
        );
      }),
      guarantee && guarantee.skips
        ? h(
            'button',
            {
              type: 'button',
              class: 'guarantee',
              'data-guarantee': guarantee.threshold,
              title: guarantee.promise,
              onClick: () => props.onThreshold(guarantee.threshold),
            },
            `guaranteed ≥ ${pct(guarantee.target)}`,
          )
        : null,
    ),
    h(
      'div',
      {
        class: 'effort-figures',
        'data-sent': current.sent,
        'data-skipped': current.skipped,
        'data-missed': current.expectedMissedBuildingTiles.toFixed(2),
        'data-recall': current.expectedRecall.toFixed(4),
        'data-recall-low': current.recallLow.toFixed(4),
        'data-recall-high': current.recallHigh.toFixed(4),
        'data-threshold': current.threshold,
      },
      h('div', null, h('strong', null, int(current.sent)), h('span', null, 'tiles to volunteers')),
      h(
        'div',
        null,
        h('strong', null, int(current.skipped)),
        h('span', null, `skipped (${pct(current.skipped / Math.max(1, total))})`),
      ),
      h(
        'div',
        null,
        h('strong', null, num(current.expectedMissedBuildingTiles, 1)),
        h(
          'span',
          null,
          `building tiles expected missed (${num(current.missedLow, 0)}–${num(current.missedHigh, 0)})`,
        ),
      ),
    ),
    h(
      'p',
      { class: 'recall-line' },
      `Expected recall ${pct(current.expectedRecall, 1)} — ${level} range ${pct(current.recallLow, 1)} to ${pct(current.recallHigh, 1)}.`,
    ),
    guarantee ? h('p', { class: 'muted guarantee-line' }, guarantee.promise) : null,
    effort.modelAlone ? h(ModelAloneLine, { m: effort.modelAlone }) : null,
    h(
      'svg',
      {
        class: 'effort',
        width: W,
        height: H + 30,
        viewBox: `-4 -4 ${W + 8} ${H + 34}`,
        role: 'img',
        'aria-label': 'effort curve',
      },
      h('rect', { x: 0, y: 0, width: W, height: H, fill: '#fafafa', stroke: '#ddd' }),
      h('path', { d: band, fill: '#4e79a7', 'fill-opacity': 0.18, stroke: 'none', class: 'effort-band' }),
      h('path', { d: path, fill: 'none', stroke: '#4e79a7', 'stroke-width': 2 }),
      h('circle', { cx, cy, r: 5, fill: '#f57c00' }),
      h('text', { x: 0, y: H + 14, class: 'axis' }, 'tiles sent →'),
      h('text', { x: W, y: H + 14, class: 'axis', 'text-anchor': 'end' }, int(total)),
      h('text', { x: 4, y: 12, class: 'axis' }, 'building tiles found ↑'),
      h(
        'text',
        { x: W - 4, y: H + 26, class: 'axis', 'text-anchor': 'end' },
        `expected recall here: ${pct(current.expectedRecall, 1)}`,
      ),
    ),
  );
}

export function ExportsPanel(props: { project: Project }) {
  return h(
    Panel,
    {
      title: 'Export for the mapping tools',
      id: 'exports',
      subtitle:
        'Downloads use the tiers of the scored project (high / medium / low / skip); publishing creates the projects in the tool itself.',
    },
    h(
      'div',
      { class: 'exports' },
      (Object.keys(EXPORTS) as ExportKind[]).map((k) =>
        h(
          'a',
          {
            key: k,
            class: 'button',
            href: api.exportUrl(props.project.id, k),
            download: '',
            'data-export': k,
            title: EXPORTS[k].help,
          },
          EXPORTS[k].label,
        ),
      ),
    ),
    h(PublishSection, { project: props.project }),
    h(OverlayTemplates, { project: props.project }),
  );
}
