#!/usr/bin/env -S npx tsx
/**
 * tilelens command line: thin over the library.
 *   tilelens analyze --model server/models/demo-unet.onnx --world data/demo
 *   tilelens layers --model path/to/model.onnx
 *   tilelens runs
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { z } from 'zod';
import { openDatabase } from './lib/db/client.ts';
import { listRuns } from './lib/db/analysis-repo.ts';
import { openDemoWorldDataset } from './lib/datasets/demo-world.ts';
import { listLayers, loadModel } from './lib/model/runtime.ts';
import { analyzeDataset } from './lib/analysis/analyze-dataset.ts';
import { stderrProgress } from './lib/progress.ts';
import { defaultDbPath, demoModelPath, runsDir } from './lib/paths.ts';

const usage = `tilelens <command> [options]

Commands
  analyze   run the reference analysis of a model on its training data and store it
              --model PATH        .onnx (default: the demo U-Net) or a TF.js model.json
              --world DIR         a demo world built by scripts/build-demo-world.ts (its training region)
              --layer NAME        bottleneck layer (default: the model's declared bottleneck)
              --pooling MODE      mean (default) | max | mean+max
              --empty-policy P    null (default) | one | zero — IoU of patches with no building in truth or prediction
              --surface-empty S   exclude (default) | one — what the confidence surface learns from empty patches
              --activations T     float32 (default) | float16 on disk
              --batch N           patches per inference batch (default 16)
              --seed N            seed for splits and clustering (default 7)
              --reuse             return the stored run when the same model, data and settings were analysed
  layers    list a model's layers / outputs with their shapes; marks the default bottleneck
              --model PATH
  runs      list stored analysis runs

Common options
  --db PATH        SQLite database (default data/tilelens.db)
`;

const analyzeOptions = z.object({
  model: z.string().default(demoModelPath),
  world: z.string({ error: 'analyze needs --world DIR (a demo world; build one with scripts/build-demo-world.ts)' }),
  layer: z.string().optional(),
  pooling: z.enum(['mean', 'max', 'mean+max']).default('mean'),
  'empty-policy': z.enum(['null', 'one', 'zero']).default('null'),
  'surface-empty': z.enum(['exclude', 'one']).default('exclude'),
  activations: z.enum(['float32', 'float16']).default('float32'),
  batch: z.coerce.number().int().min(1).max(512).default(16),
  seed: z.coerce.number().int().default(7),
  reuse: z.boolean().default(false),
  db: z.string().default(defaultDbPath),
});

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' },
      world: { type: 'string' },
      layer: { type: 'string' },
      pooling: { type: 'string' },
      'empty-policy': { type: 'string' },
      'surface-empty': { type: 'string' },
      activations: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      reuse: { type: 'boolean' },
      db: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (!command || values.help || command === 'help') {
    process.stdout.write(usage);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'analyze': {
      const parsed = analyzeOptions.safeParse(values);
      if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
      const o = parsed.data;
      const model = await loadModel(resolve(o.model), { layer: o.layer });
      const db = openDatabase(resolve(o.db));
      const source = openDemoWorldDataset(resolve(o.world), 'train');
      try {
        const summary = await analyzeDataset({
          db,
          model,
          modelPath: resolve(o.model),
          source,
          runsDir,
          reuse: o.reuse,
          options: {
            pooling: o.pooling,
            emptyPolicy: o['empty-policy'],
            surfaceEmpty: o['surface-empty'],
            activationDtype: o.activations,
            batchSize: o.batch,
            seed: o.seed,
          },
          onProgress: stderrProgress(),
        });
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } finally {
        await source.close();
        await model.dispose();
        db.close();
      }
      return 0;
    }
    case 'layers': {
      if (!values.model) throw new UsageError('layers needs --model PATH');
      const layers = await listLayers(resolve(values.model));
      for (const l of layers) {
        process.stdout.write(`${l.isDefaultBottleneck ? '*' : ' '} ${l.name}  [${l.shape.join('×')}]\n`);
      }
      process.stdout.write('(* = default bottleneck)\n');
      return 0;
    }
    case 'runs': {
      const db = openDatabase(resolve(values.db ?? defaultDbPath));
      try {
        process.stdout.write(`${JSON.stringify(listRuns(db), null, 2)}\n`);
      } finally {
        db.close();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`tilelens: ${err.message}\n`);
    if (err instanceof UsageError) process.stderr.write(`\n${usage}`);
    else if (process.env.TILELENS_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
