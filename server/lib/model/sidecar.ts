import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { ModelError } from './errors.ts';
import type { ModelInfo } from './types.ts';

/**
 * `<model file>.tilelens.json`: what the graph itself does not say. A pixel reaches the model as
 * (value / scale − mean[c]) / std[c]; `outputActivation` is what the adapter still has to apply to the
 * model's output ('none' when the graph already ends in a probability).
 */
export const SidecarSchema = z.object({
  name: z.string().min(1),
  inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  bands: z.literal(3).default(3),
  normalization: z.object({
    mean: z.array(z.number()).length(3),
    std: z.array(z.number().positive()).length(3),
    scale: z.number().positive(),
  }),
  outputActivation: z.enum(['sigmoid', 'softmax', 'none']),
  targetClass: z.number().int().nonnegative().optional(),
  /** Graph output (ONNX) or layer (TF.js) holding the mask; the first output when absent. */
  output: z.string().optional(),
  bottleneck: z.string().min(1),
  provenance: z.record(z.string(), z.unknown()).optional(),
});
export type Sidecar = z.infer<typeof SidecarSchema>;

export function sidecarPath(modelPath: string): string {
  return `${modelPath}.tilelens.json`;
}

export async function readSidecar(modelPath: string): Promise<Sidecar> {
  const path = sidecarPath(modelPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ModelError(
      `model ${basename(modelPath)} has no sidecar ${path}; write one (name, inputSize, normalization, ` +
        `outputActivation, bottleneck) next to the model file`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelError(`sidecar ${path} is not valid JSON (${(err as Error).message}); fix the file`);
  }
  const parsed = SidecarSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelError(`sidecar ${path} is invalid: ${issues}`);
  }
  const s = parsed.data;
  if (s.outputActivation === 'softmax' && s.targetClass === undefined) {
    throw new ModelError(
      `sidecar ${path} declares a softmax output but no targetClass; name the building class`,
    );
  }
  return s;
}

/** The ModelInfo both adapters report: what the sidecar declares plus what the runtime found in the graph. */
export function modelInfoFrom(
  sidecar: Sidecar,
  found: {
    runtime: ModelInfo['runtime'];
    backend: string;
    inputSize: [number, number];
    layer: string;
    layerShapes: ReadonlyMap<string, [number, number, number]>;
    availableLayers: string[];
  },
): ModelInfo {
  return {
    name: sidecar.name,
    runtime: found.runtime,
    backend: found.backend,
    inputSize: found.inputSize,
    bands: 3,
    normalization: sidecar.normalization,
    outputActivation: sidecar.outputActivation,
    ...(sidecar.targetClass !== undefined ? { targetClass: sidecar.targetClass } : {}),
    tileResize: 'bilinear',
    layer: found.layer,
    layerShape: found.layerShapes.get(found.layer)!,
    availableLayers: found.availableLayers,
    ...(sidecar.provenance ? { provenance: sidecar.provenance } : {}),
  };
}
