import { basename } from 'node:path';
import { ModelError } from './errors.ts';
import { tileShape } from './preprocess.ts';

export function requireLayer(modelPath: string, layer: string, available: string[]): void {
  if (!available.includes(layer)) {
    throw new ModelError(
      `model ${basename(modelPath)} has no layer "${layer}"; choose one of: ${available.join(', ')}`,
    );
  }
}

export function requireFullResolution(
  modelPath: string,
  input: [number, number],
  output: [number, number],
): void {
  if (input[0] !== output[0] || input[1] !== output[1]) {
    throw new ModelError(
      `model ${basename(modelPath)} outputs ${output[0]}×${output[1]} for ${input[0]}×${input[1]} input; tilelens ` +
        `needs a full-resolution mask — export the model with its decoder up to the input resolution`,
    );
  }
}

export function requireBatch(
  modelName: string,
  batch: Uint8Array,
  n: number,
  given?: [number, number],
): [number, number] {
  if (!Number.isInteger(n) || n < 1) {
    throw new ModelError(`model ${modelName}: predict needs n ≥ 1 tiles, got ${n}`);
  }
  const shape = tileShape(batch.length, n, given);
  if (!shape) {
    throw new ModelError(
      `model ${modelName}: a batch of ${batch.length} bytes is not ${n} RGB tiles` +
        (given ? ` of ${given[0]}×${given[1]}` : ' of a square size') +
        '; pass n·H·W·3 bytes (HWC per tile) and the tile size',
    );
  }
  return shape;
}

/** A 4-D NCHW shape as the per-tile [C, h, w]. */
export function perTile(shape: readonly number[], what: string, modelPath: string): [number, number, number] {
  if (shape.length !== 4) {
    throw new ModelError(
      `model ${basename(modelPath)}: ${what} has shape [${shape.join(', ')}], not N×C×H×W; tilelens reads only 4-D feature maps`,
    );
  }
  return [shape[1], shape[2], shape[3]];
}
