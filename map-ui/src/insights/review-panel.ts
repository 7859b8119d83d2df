/**
 * The label review queue: one patch at a time in label-error rank order — image, label, prediction side by
 * side — and three buttons. Keys: ← / → step, 1 / 2 / 3 mark.
 */
import { h } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { num, Panel, pct } from '../panels/common.ts';
import { insightsApi, type ReviewItem, type ReviewMark } from './insights-api.ts';

const MARKS: { mark: ReviewMark; label: string; key: string }[] = [
  { mark: 'label_wrong', label: 'Label wrong', key: '1' },
  { mark: 'model_wrong', label: 'Model wrong', key: '2' },
  { mark: 'unsure', label: 'Unsure', key: '3' },
];

const DIRECTION: Record<ReviewItem['direction'], string> = {
  missing_in_image: 'the label has buildings the model does not see',
  missing_in_label: 'the model sees buildings the label lacks',
  none: 'no clear disagreement',
};

export function ReviewPanel(props: { runId: number }) {
  const [rank, setRank] = useState(1);
  const [unmarkedOnly, setUnmarkedOnly] = useState(false);
  const [item, setItem] = useState<ReviewItem | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    insightsApi
      .reviewItem(props.runId, rank, unmarkedOnly)
      .then((it) => live && (setItem(it), setError(null)))
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [props.runId, rank, unmarkedOnly]);

  const mark = useCallback(
    async (m: ReviewMark) => {
      if (!item) return;
      try {
        await insightsApi.mark(props.runId, item.idx, m);
        setError(null);
        setItem({ ...item, mark: m });
        if (item.next !== null) setRank(item.next);
      } catch (e) {
        setError((e as Error).message);
      }
    },
    [item, props.runId],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement | null)?.closest('input, textarea, select')) return;
      if (e.key === 'ArrowRight' && item?.next) setRank(item.next);
      else if (e.key === 'ArrowLeft' && item?.previous) setRank(item.previous);
      else {
        const m = MARKS.find((x) => x.key === e.key);
        if (m) void mark(m.mark);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [item, mark]);

  return h(
    Panel,
    {
      title: 'Likely label errors',
      id: 'review',
      subtitle:
        'Patches where the model confidently disagrees with the label and its look-alikes do well. Mark each; exports go to the mappers.',
      actions: h(
        'span',
        { class: 'small' },
        h('a', { href: insightsApi.reviewExport(props.runId, 'geojson') }, 'GeoJSON'),
        ' · ',
        h('a', { href: insightsApi.reviewExport(props.runId, 'csv') }, 'CSV'),
      ),
    },
    error ? h('p', { class: 'error' }, error) : null,
    item
      ? h(
          'div',
          { class: 'review' },
          h(
            'div',
            { class: 'review-nav' },
            h(
              'button',
              {
                'data-step': 'previous',
                disabled: item.previous === null,
                onClick: () => item.previous && setRank(item.previous),
              },
              '← previous',
            ),
            h('span', { class: 'review-rank', 'data-rank': item.rank }, ` ${item.rank} / ${item.total} `),
            h(
              'button',
              {
                'data-step': 'next',
                disabled: item.next === null,
                onClick: () => item.next && setRank(item.next),
              },
              'next →',
            ),
            h(
              'label',
              { class: 'small' },
              h('input', {
                type: 'checkbox',
                checked: unmarkedOnly,
                onChange: (e: Event) => setUnmarkedOnly((e.target as HTMLInputElement).checked),
              }),
              ' skip reviewed',
            ),
          ),
          h(
            'div',
            { class: 'review-triplet', style: { display: 'flex', gap: '4px' } },
            (['image', 'mask', 'prediction'] as const).map((k) =>
              h(
                'figure',
                { key: k, style: { margin: 0 } },
                h('img', { src: item.images[k], width: 128, height: 128, alt: `${k} of patch ${item.idx}` }),
                h('figcaption', { class: 'small muted' }, k === 'mask' ? 'label' : k),
              ),
            ),
          ),
          h(
            'p',
            { class: 'small' },
            `${item.patchKey}${item.group ? ` · ${item.group}` : ''} · score ${num(item.score)} · IoU ${num(item.iou)} · label ${pct(item.gtFraction, 1)} · predicted ${pct(item.predFraction, 1)} — ${DIRECTION[item.direction]}`,
          ),
          h(
            'div',
            { class: 'review-marks' },
            MARKS.map((m) =>
              h(
                'button',
                {
                  key: m.mark,
                  class: item.mark === m.mark ? 'active' : '',
                  title: `key ${m.key}`,
                  onClick: () => void mark(m.mark),
                },
                `${m.label} (${m.key})`,
              ),
            ),
          ),
        )
      : error
        ? null
        : h('p', { class: 'muted small' }, 'loading…'),
  );
}
