import { TilelensError } from '../errors.ts';

/**
 * An insight the run's state does not allow yet (the pass that computes it has not run) or no longer allows
 * (the data changed since the analysis). The message says which pass to run.
 */
export class InsightsError extends TilelensError {
  override name = 'InsightsError';
  constructor(message: string, options?: { hint?: string }) {
    super('insights-not-ready', message, { status: 409, hint: options?.hint });
  }
}
