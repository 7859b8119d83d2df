/** Small shared pieces of the panels: number formatting, a legend bar, a panel frame. */
import { h, type ComponentChildren } from 'preact';
import { gradientCss, type ContinuousScale } from '../data/colour.ts';

export const pct = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(digits)} %`;
export const num = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
export const int = (v: number) => v.toLocaleString('en');

export function Panel(props: {
  title: string;
  subtitle?: string;
  id?: string;
  children?: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return h(
    'section',
    { class: 'panel', id: props.id },
    h('header', { class: 'panel-head' }, h('h2', null, props.title), props.actions ?? null),
    props.subtitle ? h('p', { class: 'panel-sub' }, props.subtitle) : null,
    props.children,
  );
}

export function GradientLegend(props: {
  title: string;
  scale: ContinuousScale;
  low?: string;
  high?: string;
  extra?: ComponentChildren;
}) {
  return h(
    'div',
    { class: 'legend' },
    h('div', { class: 'legend-title' }, props.title),
    h('div', { class: 'legend-bar', style: { background: gradientCss(props.scale) } }),
    h(
      'div',
      { class: 'legend-ends' },
      h('span', null, props.low ?? props.scale.lowLabel),
      h('span', null, props.high ?? props.scale.highLabel),
    ),
    props.extra ?? null,
  );
}

export function Swatch(props: { colour: string; label: string; shape?: 'dot' | 'square' | 'ring' }) {
  return h(
    'span',
    { class: 'swatch-item' },
    h('span', {
      class: `swatch ${props.shape ?? 'square'}`,
      style: { background: props.shape === 'ring' ? 'transparent' : props.colour, borderColor: props.colour },
    }),
    props.label,
  );
}
