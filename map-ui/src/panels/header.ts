/** The top bar: project facts, scoring progress, the link to this view, the volunteer view and the manager token. */
import { h } from 'preact';
import { useState } from 'preact/hooks';
import { managerToken, setManagerToken, type Job, type Project } from '../data/api.ts';
import { int, num } from './common.ts';
import { FailedTiles } from './failed-tiles.ts';

/** "about 3 min left": rounded as a person reads a wait, never more precise than the rate behind it. */
export function etaText(seconds: number): string {
  if (seconds < 60) return 'under a minute left';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  return `about ${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

/** Who scores the job and how fast, summed over its workers: one line beside the bar. */
function progressDetail(j: Job): string | null {
  const p = j.progress;
  if (!p || j.status === 'failed') return null;
  const parts: string[] = [];
  if (p.chunks) {
    parts.push(`${p.workersActive} ${p.workersActive === 1 ? 'worker' : 'workers'}`);
    parts.push(`chunks ${int(p.chunks.done + p.chunks.dead)} of ${int(p.chunks.total)} done`);
    if (p.chunks.dead > 0) parts.push(`${int(p.chunks.dead)} failed on every try`);
  }
  if (p.tiles.failed > 0) parts.push(`${int(p.tiles.failed)} tiles failed`);
  if (p.ratePerSecond !== null) parts.push(`${num(p.ratePerSecond, p.ratePerSecond < 10 ? 1 : 0)} tiles/s`);
  if (p.etaSeconds !== null) parts.push(etaText(p.etaSeconds));
  else if (p.chunks && p.workersActive === 0 && j.status === 'running') parts.push('waiting for a worker');
  return parts.length ? parts.join(' · ') : null;
}

function JobBar(props: { job: Job | null }) {
  const j = props.job;
  if (!j || j.status === 'done') return null;
  const share = j.total > 0 ? j.done / j.total : 0;
  const detail = progressDetail(j);
  return h(
    'div',
    { class: 'jobprogress' },
    h(
      'div',
      {
        class: `jobbar ${j.status}`,
        role: 'progressbar',
        'aria-valuenow': Math.round(share * 100),
        'aria-valuemin': 0,
        'aria-valuemax': 100,
      },
      h('div', { class: 'jobbar-fill', style: { width: `${share * 100}%` } }),
      h(
        'span',
        null,
        j.status === 'failed'
          ? `Scoring failed: ${j.error ?? 'see the server log'}`
          : `Scoring the region: ${int(j.done)} of ${int(j.total)} tiles (${Math.round(share * 100)} %)`,
      ),
    ),
    detail && h('span', { class: 'jobbar-detail', 'data-testid': 'job-detail' }, detail),
  );
}

function TokenBox() {
  const [has, setHas] = useState(!!managerToken());
  const [value, setValue] = useState('');
  if (has)
    return h(
      'span',
      { class: 'token ok' },
      'manager ✓ ',
      h('button', { class: 'link', onClick: () => (setManagerToken(null), setHas(false)) }, 'forget token'),
    );
  return h(
    'form',
    { class: 'token', onSubmit: (e: Event) => (e.preventDefault(), setManagerToken(value), setHas(!!value)) },
    h('input', {
      type: 'password',
      placeholder: 'Manager token',
      value,
      onInput: (e: Event) => setValue((e.target as HTMLInputElement).value),
      'aria-label': 'manager token',
    }),
    h('button', { type: 'submit' }, 'Use'),
  );
}

export function Header(props: {
  project: Project;
  volunteer: boolean;
  trainingTiles: number;
  job: Job | null;
  onStartScoring: () => Promise<void>;
  onRetryFailed: () => Promise<void>;
  /** The volunteer view of what is shown, as a link. */
  volunteerHref: string;
}) {
  const { project, volunteer, job } = props;
  const [message, setMessage] = useState<string | null>(null);
  const say = (text: string) => {
    setMessage(text);
    setTimeout(() => setMessage(null), 2500);
  };
  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      say('Link copied: it opens this exact view.');
    } catch {
      say('Copy the address bar: it holds this exact view.');
    }
  };
  const startScoring = () => props.onStartScoring().catch((e: Error) => setMessage(e.message));
  return h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, h('strong', null, 'tilelens'), h('span', null, project.name)),
    h(
      'div',
      { class: 'facts' },
      `${int(project.tileCount)} tiles · ${num(project.areaKm2, 1)} km² · model trust map from ${int(props.trainingTiles)} training tiles`,
    ),
    h(JobBar, { job }),
    h(FailedTiles, { project, job, canRetry: !volunteer, onRetry: props.onRetryFailed, onError: setMessage }),
    h(
      'div',
      { class: 'top-actions' },
      volunteer ? h('span', { class: 'badge' }, 'Volunteer view') : null,
      !volunteer && (!job || job.status === 'failed' || job.status === 'cancelled')
        ? h('button', { onClick: startScoring }, 'Score this region')
        : null,
      h('button', { onClick: copyLink, title: 'Copy a link to this view' }, 'Copy link'),
      !volunteer
        ? h(
            'a',
            { class: 'button', href: props.volunteerHref, target: '_blank', id: 'volunteer-link' },
            'Volunteer view ↗',
          )
        : null,
      !volunteer ? h(TokenBox, null) : null,
    ),
    message ? h('div', { class: 'toast' }, message) : null,
  );
}
