/** The command line's own error: used wrongly, so the usage follows the message (and the exit code is 2). */
import { TilelensError } from './lib/errors.ts';

export class UsageError extends TilelensError {
  override name = 'UsageError';
  constructor(message: string) {
    super('usage', message, { status: 400 });
  }
}
