/** Following a scoring job: its progress polled until it ends, outside any component. */
import { api, type Job } from './api.ts';

const ENDED: ReadonlyArray<Job['status']> = ['done', 'failed', 'cancelled'];

export const jobEnded = (job: Job | null) => !job || ENDED.includes(job.status);

/** Polls the job every `everyMs` until it ends, reporting each state; returns the function that stops it. */
export function watchJob(job: Job | null, onUpdate: (job: Job) => void, everyMs = 1000): () => void {
  if (!job || jobEnded(job)) return () => {};
  let stopped = false;
  const timer = setInterval(async () => {
    try {
      const next = await api.job(job.id);
      if (stopped) return;
      onUpdate(next);
      if (jobEnded(next)) clearInterval(timer);
    } catch {
      // A missed poll is retried on the next tick.
    }
  }, everyMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
