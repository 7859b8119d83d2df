/**
 * The calibration panel: draw a random sample of the project's tiles for volunteers to answer, download it
 * (CSV, MapSwipe Find drafts), import MapSwipe's answers, and read what they make true — the promise in
 * words, on how many labels: expected recall at the current threshold with its interval, the threshold
 * with a recall guarantee, and after the mapping the recall volunteers achieved and the tiles where they
 * and the model disagree most.
 */
import { h } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { Project } from '../data/api.ts';
import {
  trustApi,
  type AfterMapping,
  type ImportSummary,
  type SampleSummary,
  type TrustReport,
} from '../data/trust-api.ts';
import { int, Panel, pct } from './common.ts';

type Load<T> =
  { state: 'loading' } | { state: 'none'; message: string; hint?: string } | { state: 'ok'; value: T };

function asLoad<T>(p: Promise<T>, set: (l: Load<T>) => void, live: () => boolean) {
  p.then(
    (value) => live() && set({ state: 'ok', value }),
    (e: Error & { hint?: string }) => live() && set({ state: 'none', message: e.message, hint: e.hint }),
  );
}

export function CalibrationPanel(props: { project: Project; threshold: number }) {
  const id = props.project.id;
  const [samples, setSamples] = useState<SampleSummary[] | null>(null);
  const [mapped, setMapped] = useState(0);
  const [report, setReport] = useState<Load<TrustReport>>({ state: 'loading' });
  const [after, setAfter] = useState<Load<AfterMapping>>({ state: 'loading' });
  const [version, setVersion] = useState(0);
  const [size, setSize] = useState(200);
  const [purpose, setPurpose] = useState<'sample' | 'mapping'>('sample');
  const [msProject, setMsProject] = useState('');
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const latest = samples && samples.length > 0 ? samples[samples.length - 1] : null;

  useEffect(() => {
    let live = true;
    trustApi.samples(id).then(
      (r) => {
        if (!live) return;
        setSamples(r.samples);
        const m = r.labels.mapping;
        setMapped(m.building + m.no_building + m.bad_imagery);
      },
      (e: Error) => live && setNote({ kind: 'error', text: e.message }),
    );
    return () => {
      live = false;
    };
  }, [id, version]);

  // Figures are asked for only once there are labels to rest on, so the panel's normal states make no failing request.
  const labelled = latest?.labelled ?? 0;
  useEffect(() => {
    let live = true;
    if (!samples) return;
    if (!latest || labelled === 0) {
      setReport({
        state: 'none',
        message: latest
          ? `Sample ${latest.id} has no usable label yet`
          : 'No calibration sample yet: the effort curve above is the model’s own estimate',
        hint: latest
          ? 'export it to MapSwipe, then import the answers'
          : 'draw one, have volunteers answer it, import the answers',
      });
      return;
    }
    setReport({ state: 'loading' });
    // Debounced: the slider moves in steps of 0.01 and every figure is one request.
    const t = setTimeout(
      () => asLoad(trustApi.report(id, props.threshold, latest.id), setReport, () => live),
      150,
    );
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [id, samples, latest?.id, labelled, props.threshold]);

  useEffect(() => {
    let live = true;
    if (mapped > 0 && labelled > 0) asLoad(trustApi.afterMapping(id, latest?.id), setAfter, () => live);
    else setAfter({ state: 'none', message: '' });
    return () => {
      live = false;
    };
  }, [id, mapped, labelled, latest?.id, version]);

  const act = useCallback(async (what: () => Promise<string>) => {
    setBusy(true);
    setNote(null);
    try {
      setNote({ kind: 'ok', text: await what() });
      setVersion((v) => v + 1);
    } catch (e) {
      const err = e as Error & { hint?: string };
      setNote({ kind: 'error', text: err.hint ? `${err.message} — ${err.hint}` : err.message });
    } finally {
      setBusy(false);
    }
  }, []);

  const draw = () =>
    act(async () => {
      const s = await trustApi.drawSample(id, { size });
      return `Sample ${s.id} drawn: ${s.tiles.length} tiles in ${s.design.strata.length} strata. Download it, have volunteers answer, import their answers.`;
    });
  const importFile = (file: File) =>
    act(async () => {
      const r: ImportSummary = await trustApi.importResults(id, file, purpose, msProject.trim() || undefined);
      const s = r.samples[r.samples.length - 1];
      return (
        `${int(r.stored)} answers stored from ${file.name} (${int(r.labels.building)} building, ${int(r.labels.no_building)} none, ` +
        `${int(r.labels.bad_imagery)} bad imagery)` +
        (r.outside ? `; ${int(r.outside)} extra tiles outside the project left out` : '') +
        (s ? `. Sample ${s.id}: ${s.labelled} of ${s.size} tiles labelled.` : '.')
      );
    });

  return h(
    Panel,
    {
      title: 'Numbers you can trust here',
      id: 'calibration',
      subtitle:
        'Volunteers answer a random sample of this region’s tiles; their answers turn the model’s figures into promises with intervals.',
    },
    h(
      'div',
      { class: 'calibration-actions' },
      h(
        'label',
        { class: 'row small' },
        'Tiles',
        h('input', {
          type: 'number',
          min: 20,
          max: 5000,
          step: 10,
          value: size,
          'aria-label': 'sample size',
          onInput: (e: Event) => setSize(Number((e.target as HTMLInputElement).value) || 200),
        }),
      ),
      h(
        'button',
        { class: 'button', disabled: busy, onClick: draw, 'data-action': 'draw-sample' },
        'Draw a calibration sample',
      ),
    ),
    latest
      ? h(
          'div',
          { class: 'calibration-sample', 'data-sample': latest.id },
          h(
            'span',
            { class: 'small' },
            `Sample ${latest.id}: ${latest.size} tiles, ${latest.labelled} labelled`,
            latest.badImagery ? `, ${latest.badImagery} bad imagery` : '',
          ),
          h(
            'div',
            { class: 'exports' },
            h(
              'a',
              {
                class: 'button',
                href: trustApi.csvUrl(id, latest.id),
                download: '',
                'data-download': 'sample-csv',
              },
              'Sample CSV',
            ),
            h(
              'a',
              {
                class: 'button',
                href: trustApi.findUrl(id, latest.id),
                download: `calibration-sample-${latest.id}-mapswipe.json`,
                'data-download': 'sample-mapswipe',
              },
              'MapSwipe Find drafts',
            ),
          ),
        )
      : samples
        ? h('p', { class: 'muted small' }, 'No sample yet.')
        : null,
    h(
      'div',
      { class: 'calibration-import' },
      h(
        'label',
        { class: 'row small' },
        'Answers are',
        h(
          'select',
          {
            value: purpose,
            'aria-label': 'answers purpose',
            onChange: (e: Event) => setPurpose((e.target as HTMLSelectElement).value as 'sample' | 'mapping'),
          },
          h('option', { value: 'sample' }, 'the calibration sample'),
          h('option', { value: 'mapping' }, 'a finished mapping project'),
        ),
      ),
      h('input', {
        type: 'text',
        class: 'small',
        placeholder: 'MapSwipe project id (optional check)',
        value: msProject,
        'aria-label': 'MapSwipe project id',
        onInput: (e: Event) => setMsProject((e.target as HTMLInputElement).value),
      }),
      h(
        'label',
        { class: 'button file' },
        'Import MapSwipe answers…',
        h('input', {
          type: 'file',
          accept: '.csv,.geojson,.json,.gz',
          disabled: busy,
          'aria-label': 'MapSwipe results file',
          onChange: (e: Event) => {
            const input = e.target as HTMLInputElement;
            const f = input.files?.[0];
            if (f) void importFile(f);
            input.value = '';
          },
        }),
      ),
    ),
    note
      ? h('p', { class: note.kind === 'error' ? 'error small' : 'small', role: 'status' }, note.text)
      : null,
    h(PromiseText, { report, threshold: props.threshold }),
    after.state === 'ok' ? h(AfterMappingView, { report: after.value }) : null,
  );
}

/** The promise in words, or why there is none yet. */
function PromiseText(props: { report: Load<TrustReport>; threshold: number }) {
  const r = props.report;
  if (r.state === 'loading') return h('p', { class: 'muted small' }, 'Estimating from the labels…');
  if (r.state === 'none')
    return h('p', { class: 'muted small', 'data-promise': 'none' }, r.message, r.hint ? ` — ${r.hint}` : '');
  const v = r.value;
  const rec = v.recall!;
  const g = v.guarantee;
  return h(
    'div',
    { class: 'promise', 'data-promise': 'labels', 'data-labels': v.basis.labels },
    h(
      'p',
      {
        'data-recall': rec.estimate.toFixed(4),
        'data-recall-low': rec.low.toFixed(4),
        'data-recall-high': rec.high.toFixed(4),
      },
      h('strong', null, `On ${int(v.basis.labels)} labels from this region: `),
      `expected recall ${pct(rec.estimate)} (${pct(rec.low)}–${pct(rec.high)}) at threshold ${rec.threshold.toFixed(2)}, `,
      `${int(Math.round(rec.missed.estimate))} building tiles among the ${int(rec.skipped)} skipped (${int(Math.round(rec.missed.low))}–${int(Math.round(rec.missed.high))}).`,
    ),
    h(
      'p',
      { 'data-guarantee': g.threshold, class: g.skips ? '' : 'muted' },
      g.skips
        ? [
            h('strong', null, `Guaranteed ≥ ${pct(g.target)} with ${pct(1 - g.delta)} confidence`),
            ` at threshold ${g.threshold.toFixed(4)}: ${int(g.skipped)} of ${int(g.sent + g.skipped)} tiles skipped (${pct(g.skippedShare)}).`,
          ]
        : g.promise,
    ),
    h(
      'p',
      { class: 'small muted' },
      `${int(Math.round(v.buildingTiles.estimate))} building tiles in the region (${int(Math.round(v.buildingTiles.low))}–${int(Math.round(v.buildingTiles.high))}); ${pct(v.level)} intervals` +
        (v.basis.badImagery
          ? `; ${v.basis.badImagery} sample tiles came back as bad imagery and are left out`
          : '') +
        '.',
    ),
  );
}

function AfterMappingView(props: { report: AfterMapping }) {
  const r = props.report;
  return h(
    'div',
    { class: 'after-mapping', 'data-after-mapping': r.achievedRecall.estimate.toFixed(4) },
    h('h3', null, 'After the mapping'),
    h('p', { class: 'small' }, r.promise, '.'),
    h(
      'p',
      { class: 'small muted' },
      `Skipped tiles without a building: ${pct(r.skipPrecision.estimate)} (${pct(r.skipPrecision.low)}–${pct(r.skipPrecision.high)}).`,
    ),
    r.disagreements.length
      ? h(
          'table',
          { class: 'disagreements small' },
          h(
            'thead',
            null,
            h('tr', null, h('th', null, 'tile'), h('th', null, 'volunteers'), h('th', null, 'model, here')),
          ),
          h(
            'tbody',
            null,
            r.disagreements.map((d) =>
              h(
                'tr',
                { key: d.taskId, 'data-task': d.taskId },
                h('td', null, d.taskId),
                h(
                  'td',
                  null,
                  d.kind === 'model-missed'
                    ? `building (${d.yes + d.maybe} of ${d.yes + d.maybe + d.no})`
                    : `none (${d.no} of ${d.yes + d.maybe + d.no})`,
                ),
                h('td', null, pct(d.regionProb)),
              ),
            ),
          ),
        )
      : null,
  );
}
