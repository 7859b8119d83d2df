/**
 * The manager's decision: a priority threshold, with the effort curve from the server showing, live,
 * how many tiles go to volunteers, how many are skipped and how many building tiles the skipped ones
 * are expected to hold. Then the exports, downloaded from the server's routes.
 */
import { h } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, EXPORTS, type EffortPoint, type ExportKind, type Project } from '../data/api.ts';
import { int, num, Panel, pct } from './common.ts';
import { PublishSection } from './publish.ts';

export function pointAt(points: EffortPoint[], threshold: number): EffortPoint | null {
  if (points.length === 0) return null;
  let best = points[0];
  for (const p of points)
    if (Math.abs(p.threshold - threshold) < Math.abs(best.threshold - threshold)) best = p;
  return best;
}

export function ThresholdPanel(props: {
  project: Project;
  version: number;
  threshold: number;
  onThreshold: (t: number) => void;
}) {
  const [points, setPoints] = useState<EffortPoint[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api.effort(props.project.id).then(
      (r) => live && setPoints([...r.points].sort((a, b) => a.threshold - b.threshold)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [props.project.id, props.version]);
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
  if (!points || !current)
    return h(
      Panel,
      { title: 'Which tiles go to volunteers', id: 'thresholds' },
      h('p', { class: 'muted' }, 'Loading the effort curve…'),
    );
  const total = current.sent + current.skipped;
  const W = 300;
  const H = 120;
  // Effort curve: x = share of tiles sent, y = expected share of building tiles found.
  const path = [...points]
    .sort((a, b) => a.sent - b.sent)
    .map(
      (p, i) =>
        `${i === 0 ? 'M' : 'L'}${((p.sent / Math.max(1, total)) * W).toFixed(1)},${(H - p.expectedRecall * H).toFixed(1)}`,
    )
    .join('');
  const cx = (current.sent / Math.max(1, total)) * W;
  const cy = H - current.expectedRecall * H;
  return h(
    Panel,
    {
      title: 'Which tiles go to volunteers',
      id: 'thresholds',
      subtitle: 'Tiles at or above the priority threshold go to volunteers; the rest are skipped.',
    },
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
      {
        class: 'effort-figures',
        'data-sent': current.sent,
        'data-skipped': current.skipped,
        'data-missed': current.expectedMissedBuildingTiles.toFixed(2),
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
        h('span', null, 'building tiles expected missed'),
      ),
    ),
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
  );
}
