/** Anything wrong with a model file, its sidecar, or what it was asked to do. The message names the model. */
export class ModelError extends Error {
  override name = 'ModelError';
  constructor(message: string) {
    super(message);
  }
}
