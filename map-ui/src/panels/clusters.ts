/** The clusters of the latent space: size, mean / median IoU, representatives; a click selects the cluster. */
import { h } from 'preact';
import type { Cluster, Project } from '../data/api.ts';
import { api } from '../data/api.ts';
import { categoryColour } from '../data/colour.ts';
import { patchIdxOf, type LatentData } from '../data/latent-data.ts';
import type { SelectionStore } from '../state/selection.ts';
import { int, num, Panel } from './common.ts';

export function clusterMembers(data: LatentData, cluster: number): number[] {
  const col = data.training.attributes.columns.cluster;
  const out: number[] = [];
  if (!col) return out;
  for (let i = 0; i < data.training.n; i++) if (col.codes[i] === cluster) out.push(patchIdxOf(data, i));
  return out;
}

export function ClustersPanel(props: {
  project: Project;
  clusters: Cluster[];
  reason: string;
  data: LatentData | null;
  store: SelectionStore;
  activeCluster: number | null;
}) {
  const { clusters, data, store } = props;
  return h(
    Panel,
    {
      title: 'Families of similar tiles (clusters)',
      id: 'clusters',
      subtitle:
        'Tiles the model sees alike, grouped. Outlined in the latent view: the urbanised families. Click a row to select it.',
    },
    h(
      'table',
      { class: 'clusters' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, ''),
          h('th', null, 'family'),
          h('th', { class: 'n' }, 'tiles'),
          h('th', { class: 'n' }, 'mean IoU'),
          h('th', { class: 'n' }, 'median'),
          h('th', null, 'typical tiles'),
        ),
      ),
      h(
        'tbody',
        null,
        clusters.map((c) =>
          h(
            'tr',
            {
              key: c.cluster,
              class: `${props.activeCluster === c.cluster ? 'active' : ''} ${c.urbanised ? 'urbanised' : ''}`,
              'data-cluster': c.cluster,
              onClick: () =>
                data &&
                store.set({
                  patches: clusterMembers(data, c.cluster),
                  source: 'cluster',
                  brush: { kind: 'cluster', cluster: c.cluster },
                }),
            },
            h(
              'td',
              null,
              h('span', { class: 'swatch square', style: { background: categoryColour(c.cluster) } }),
            ),
            h('td', null, `${c.cluster}${c.urbanised ? ' · urbanised' : ''}`),
            h('td', { class: 'n' }, int(c.size)),
            h('td', { class: 'n' }, num(c.meanIou)),
            h('td', { class: 'n' }, num(c.medianIou)),
            h(
              'td',
              { class: 'reps' },
              c.representatives.slice(0, 3).map((idx) =>
                h('img', {
                  key: idx,
                  src: api.patchImage(props.project.runId, idx, 'image'),
                  width: 36,
                  height: 36,
                  loading: 'lazy',
                  alt: `representative ${idx}`,
                }),
              ),
            ),
          ),
        ),
      ),
    ),
    h('p', { class: 'small muted' }, `Why these are "urbanised": ${props.reason}`),
  );
}
