/** The insights panels as one mount: label review queues (per patch, per object) and failure families of the project's reference run. */
import { h } from 'preact';
import { FamiliesPanel } from './families-panel.ts';
import { LabelObjectsPanel } from './label-objects-panel.ts';
import { ReviewPanel } from './review-panel.ts';

export function InsightsPanels(props: { runId: number; onSelectPatches?: (patches: number[]) => void }) {
  return h(
    'div',
    { class: 'insights' },
    h(ReviewPanel, { runId: props.runId }),
    h(LabelObjectsPanel, { runId: props.runId }),
    h(FamiliesPanel, { runId: props.runId, onSelect: props.onSelectPatches }),
  );
}

export { FamiliesPanel, familyMembers } from './families-panel.ts';
export { LabelObjectsPanel } from './label-objects-panel.ts';
export { ReviewPanel } from './review-panel.ts';
export { insightsApi } from './insights-api.ts';
