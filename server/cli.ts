#!/usr/bin/env -S npx tsx
/**
 * tilelens command line: thin over the library.
 *   tilelens analyze --model server/models/demo-unet.onnx --world data/demo
 *   tilelens analyze --model m.onnx --images data/images --masks data/masks --target-class 1
 *   tilelens layers --model path/to/model.onnx
 *   tilelens sidecar --model m.onnx --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --activation softmax --target-class 1 --bottleneck NODE
 *   tilelens expose --model m.onnx --tensor NAME --out m-exposed.onnx
 *   tilelens runs
 *   tilelens score --model m.onnx --imagery path/to/geotiffs --out exports/
 *   tilelens retry --project ID
 *   tilelens sample --project 1 --size 200 --seed 1 --out exports/
 *   tilelens import-results --project 1 --file agg_results_-NXYZ.csv.gz --purpose sample --mapswipe-project=-NXYZ
 *   tilelens trust --project 1 --target 0.95 --delta 0.1
 *   tilelens after-mapping --project 1
 *   tilelens publish mapswipe --project 1 --organisation 1 --region Lilongwe --project-number 1 --dry-run
 *   tilelens fair-model --stac path/to/stac-item.json --write
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  describeStore,
  isSharedStore,
  openDatabase,
  storeLocation,
  type DatabaseHandle,
} from './lib/db/client.ts';
import type { ChunkWorker } from './lib/queue/chunk-queue.ts';
import { workScoringChunks } from './lib/scoring/queued-jobs.ts';
import { openSharedStore, type SharedStore } from './lib/scoring/shared-store.ts';
import { workerCommand, workerUsage } from './cli-worker.ts';
import { OutboundPolicy } from './lib/imagery/outbound.ts';
import type { ScoringContext } from './lib/scoring/context.ts';
import { countScoredTiles } from './lib/scoring/tiles-repo.ts';
import { listRuns } from './lib/db/analysis-repo.ts';
import { openDataset } from './lib/datasets/open-dataset.ts';
import { listLayers, loadModel } from './lib/model/runtime.ts';
import { exposeOutputs, parseOnnxGraph, probeNodeShapes, suggestBottleneck } from './lib/model/onnx-graph.ts';
import { SidecarSchema, sidecarPath } from './lib/model/sidecar.ts';
import { analyzeDataset } from './lib/analysis/analyze-dataset.ts';
import { stderrProgress } from './lib/progress.ts';
import { dataDir, defaultDbPath, demoModelPath, runsDir } from './lib/paths.ts';
import { closeImagerySources } from './lib/scoring/imagery-registry.ts';
import { disposeScoringModels, startScoring, waitForJob } from './lib/scoring/jobs.ts';
import { DEFAULT_PUBLIC_URL, scoreRegion } from './lib/scoring/score-region.ts';
import { writeProjectExports } from './lib/deliverables/project-exports.ts';
import { TilelensError } from './lib/errors.ts';
import { requireProject } from './lib/scoring/projects.ts';
import {
  afterMappingReport,
  drawProjectSample,
  importMapswipeResults,
  projectRegionEstimate,
  setTileLabels,
  trustReport,
} from './lib/trust/project-trust.ts';
import { sampleCsv, sampleFindDrafts } from './lib/trust/sample-exports.ts';
import { projectExportInfo } from './lib/scoring/export-info.ts';
import { resolveSettings } from './settings.ts';
import { fairImportCommand, fairModelCommand, publishCommand, publishUsage } from './cli-publish.ts';
import { labelFixesCommand, labelFixesUsage } from './cli-label-fixes.ts';
import { UsageError } from './cli-usage.ts';

const usage = `tilelens <command> [options]

Commands
  analyze   run the reference analysis of a model on its training data and store it
              --model PATH        .onnx (default: the demo U-Net) or a TF.js model.json
            training data, one of:
              --world DIR         a demo world built by scripts/build-demo-world.ts (its training region)
              --images DIR --masks DIR   image / mask pairs matched by file name (Inria: --masks DIR/gt)
              --manifest CSV      columns image, mask (paths relative to the CSV) [, a group column]
              --geotiffs DIR      GeoTIFF pairs in DIR/images + DIR/masks; patch centres kept in lon/lat
              --footprints GEOJSON --imagery SPEC   building polygons over imagery (.pmtiles, .tif, XYZ URL
                                  or JSON spec): the z18 tiles of the footprints' extent, masks rasterised
            how patches are made (file pairs):
              --target-class N    building class of multi-class or palette masks (Dubai: 1)
              --patch-size N      side of every patch (default 256)
              --stride N          window step (default: the patch size)
              --edge pad|drop|shift   the ragged right / bottom edge: pad with zeros (default; the key's
                                  w,h say what is real), drop it, or shift the last window inside
              --resize            resize whole images to one patch instead of cutting windows
              --group-column C    manifest column that groups patches (dataset, district…)
            analysis:
              --layer NAME        bottleneck layer (default: the model's declared bottleneck)
              --pooling MODE      mean (default) | max | mean+max
              --empty-policy P    null (default) | one | zero — IoU of patches with no building in truth or prediction
              --surface-empty S   exclude (default) | one — what the confidence surface learns from empty patches
              --activations T     float32 (default) | float16 on disk
              --batch N           patches per inference batch (default 16)
              --seed N            seed for splits and clustering (default 7)
              --reuse             return the stored run when the same model, data and settings were analysed
  layers    list a model's layers / outputs with their shapes; marks the default bottleneck (*). For ONNX,
            every graph node too, with its output tensor and shape; + marks the suggested bottleneck
            (deepest, smallest-resolution encoder output). A node that is not a graph output is made
            readable with \`tilelens expose\`.
              --model PATH
              --input-size H,W    for ONNX graphs with symbolic sizes and no sidecar (default 256,256)
  sidecar   write <model>.tilelens.json, what the graph does not say
              --model PATH  --mean R,G,B  --std R,G,B  [--scale 255 | 1]
              --activation sigmoid|softmax|none   (none: the graph already outputs probabilities)
              --target-class N    building channel of a multi-class (softmax) head
              --bottleneck NAME   layer / tensor to analyse (ONNX: default the suggested bottleneck)
              [--input-size H,W] [--output NAME] [--name NAME]
  expose    copy an ONNX model with node output tensors added as graph outputs (readable as layers)
              --model PATH --tensor NAME[,NAME…] --out PATH
  runs      list stored analysis runs
  score     score a region with an analysed model and write every export (no server needed)
              --model PATH        the model (its newest analysis run is used), or
              --run ID            the analysis run to score with
              --imagery SRC       a folder of GeoTIFFs, a .tif, a .pmtiles, an XYZ URL or a .json spec
              [--imagery-name N]  name to register it under (default: the folder / file name)
              [--area GEOJSON]    the region (default: the imagery's extent)
              [--zoom 18] [--name PROJECT] [--batch N]
              [--out DIR]         MapSwipe Find / Validate, Tasking Manager, tiles.csv, tiles.geojson
              [--public-url URL]  where the server will run, for tile URLs in the exports
                                  (default http://127.0.0.1:8700)
            prints one line of JSON; then \`npx tsx server/main.ts --db PATH\` and open / to see it
            XYZ imagery is fetched from public addresses only; TILELENS_IMAGERY_ALLOW_HOSTS lists others
            (as the server's --imagery-allow-hosts)
  retry     score again the tiles of a project whose imagery failed or did not decode; prints one line
            of JSON (retried, healed, still failing, the project's counts)
              --project ID  [--batch N]
  sample    draw a project's calibration sample (stratified by priority, reproducible by seed) and store it
              --project ID  [--size 200 | --half-width 0.1]  [--seed 1]
              [--out DIR]         its tiles.csv and the MapSwipe Find drafts (mapswipe-find.json)
              [--public-url URL]  where the server will run, for the drafts' tile server
  import-results  store MapSwipe's aggregated results (agg_results_<id>.csv / _geom.geojson, gzip or not)
              --project ID --file PATH --purpose sample|mapping  [--mapswipe-project=ID]
            (MapSwipe ids start with "-": give them with "=")
            a bad file is refused whole with the reasons; nothing is stored
  labels    store labels set by hand: --project ID --file labels.json ([{ "taskId", "label" }],
            label building | no_building | bad_imagery)  [--purpose sample|mapping]
  trust     the region's figures from the labelled sample: building tiles, recall, the guarantee
              --project ID  [--sample ID] [--level 0.9] [--target 0.95] [--delta 0.1] [--threshold T]
  after-mapping   achieved recall and skip precision of a finished project, disagreements, bad imagery
              --project ID  [--sample ID] [--top 50]
${labelFixesUsage}${publishUsage}${workerUsage}
Common options
  --db PATH|URL    SQLite database (default data/tilelens.db), or the shared store: postgres://user:pass@host/db
`;

const int = (min: number) => z.coerce.number().int().min(min);

const analyzeOptions = z.object({
  model: z.string().default(demoModelPath),
  world: z.string().optional(),
  images: z.string().optional(),
  masks: z.string().optional(),
  manifest: z.string().optional(),
  geotiffs: z.string().optional(),
  footprints: z.string().optional(),
  imagery: z.string().optional(),
  'target-class': int(0).optional(),
  'patch-size': int(8).max(4096).optional(),
  stride: int(1).optional(),
  edge: z.enum(['pad', 'drop', 'shift']).optional(),
  resize: z.boolean().default(false),
  'group-column': z.string().optional(),
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

const retryOptions = z.object({
  project: int(1),
  batch: z.coerce.number().int().min(1).max(256).optional(),
  db: z.string().default(defaultDbPath),
});

const scoreOptions = z.object({
  model: z.string().optional(),
  run: int(1).optional(),
  imagery: z.string({ error: 'give the imagery (a folder of GeoTIFFs, a .tif, a .pmtiles or an XYZ URL)' }),
  'imagery-name': z.string().optional(),
  area: z.string().optional(),
  zoom: int(1).max(22).default(18),
  name: z.string().optional(),
  out: z.string().optional(),
  'public-url': z.string().url().optional(),
  batch: z.coerce.number().int().min(1).max(256).optional(),
  db: z.string().default(defaultDbPath),
});

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // These parse their own options (publish has sub-commands).
  if (command === 'publish') return publishCommand(rest);
  if (command === 'fair-model') return fairModelCommand(rest);
  if (command === 'fair-import') return await fairImportCommand(rest);
  if (command === 'label-fixes') return await labelFixesCommand(rest);
  if (command === 'worker') return await workerCommand(rest);
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' },
      world: { type: 'string' },
      images: { type: 'string' },
      masks: { type: 'string' },
      manifest: { type: 'string' },
      geotiffs: { type: 'string' },
      footprints: { type: 'string' },
      imagery: { type: 'string' },
      'target-class': { type: 'string' },
      'patch-size': { type: 'string' },
      stride: { type: 'string' },
      edge: { type: 'string' },
      resize: { type: 'boolean' },
      'group-column': { type: 'string' },
      'input-size': { type: 'string' },
      mean: { type: 'string' },
      std: { type: 'string' },
      scale: { type: 'string' },
      activation: { type: 'string' },
      bottleneck: { type: 'string' },
      output: { type: 'string' },
      name: { type: 'string' },
      tensor: { type: 'string' },
      out: { type: 'string' },
      layer: { type: 'string' },
      pooling: { type: 'string' },
      'empty-policy': { type: 'string' },
      'surface-empty': { type: 'string' },
      activations: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      reuse: { type: 'boolean' },
      db: { type: 'string' },
      run: { type: 'string' },
      area: { type: 'string' },
      zoom: { type: 'string' },
      'imagery-name': { type: 'string' },
      'public-url': { type: 'string' },
      project: { type: 'string' },
      size: { type: 'string' },
      'half-width': { type: 'string' },
      file: { type: 'string' },
      purpose: { type: 'string' },
      'mapswipe-project': { type: 'string' },
      sample: { type: 'string' },
      level: { type: 'string' },
      target: { type: 'string' },
      delta: { type: 'string' },
      threshold: { type: 'string' },
      top: { type: 'string' },
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
      const o = parseOptions(analyzeOptions, values);
      const source = await openDataset({
        ...(o.world ? { world: o.world } : {}),
        ...(o.images ? { images: o.images } : {}),
        ...(o.masks ? { masks: o.masks } : {}),
        ...(o.manifest ? { manifest: o.manifest } : {}),
        ...(o.geotiffs ? { geotiffs: o.geotiffs } : {}),
        ...(o.footprints ? { footprints: o.footprints } : {}),
        ...(o.imagery ? { imagery: o.imagery } : {}),
        ...(o['target-class'] !== undefined ? { targetClass: o['target-class'] } : {}),
        ...(o['patch-size'] !== undefined ? { patchSize: o['patch-size'] } : {}),
        ...(o.stride !== undefined ? { stride: o.stride } : {}),
        ...(o.edge ? { edge: o.edge } : {}),
        ...(o['group-column'] ? { groupColumn: o['group-column'] } : {}),
        resize: o.resize,
      }).catch((err: Error) => {
        if (err.message.startsWith('no training data named')) throw new UsageError(err.message);
        throw err;
      });
      const model = await loadModel(resolve(o.model), { layer: o.layer });
      const db = await openDatabase(storeLocation(o.db));
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
        await db.close();
      }
      return 0;
    }
    case 'layers': {
      if (!values.model) throw new UsageError('layers needs --model PATH');
      const path = resolve(values.model);
      const hasSidecar = existsSync(sidecarPath(path));
      if (hasSidecar) {
        const layers = await listLayers(path);
        process.stdout.write('Readable layers (graph outputs / layers):\n');
        for (const l of layers) {
          process.stdout.write(`${l.isDefaultBottleneck ? '*' : ' '} ${l.name}  [${l.shape.join('×')}]\n`);
        }
        process.stdout.write('(* = default bottleneck, from the sidecar)\n');
      } else {
        process.stdout.write(`${basename(path)} has no sidecar yet; write one with \`tilelens sidecar\`.\n`);
      }
      if (path.endsWith('.onnx')) {
        const bytes = readFileSync(path);
        const inputSize = values['input-size']
          ? parseSize(values['input-size'])
          : (onnxInputSize(bytes, path) ?? [256, 256]);
        const nodes = await probeNodeShapes(bytes, inputSize, basename(path));
        const suggested = suggestBottleneck(nodes);
        process.stdout.write(
          `\nGraph nodes at ${inputSize.join('×')} input (node  op  → output tensor  [C×h×w]):\n`,
        );
        for (const n of nodes) {
          const mark = n.tensor === suggested ? '+' : ' ';
          const out = n.isGraphOutput ? ' (graph output)' : '';
          process.stdout.write(
            `${mark} ${n.node}  ${n.opType}  → ${n.tensor}  [${n.shape ? n.shape.join('×') : '-'}]${out}\n`,
          );
        }
        process.stdout.write(
          '(+ = suggested bottleneck: deepest, smallest-resolution encoder output)\n' +
            'A tensor that is not a graph output becomes a layer with\n' +
            `  tilelens expose --model ${values.model} --tensor NAME --out ${values.model.replace(/\.onnx$/, '')}-exposed.onnx\n` +
            '(or in PyTorch, return it from forward() and name it in torch.onnx.export(output_names=[…])).\n',
        );
      }
      return 0;
    }
    case 'sidecar': {
      if (!values.model) throw new UsageError('sidecar needs --model PATH');
      const path = resolve(values.model);
      const onnx = path.endsWith('.onnx');
      const bytes = onnx ? readFileSync(path) : undefined;
      const inputSize = values['input-size']
        ? parseSize(values['input-size'])
        : bytes
          ? onnxInputSize(bytes, path)
          : undefined;
      if (!inputSize)
        throw new UsageError('sidecar needs --input-size H,W (the model input does not declare it)');
      let bottleneck = values.bottleneck;
      if (!bottleneck && bytes)
        bottleneck = suggestBottleneck(await probeNodeShapes(bytes, inputSize, basename(path)));
      if (!bottleneck) throw new UsageError('sidecar needs --bottleneck NAME (see `tilelens layers`)');
      if (bytes) {
        const outputs = parseOnnxGraph(bytes, basename(path)).outputs.map((o) => o.name);
        if (!outputs.includes(bottleneck)) {
          throw new UsageError(
            `tensor "${bottleneck}" is not a graph output of ${basename(path)}; make it one with ` +
              `\`tilelens expose --model ${values.model} --tensor ${bottleneck} --out OUT.onnx\` and write the sidecar for OUT.onnx`,
          );
        }
      }
      const activation = values.activation ?? 'sigmoid';
      const candidate = {
        name: values.name ?? basename(path).replace(/\.(onnx|json)$/, ''),
        inputSize,
        bands: 3,
        normalization: {
          mean: parseTriple(values.mean ?? '0,0,0', '--mean'),
          std: parseTriple(values.std ?? '1,1,1', '--std'),
          scale: Number(values.scale ?? 255),
        },
        outputActivation: activation,
        ...(values['target-class'] !== undefined ? { targetClass: Number(values['target-class']) } : {}),
        ...(values.output ? { output: values.output } : {}),
        bottleneck,
        provenance: { writtenBy: 'tilelens sidecar' },
      };
      const parsed = SidecarSchema.safeParse(candidate);
      if (!parsed.success)
        throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      if (parsed.data.outputActivation === 'softmax' && parsed.data.targetClass === undefined) {
        throw new UsageError('--activation softmax needs --target-class N (the building channel)');
      }
      writeFileSync(sidecarPath(path), `${JSON.stringify(parsed.data, null, 2)}\n`);
      // Opening the model checks the sidecar against the graph (sizes, output, layer).
      const model = await loadModel(path);
      await model.dispose();
      process.stdout.write(`${sidecarPath(path)} written; layer ${bottleneck}\n`);
      return 0;
    }
    case 'expose': {
      if (!values.model || !values.tensor || !values.out)
        throw new UsageError('expose needs --model PATH --tensor NAME --out PATH');
      const path = resolve(values.model);
      const out = exposeOutputs(
        readFileSync(path),
        values.tensor.split(',').map((t) => t.trim()),
        basename(path),
      );
      writeFileSync(resolve(values.out), out);
      process.stdout.write(
        `${values.out} written with output(s) ${values.tensor}; write its sidecar with \`tilelens sidecar --model ${values.out} …\`\n`,
      );
      return 0;
    }
    case 'runs': {
      const db = await openDatabase(storeLocation(values.db ?? defaultDbPath));
      try {
        process.stdout.write(`${JSON.stringify(await listRuns(db), null, 2)}\n`);
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'score': {
      const o = parseOptions(scoreOptions, values);
      if (!o.model && o.run === undefined) throw new UsageError('score needs --model PATH or --run ID');
      const dbPath = storeLocation(o.db);
      const ctx = await scoringCommandContext(o.db);
      const progress = stderrProgress();
      try {
        const r = await scoreRegion(ctx, {
          imagery: o.imagery,
          ...(o.model ? { modelPath: o.model } : {}),
          ...(o.run !== undefined ? { runId: o.run } : {}),
          ...(o['imagery-name'] ? { imageryName: o['imagery-name'] } : {}),
          ...(o.area ? { area: o.area } : {}),
          ...(o.name ? { projectName: o.name } : {}),
          ...(o.batch !== undefined ? { batchSize: o.batch } : {}),
          zoom: o.zoom,
          onProgress: (done, total) => progress('scoring tiles', done, total),
        });
        for (const w of r.warnings) process.stderr.write(`tilelens: warning: ${w}\n`);
        const out = o.out
          ? await writeProjectExports(
              ctx,
              await requireProject(ctx, r.projectId),
              resolve(o.out),
              o['public-url'] ?? DEFAULT_PUBLIC_URL,
            )
          : {};
        const line = {
          projectId: r.projectId,
          imageryId: r.imageryId,
          runId: r.runId,
          tiles: r.tiles,
          scored: r.scored,
          missing: r.missing,
          failed: r.failed,
          seconds: r.seconds,
          out,
          warnings: r.warnings,
          view: `npx tsx server/main.ts --db ${describeStore(dbPath)} then open http://127.0.0.1:8700/ and pick project ${r.projectId}`,
        };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      } finally {
        await closeCommandContext(ctx);
      }
      return 0;
    }
    case 'retry': {
      const o = parseOptions(retryOptions, values);
      const ctx = await scoringCommandContext(o.db);
      const progress = stderrProgress();
      try {
        const queued = await startScoring(ctx, o.project, {
          retryFailed: true,
          ...(o.batch !== undefined ? { batchSize: o.batch } : {}),
          onBatch: (j) => progress('retrying tiles', j.done, j.total),
        });
        const job = await waitForJob(ctx, queued.id);
        if (job.status !== 'done')
          throw new TilelensError(
            'scoring-stopped',
            `retrying ended ${job.status}${job.error ? `: ${job.error}` : ''}; the tiles not retried keep their failed rows — run it again`,
          );
        const line = {
          projectId: o.project,
          jobId: job.id,
          retried: job.done,
          healed: job.done - job.failed,
          stillFailing: job.failed,
          counts: await countScoredTiles(ctx, o.project),
        };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      } finally {
        await closeCommandContext(ctx);
      }
      return 0;
    }
    case 'sample':
    case 'import-results':
    case 'labels':
    case 'trust':
    case 'after-mapping':
      return await trustCommand(command, values);
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** A command's options read by its schema; what is wrong is a usage error naming the flags. */
function parseOptions<T extends z.ZodType>(schema: T, values: unknown): z.output<T> {
  const parsed = schema.safeParse(values);
  if (!parsed.success)
    throw new UsageError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

/** What the scoring commands run in: the server's rules for imagery, read from the environment. */
function commandContext(db: DatabaseHandle): ScoringContext {
  return {
    db,
    dataDir: process.env.TILELENS_DATA_DIR ?? dataDir,
    outbound: OutboundPolicy.fromSetting(process.env.TILELENS_IMAGERY_ALLOW_HOSTS),
    log: (m: string) => process.stderr.write(`${m}\n`),
  };
}

/** What a scoring command opened beside its context on the shared store: the store and its own worker. */
const sharedOf = new WeakMap<ScoringContext, { store: SharedStore; worker: ChunkWorker }>();

/**
 * The context of a command that scores. On the shared store (`--db postgres://…`) its job goes through the
 * queue, and the command works its chunks too (so it finishes with no other worker running); workers started
 * elsewhere take their share.
 */
async function scoringCommandContext(dbOption: string): Promise<ScoringContext> {
  const location = storeLocation(dbOption);
  if (!isSharedStore(location)) return commandContext(await openDatabase(location));
  const store = await openSharedStore(location, { migrate: true });
  const ctx = { ...commandContext(store.db), queue: store.queue };
  sharedOf.set(ctx, { store, worker: await workScoringChunks(ctx, store.queue) });
  return ctx;
}

async function closeCommandContext(ctx: ScoringContext): Promise<void> {
  const shared = sharedOf.get(ctx);
  await shared?.worker.stop();
  await closeImagerySources(ctx);
  await disposeScoringModels();
  ctx.outbound?.close();
  if (shared) await shared.store.close();
  else await ctx.db.close();
}

const share = z.coerce.number().gt(0).lt(1);
const trustOptions = z.object({
  project: int(1),
  db: z.string().default(defaultDbPath),
  size: int(2).optional(),
  'half-width': share.optional(),
  seed: z.coerce.number().int().min(0).optional(),
  out: z.string().optional(),
  'public-url': z.string().url().default('http://127.0.0.1:8700'),
  file: z.string().optional(),
  purpose: z.enum(['sample', 'mapping']).optional(),
  'mapswipe-project': z.string().optional(),
  sample: int(1).optional(),
  level: share.default(0.9),
  target: share.default(0.95),
  delta: share.default(0.1),
  threshold: z.coerce.number().min(0).max(1).optional(),
  top: int(1).max(1000).default(50),
});

/** The labelled side's verbs: thin over server/lib/trust/project-trust.ts, one line of JSON each. */
async function trustCommand(command: string, values: Record<string, unknown>): Promise<number> {
  const o = parseOptions(trustOptions, values);
  const db = await openDatabase(storeLocation(o.db));
  const ctx = { db, dataDir: process.env.TILELENS_DATA_DIR ?? dataDir };
  const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);
  const needFile = () => {
    if (!o.file) throw new UsageError(`${command} needs --file PATH`);
    return readFileSync(resolve(o.file));
  };
  try {
    if (command === 'sample') {
      const s = await drawProjectSample(ctx, o.project, {
        ...(o.size !== undefined ? { size: o.size } : {}),
        ...(o['half-width'] !== undefined ? { halfWidth: o['half-width'] } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
      });
      const out: string[] = [];
      if (o.out) {
        mkdirSync(resolve(o.out), { recursive: true });
        const csv = join(resolve(o.out), `calibration-sample-${s.id}.csv`);
        writeFileSync(csv, [...sampleCsv(s)].join(''));
        const info = await projectExportInfo(ctx, await requireProject(ctx, o.project), o['public-url']);
        const drafts = join(resolve(o.out), `calibration-sample-${s.id}-mapswipe-find.json`);
        writeFileSync(drafts, `${JSON.stringify(sampleFindDrafts(s, info, s.id), null, 2)}\n`);
        out.push(csv, drafts);
      }
      print({
        sampleId: s.id,
        size: s.design.size,
        strata: s.design.strata.length,
        tiles: s.design.tiles,
        out,
      });
    } else if (command === 'import-results') {
      if (!o.purpose) throw new UsageError('import-results needs --purpose sample|mapping');
      print(
        await importMapswipeResults(ctx, o.project, needFile(), {
          purpose: o.purpose,
          mapswipeProjectId: o['mapswipe-project'],
          maxBytes: resolveSettings().maxUploadBytes,
        }),
      );
    } else if (command === 'labels') {
      print(
        await setTileLabels(ctx, o.project, JSON.parse(needFile().toString('utf8')), o.purpose ?? 'sample'),
      );
    } else if (command === 'trust') {
      const est = await projectRegionEstimate(ctx, o.project, { sampleId: o.sample, level: o.level });
      print(trustReport(est, { target: o.target, delta: o.delta, threshold: o.threshold }));
    } else {
      print(await afterMappingReport(ctx, o.project, { sampleId: o.sample, level: o.level, top: o.top }));
    }
  } finally {
    await db.close();
  }
  return 0;
}

function parseSize(text: string): [number, number] {
  const v = text.split(/[,x×]/).map(Number);
  if (v.length === 1 && Number.isInteger(v[0]) && v[0] > 0) return [v[0], v[0]];
  if (v.length !== 2 || !v.every((n) => Number.isInteger(n) && n > 0))
    throw new UsageError(`--input-size ${text}: give H,W, e.g. 256,256`);
  return [v[0], v[1]];
}

function parseTriple(text: string, flag: string): number[] {
  const v = text.split(',').map(Number);
  if (v.length !== 3 || !v.every(Number.isFinite))
    throw new UsageError(`${flag} ${text}: give three numbers R,G,B`);
  return v;
}

/** The input's declared H, W when they are numbers (NCHW). */
function onnxInputSize(bytes: Uint8Array, path: string): [number, number] | undefined {
  const input = parseOnnxGraph(bytes, basename(path)).inputs[0];
  const [, , h, w] = input?.shape ?? [];
  return typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0 ? [h, w] : undefined;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`tilelens: ${err.message}\n`);
    const hint = (err as { hint?: unknown }).hint;
    if (typeof hint === 'string') process.stderr.write(`  ${hint}\n`);
    if (err instanceof UsageError) process.stderr.write(`\n${usage}`);
    else if (process.env.TILELENS_DEBUG) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
