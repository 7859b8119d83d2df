import { TilelensError } from '../errors.ts';

/** Anything wrong with a model file, its sidecar, or what it was asked to do. The message names the model. */
export class ModelError extends TilelensError {
  override name = 'ModelError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('model', message, { status: 422, cause: options?.cause });
  }
}
