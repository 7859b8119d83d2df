/**
 * Errors of the scoring side. Each carries a stable `code` and the HTTP status a route should answer
 * with, so the routes stay thin: they map `status` and pass the message through.
 */
export type ScoringErrorCode =
  | 'invalid-request'
  | 'imagery-not-found'
  | 'imagery-name-taken'
  | 'imagery-unusable'
  | 'project-not-found'
  | 'run-not-found'
  | 'model-not-found'
  | 'model-file-missing'
  | 'run-unusable'
  | 'job-not-found'
  | 'job-active'
  | 'nothing-to-retry'
  | 'tile-not-found';

const STATUS: Record<ScoringErrorCode, 400 | 404 | 409 | 500> = {
  'invalid-request': 400,
  'imagery-not-found': 404,
  'imagery-name-taken': 409,
  'imagery-unusable': 400,
  'project-not-found': 404,
  'run-not-found': 404,
  'model-not-found': 404,
  'model-file-missing': 500,
  'run-unusable': 500,
  'job-not-found': 404,
  'job-active': 409,
  'nothing-to-retry': 409,
  'tile-not-found': 404,
};

export class ScoringError extends Error {
  override name = 'ScoringError';
  readonly status: 400 | 404 | 409 | 500;
  constructor(
    readonly code: ScoringErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = STATUS[code];
  }
}

/** Thrown into a job's batch loop when the job was cancelled; never leaves jobs.ts. */
export class JobCancelledError extends Error {
  override name = 'JobCancelledError';
  constructor(jobId: number) {
    super(`scoring job ${jobId} was cancelled`);
  }
}
