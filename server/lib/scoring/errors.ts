/**
 * Errors of the scoring side. Each carries a stable `code` and, from it, the HTTP status a route answers with.
 */
import { TilelensError, type ErrorStatus } from '../errors.ts';

const STATUS = {
  'invalid-request': 400,
  'imagery-not-found': 404,
  'imagery-name-taken': 409,
  'imagery-unusable': 400,
  'project-not-found': 404,
  /** The project refers to imagery or a model that was removed since. */
  'project-incomplete': 409,
  'run-not-found': 404,
  'model-not-found': 404,
  'model-file-missing': 500,
  'run-unusable': 500,
  'job-not-found': 404,
  'job-active': 409,
  'nothing-to-retry': 409,
  'tile-not-found': 404,
  /** The evaluation needs known ground truth (a demo world); real regions have none. */
  'no-truth': 409,
  'not-scored': 409,
  /** A chunk that is not a scoring job's (sent by something else onto the scoring queue). */
  'invalid-chunk': 400,
  /** Every tile of a batch failed to load: the imagery host is down or refusing; the chunk is tried again. */
  'imagery-failing': 503,
} as const satisfies Record<string, ErrorStatus>;

export type ScoringErrorCode = keyof typeof STATUS;

export class ScoringError extends TilelensError {
  override name = 'ScoringError';
  declare readonly code: ScoringErrorCode;
  constructor(code: ScoringErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(code, message, { status: STATUS[code], ...options });
  }
}

/** Thrown into a job's batch loop when the job was cancelled; never leaves jobs.ts. */
export class JobCancelledError extends TilelensError {
  override name = 'JobCancelledError';
  constructor(jobId: number) {
    super('job-cancelled', `scoring job ${jobId} was cancelled`, { status: 409 });
  }
}
