/**
 * Failure families: per family its dominant error, IoU histogram, group mix and the patches that show it
 * (medoid, prototypes, criticisms). A click selects the family's patches in the shared selection.
 */
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../data/api.ts';
import { int, num, Panel } from '../panels/common.ts';
import { insightsApi, type Family, type FamiliesReport } from './insights-api.ts';

const ERROR_LABEL: Record<Family['dominantError'], string> = {
  false_alarms: 'false alarms',
  missed_buildings: 'missed buildings',
  boundary: 'boundary errors',
  none: '—',
};

/** Patch idx values of a family, from the report's assignment column. */
export function familyMembers(report: FamiliesReport, id: string): number[] {
  const out: number[] = [];
  report.assignment.forEach((f, i) => f === id && out.push(i));
  return out;
}

function Histogram(props: { family: Family }) {
  const max = Math.max(1, ...props.family.iouHistogram.counts);
  return h(
    'span',
    { class: 'hist', style: { display: 'inline-flex', alignItems: 'flex-end', gap: '1px', height: '20px' } },
    props.family.iouHistogram.counts.map((c, i) =>
      h('span', {
        key: i,
        title: `IoU ${props.family.iouHistogram.edges[i].toFixed(1)}+: ${c}`,
        style: { width: '4px', height: `${Math.round((20 * c) / max)}px`, background: '#6a51a3' },
      }),
    ),
  );
}

export function FamiliesPanel(props: { runId: number; onSelect?: (patches: number[]) => void }) {
  const [report, setReport] = useState<FamiliesReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    insightsApi
      .families(props.runId)
      .then((r) => live && setReport(r))
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [props.runId]);
  const thumb = (idx: number, role: string) =>
    h('img', {
      key: `${role}${idx}`,
      src: api.patchImage(props.runId, idx, 'image'),
      width: 32,
      height: 32,
      loading: 'lazy',
      title: `${role} #${idx}`,
      alt: `${role} ${idx}`,
    });
  return h(
    Panel,
    {
      title: 'Failure families',
      id: 'families',
      subtitle: 'Sub-clusters of the latent clusters and what goes wrong in each.',
      actions: h(
        'a',
        { class: 'small', href: insightsApi.familiesHtml(props.runId), target: '_blank' },
        'HTML report',
      ),
    },
    error ? h('p', { class: 'error' }, error) : null,
    report
      ? h(
          'table',
          { class: 'families' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'family'),
              h('th', { class: 'n' }, 'tiles'),
              h('th', null, 'dominant error'),
              h('th', { class: 'n' }, 'mean IoU'),
              h('th', null, 'IoU'),
              h('th', null, 'medoid · prototypes · criticisms'),
            ),
          ),
          h(
            'tbody',
            null,
            [...report.families]
              .sort((a, b) => (a.meanIou ?? 1) - (b.meanIou ?? 1))
              .map((f) =>
                h(
                  'tr',
                  {
                    key: f.id,
                    class: f.dominantError,
                    onClick: () => props.onSelect?.(familyMembers(report, f.id)),
                    title: Object.entries(f.groupMix)
                      .map(([g, n]) => `${g} ${n}`)
                      .join(', '),
                  },
                  h('td', null, f.id),
                  h('td', { class: 'n' }, int(f.size)),
                  h('td', null, ERROR_LABEL[f.dominantError]),
                  h('td', { class: 'n' }, num(f.meanIou)),
                  h('td', null, h(Histogram, { family: f })),
                  h('td', { class: 'reps' }, [
                    thumb(f.medoid, 'medoid'),
                    ...f.prototypes.slice(0, 2).map((i) => thumb(i, 'prototype')),
                    ...f.criticisms.slice(0, 2).map((i) => thumb(i, 'criticism')),
                  ]),
                ),
              ),
          ),
        )
      : error
        ? null
        : h('p', { class: 'muted small' }, 'loading…'),
  );
}
