import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type * as tfType from '@tensorflow/tfjs';
import { ModelError } from './errors.ts';

type Tf = typeof tfType;

/**
 * Reads a TF.js layers model (model.json + weight shards) from disk. The pure-JS @tensorflow/tfjs has no file://
 * handler in Node, and tfjs-node — which has one — is optional.
 */
export function fileLoader(tf: Tf, modelJsonPath: string): tfType.io.IOHandler {
  return {
    async load() {
      let json: tfType.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as tfType.io.ModelJSON;
      } catch (err) {
        throw new ModelError(`TF.js model ${modelJsonPath} could not be read: ${(err as Error).message}`);
      }
      if (!json.modelTopology || !json.weightsManifest) {
        throw new ModelError(
          `TF.js model ${basename(modelJsonPath)} lacks modelTopology or weightsManifest; convert it as a layers model`,
        );
      }
      const dir = dirname(modelJsonPath);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const shards = await Promise.all(
          manifest
            .flatMap((group) => group.paths)
            .map(async (p) => {
              const buf = await readFile(join(dir, p)).catch(() => {
                throw new ModelError(
                  `TF.js model ${basename(modelJsonPath)} misses its weight shard ${join(dir, p)}`,
                );
              });
              return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
            }),
        );
        return [specs, shards];
      });
    },
  };
}

/** Writes `model.json` + `weights.bin` into `dir` (one shard: our models are a few MB). */
export function fileSaver(tf: Tf, dir: string, generatedBy: string): tfType.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    await mkdir(dir, { recursive: true });
    const weights = new Uint8Array(
      tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)),
    );
    await writeFile(join(dir, 'weights.bin'), weights);
    const modelJson = {
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: generatedBy,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
    };
    await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        weightDataBytes: weights.length,
      },
    };
  });
}
