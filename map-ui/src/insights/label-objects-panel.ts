/**
 * Label errors per object, each kind its own queue: a tab per kind with its count, the strongest objects of the
 * chosen kind with their outline drawn over the patch, the suggested fix, and links for mappers (JOSM per object,
 * GeoJSON and MapRoulette per kind).
 */
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { num, Panel } from '../panels/common.ts';
import { insightsApi, type LabelObjectItem, type LabelObjectKind } from './insights-api.ts';

const KINDS: { kind: LabelObjectKind; label: string; colour: string }[] = [
  { kind: 'phantom', label: 'Phantom', colour: '#e4572e' },
  { kind: 'missing', label: 'Missing', colour: '#29a3d6' },
  { kind: 'offset', label: 'Offset', colour: '#f2a541' },
  { kind: 'area_offset', label: 'Area offset', colour: '#9b5de5' },
];

const SHOWN = 8;
const THUMB = 112;

/** The patch with the object's outline over it; the outline is in the patch's pixels, read off the image. */
function ObjectThumb(props: { item: LabelObjectItem; colour: string }) {
  const [size, setSize] = useState<[number, number] | null>(null);
  const { item } = props;
  const points = item.outlinePx.map(([x, y]) => `${x},${y}`).join(' ');
  return h(
    'div',
    { class: 'object-thumb', style: { position: 'relative', width: `${THUMB}px`, height: `${THUMB}px` } },
    h('img', {
      src: item.images.image,
      width: THUMB,
      height: THUMB,
      alt: `patch ${item.idx}`,
      onLoad: (e: Event) => {
        const img = e.target as HTMLImageElement;
        setSize([img.naturalWidth, img.naturalHeight]);
      },
    }),
    size
      ? h(
          'svg',
          {
            viewBox: `0 0 ${size[0]} ${size[1]}`,
            width: THUMB,
            height: THUMB,
            style: { position: 'absolute', left: 0, top: 0 },
          },
          h('polygon', {
            points,
            fill: 'none',
            stroke: props.colour,
            'stroke-width': Math.max(1.5, size[0] / 80),
          }),
        )
      : null,
  );
}

function moveWords(item: LabelObjectItem): string {
  if (item.eastM !== null && item.northM !== null) {
    return `${Math.abs(item.eastM).toFixed(1)} m ${item.eastM >= 0 ? 'east' : 'west'}, ${Math.abs(item.northM).toFixed(1)} m ${item.northM >= 0 ? 'north' : 'south'}`;
  }
  if (item.dxPx !== null && item.dyPx !== null)
    return `dx ${item.dxPx.toFixed(1)} px, dy ${item.dyPx.toFixed(1)} px`;
  return '';
}

export function LabelObjectsPanel(props: { runId: number }) {
  const [counts, setCounts] = useState<Record<LabelObjectKind, number> | null>(null);
  const [kind, setKind] = useState<LabelObjectKind>('phantom');
  const [items, setItems] = useState<LabelObjectItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    insightsApi
      .labelObjectCounts(props.runId)
      .then((c) => live && (setCounts(c), setError(null)))
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [props.runId]);

  useEffect(() => {
    let live = true;
    setItems(null);
    insightsApi
      .labelObjects(props.runId, kind, SHOWN)
      .then((r) => live && setItems(r.items))
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [props.runId, kind]);

  const colour = KINDS.find((k) => k.kind === kind)!.colour;
  return h(
    Panel,
    {
      title: 'Label errors by object',
      id: 'label-objects',
      subtitle:
        'Footprints the model sees nothing under (delete), buildings with no footprint (add), footprints drawn beside their building (move), and whole areas off the imagery — each ranked by its own evidence.',
      actions: h(
        'span',
        { class: 'small' },
        h(
          'a',
          {
            href: insightsApi.labelObjectsExport(props.runId, kind, 'geojson'),
            'data-object-export': 'geojson',
          },
          'GeoJSON',
        ),
        ' · ',
        h(
          'a',
          {
            href: insightsApi.labelObjectsExport(props.runId, kind, 'maproulette'),
            'data-object-export': 'maproulette',
          },
          'MapRoulette',
        ),
      ),
    },
    error ? h('p', { class: 'error' }, error) : null,
    h(
      'div',
      { class: 'object-kinds', role: 'tablist' },
      KINDS.map((k) =>
        h(
          'button',
          {
            key: k.kind,
            role: 'tab',
            'data-kind': k.kind,
            'aria-selected': k.kind === kind,
            class: k.kind === kind ? 'on' : '',
            onClick: () => setKind(k.kind),
          },
          `${k.label} (${counts ? counts[k.kind] : '…'})`,
        ),
      ),
    ),
    items === null
      ? error
        ? null
        : h('p', { class: 'muted small' }, 'loading…')
      : items.length === 0
        ? h('p', { class: 'muted small object-none' }, 'None of this kind.')
        : h(
            'ol',
            { class: 'object-list' },
            items.map((it) =>
              h(
                'li',
                { key: `${it.idx}-${it.n}`, class: 'object-item', 'data-kind': it.kind },
                h(ObjectThumb, { item: it, colour }),
                h(
                  'div',
                  { class: 'small' },
                  h('strong', null, `${it.fix}`),
                  it.kind === 'offset' || it.kind === 'area_offset' ? ` by ${moveWords(it)}` : '',
                  ` · confidence ${num(it.score)}`,
                  it.members !== null ? ` · ${it.members} footprints` : '',
                  // One finding for neighbouring patches whose imagery is offset the same way.
                  (it.patches ?? 1) > 1 ? ` · across ${it.patches} patches` : '',
                  h('br', null),
                  h('span', { class: 'muted' }, `${it.patchKey}${it.group ? ` · ${it.group}` : ''}`),
                  it.josm
                    ? [' · ', h('a', { href: it.josm, target: '_blank', rel: 'noopener' }, 'open in JOSM')]
                    : null,
                ),
              ),
            ),
          ),
  );
}
