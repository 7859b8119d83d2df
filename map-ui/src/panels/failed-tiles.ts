/**
 * The project's failed tiles, where the manager sees them: how many tiles have no score because their
 * imagery failed or did not decode, and a button that scores them again (POST …/retry-failed). The
 * count is read again whenever a job finishes, so it falls as tiles heal.
 */
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Job, type Project } from '../data/api.ts';
import { int } from './common.ts';

export function FailedTiles(props: {
  project: Project;
  job: Job | null;
  /** Manager mode only: volunteers see no button. */
  canRetry: boolean;
  /** Starts the retry job (the caller follows it). */
  onRetry: () => Promise<void>;
  onError: (message: string) => void;
}) {
  const [counts, setCounts] = useState(props.project.counts);
  const running = props.job?.status === 'queued' || props.job?.status === 'running';
  useEffect(() => {
    if (running) return;
    let live = true;
    api
      .project(props.project.id)
      .then((p) => live && setCounts(p.counts))
      .catch(() => {
        /* the last counts stay until the next job ends */
      });
    return () => {
      live = false;
    };
  }, [props.project.id, props.job?.id, props.job?.status]);

  const failed = counts.failed + counts.undecodable;
  if (failed === 0) return null;
  const retry = () => props.onRetry().catch((e: Error) => props.onError(e.message));
  return h(
    'span',
    {
      class: 'failed-tiles',
      id: 'failed-tiles',
      title: 'Tiles whose imagery failed or did not decode have no score',
    },
    `${int(failed)} tile${failed === 1 ? '' : 's'} failed`,
    props.canRetry && !running ? h('button', { class: 'link', onClick: retry }, 'Retry failed tiles') : null,
  );
}
