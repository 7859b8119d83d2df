/**
 * The project's overlays as volunteers' tools take them (GET /api/projects/:id/overlays/tools): per layer the
 * XYZ template, JOSM's and iD's, and MapSwipe's overlay settings, each with a copy button, so a manager can
 * paste them into a Tasking Manager project, an editor or a MapSwipe draft as they are.
 */
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Project, type ToolTemplate } from '../data/api.ts';

function CopyRow(props: { label: string; text: string; layer: string }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = () =>
    navigator.clipboard.writeText(props.text).then(
      () => setCopied('yes'),
      () => setCopied('failed'),
    );
  return h(
    'div',
    { class: 'template-row' },
    h('span', { class: 'template-label' }, props.label),
    h('code', { class: 'template-text', title: props.text }, props.text),
    h(
      'button',
      {
        type: 'button',
        class: 'button small',
        onClick: copy,
        'data-copy': `${props.layer}:${props.label}`,
      },
      copied === 'yes' ? 'copied' : copied === 'failed' ? 'select and copy' : 'copy',
    ),
  );
}

function LayerTemplates(props: { t: ToolTemplate }) {
  const { t } = props;
  return h(
    'div',
    { class: 'layer-templates', 'data-layer': t.id },
    h(
      'div',
      { class: 'legend-title' },
      `${t.title} — ${t.kind === 'vector' ? `vector tiles, source layer "${t.sourceLayer}"` : 'PNG tiles'}, zoom ${t.minZoom}–${t.maxZoom}`,
    ),
    h(CopyRow, { label: 'XYZ', text: t.xyz, layer: t.id }),
    t.josm ? h(CopyRow, { label: 'JOSM', text: t.josm, layer: t.id }) : null,
    h(CopyRow, { label: t.kind === 'vector' ? 'iD map data' : 'iD imagery', text: t.iD, layer: t.id }),
    h(CopyRow, { label: 'MapSwipe overlay', text: JSON.stringify(t.mapswipe), layer: t.id }),
  );
}

export function OverlayTemplates(props: { project: Project }) {
  const [layers, setLayers] = useState<ToolTemplate[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.overlayTools(props.project.id).then(setLayers, (e: Error) => setError(e.message));
  }, [props.project.id]);
  return h(
    'div',
    { class: 'overlay-templates' },
    h(
      'p',
      { class: 'panel-sub' },
      'Overlays for the tools volunteers map in — readable without the manager token:',
    ),
    error ? h('p', { class: 'note' }, `Templates unavailable: ${error}`) : null,
    layers ? layers.map((t) => h(LayerTemplates, { key: t.id, t })) : null,
  );
}
