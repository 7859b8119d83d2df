/**
 * The project's scoring job as the app shows it: followed while it runs, started on request, and a
 * version that grows when a job finishes, so what depends on the scores reloads.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type Job, type Project } from '../data/api.ts';
import { watchJob } from '../data/job-watch.ts';

export function useScoringJob(project: Project) {
  const [job, setJob] = useState<Job | null>(project.job);
  const [finished, setFinished] = useState(0);
  useEffect(
    () =>
      watchJob(job, (next) => {
        setJob(next);
        if (next.status === 'done') setFinished((v) => v + 1);
      }),
    [job?.id, job?.status],
  );
  return {
    job,
    /** Grows with every job seen to finish (and counts a project that was already scored). */
    scoresVersion: finished + (job?.status === 'done' ? 1 : 0),
    /** Grows only when a job finishes while the app is open: the latent data reload on it. */
    finished,
    start: async () => setJob(await api.startScoring(project.id)),
    /** Scores again the tiles whose imagery failed; followed like any job. */
    retryFailed: async () => setJob(await api.retryFailed(project.id)),
  };
}
