/**
 * fAIr models in: fAIr publishes each model as `model.onnx` beside its weights and a STAC item using the
 * Machine Learning Model extension (`mlm:input`, `mlm:output`, assets with `mlm:artifact_type`). From that
 * item tilelens proposes the sidecar its runtime needs (input size, normalisation, output activation,
 * building class, bottleneck); what the item cannot say is named in `notes`, and any field can be
 * overridden before the sidecar is written. The graph itself then checks the result (runtime.ts refuses a
 * sidecar that does not fit it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseOnnxGraph, probeNodeShapes, suggestBottleneck } from '../model/onnx-graph.ts';
import { SidecarSchema, type Sidecar } from '../model/sidecar.ts';
import { ModelError } from '../model/errors.ts';

interface MlmInput {
  name?: string;
  bands?: unknown[];
  input?: { shape?: number[]; dim_order?: string[] };
  /** MLM ≥ 1.3: one scaling for all bands, or one per band. */
  value_scaling?: Array<{
    type?: string;
    mean?: number;
    stddev?: number;
    minimum?: number;
    maximum?: number;
  }>;
  /** MLM < 1.3. */
  norm_type?: string;
  statistics?:
    | { mean?: number[]; stddev?: number[]; minimum?: number[]; maximum?: number[] }
    | Array<{ mean?: number; stddev?: number }>;
  pre_processing_function?: { format?: string; expression?: string };
}

interface MlmOutput {
  name?: string;
  result?: { shape?: number[]; dim_order?: string[] };
  'classification:classes'?: Array<{ name?: string; value?: number }>;
  post_processing_function?: { expression?: string };
}

export interface StacItem {
  id?: string;
  properties?: Record<string, unknown>;
  assets?: Record<string, { href?: string; type?: string; roles?: string[]; 'mlm:artifact_type'?: string }>;
}

export interface SidecarProposal {
  sidecar: Sidecar;
  /** What was guessed rather than read, and what to check. */
  notes: string[];
  /** The ONNX asset of the item (its href), when it names one. */
  onnxAsset?: string;
}

const RGB = ['red', 'green', 'blue'];

function fail(message: string): never {
  throw new ModelError(`fAIr STAC item: ${message}`);
}

/** The input size [H, W] from `mlm:input[0].input.shape` read with its dim_order. */
function inputSizeOf(input: MlmInput): [number, number] {
  const shape = input.input?.shape;
  const order = input.input?.dim_order ?? ['batch', 'channel', 'height', 'width'];
  if (!Array.isArray(shape) || shape.length !== order.length)
    fail('mlm:input[0].input.shape is missing or does not match its dim_order');
  const h = shape[order.indexOf('height')];
  const w = shape[order.indexOf('width')];
  if (!(Number.isInteger(h) && h > 0 && Number.isInteger(w) && w > 0)) {
    fail(
      `mlm:input[0] has no fixed height and width (shape ${JSON.stringify(shape)}); tilelens reads tiles of a fixed size — override inputSize`,
    );
  }
  const bandsAt = order.findIndex((d) => d === 'bands' || d === 'channel' || d === 'channels');
  const bands = bandsAt >= 0 ? shape[bandsAt] : input.bands?.length;
  if (bands !== undefined && bands !== 3)
    fail(`the model takes ${bands} bands; tilelens reads RGB imagery (3 bands)`);
  return [h, w];
}

function normalizationOf(input: MlmInput, notes: string[]): Sidecar['normalization'] {
  let mean: number[] | undefined;
  let std: number[] | undefined;
  const scaling = input.value_scaling;
  if (Array.isArray(scaling) && scaling.length > 0) {
    const per = scaling.length === 1 ? [scaling[0], scaling[0], scaling[0]] : scaling;
    if (
      per.every((s) => s.type === 'z_score' && typeof s.mean === 'number' && typeof s.stddev === 'number')
    ) {
      mean = per.map((s) => s.mean!);
      std = per.map((s) => s.stddev!);
    } else if (
      per.every((s) => s.type === 'min_max' && typeof s.minimum === 'number' && typeof s.maximum === 'number')
    ) {
      mean = per.map((s) => s.minimum!);
      std = per.map((s) => s.maximum! - s.minimum!);
    } else {
      notes.push(
        `mlm:input value_scaling ${JSON.stringify(scaling)} is not z_score or min_max per band; check normalization`,
      );
    }
  } else if (input.norm_type === 'z_score' && input.statistics && !Array.isArray(input.statistics)) {
    mean = input.statistics.mean;
    std = input.statistics.stddev;
  } else if (Array.isArray(input.statistics) && input.statistics.every((s) => typeof s.mean === 'number')) {
    mean = input.statistics.map((s) => s.mean!);
    std = input.statistics.map((s) => s.stddev ?? 1);
  }
  if (!mean || !std || mean.length !== 3 || std.length !== 3) {
    const fn = input.pre_processing_function?.expression;
    notes.push(
      `the item gives no per-band normalisation${fn ? ` (fAIr normalises in ${fn})` : ''}: proposed pixel / 255 with mean 0 and std 1 — check the model's preprocessing and override "normalization"`,
    );
    return { mean: [0, 0, 0], std: [1, 1, 1], scale: 255 };
  }
  // Statistics in 0..255 pixel units take the raw pixel; statistics in 0..1 take pixel / 255.
  const scale = mean.some((m) => m > 1.5) || std.some((s) => s > 1.5) ? 1 : 255;
  return { mean, std, scale };
}

function outputOf(
  output: MlmOutput | undefined,
  notes: string[],
): Pick<Sidecar, 'outputActivation' | 'targetClass'> {
  const shape = output?.result?.shape;
  const order = output?.result?.dim_order ?? ['batch', 'channel', 'height', 'width'];
  const channelAt = order.findIndex(
    (d) => d === 'channel' || d === 'channels' || d === 'class' || d === 'bands',
  );
  const channels = Array.isArray(shape) && channelAt >= 0 ? shape[channelAt] : undefined;
  const classes = output?.['classification:classes'] ?? [];
  const building = classes.find((c) => /building/i.test(c.name ?? ''));
  notes.push(
    'fAIr models end in raw scores (logits) unless exported with their activation; if the graph already outputs probabilities, override "outputActivation": "none"',
  );
  if (channels === 1) return { outputActivation: 'sigmoid' };
  if (channels !== undefined && channels >= 2) {
    if (!building)
      notes.push(`no output class is named "building"; proposed class 1 — override "targetClass"`);
    return { outputActivation: 'softmax', targetClass: building?.value ?? 1 };
  }
  notes.push(
    'mlm:output gives no channel count; proposed a single-channel sigmoid output — check "outputActivation"',
  );
  return { outputActivation: 'sigmoid' };
}

/** The asset holding the ONNX graph, by artifact type or media type. */
function onnxAssetOf(item: StacItem): string | undefined {
  for (const a of Object.values(item.assets ?? {})) {
    if (
      a['mlm:artifact_type'] === 'onnx' ||
      /framework=onnx/.test(a.type ?? '') ||
      /\.onnx$/.test(a.href ?? '')
    ) {
      return a.href;
    }
  }
  return undefined;
}

/** Deep merge of plain objects; arrays and values of the override replace. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * The sidecar proposed for a fAIr model: read from its STAC item, the bottleneck found in the graph,
 * then `overrides` applied on top. Throws ModelError when the result is not a usable sidecar.
 */
export async function proposeFairSidecar(
  item: StacItem,
  onnxPath: string,
  overrides: Record<string, unknown> = {},
): Promise<SidecarProposal> {
  const notes: string[] = [];
  const props = item.properties ?? {};
  const inputs = props['mlm:input'] as MlmInput[] | undefined;
  if (!Array.isArray(inputs) || inputs.length === 0)
    fail('it has no mlm:input; is it a model item (MLM extension)?');
  const input = inputs[0];
  const bandNames = (input.bands ?? []).map((b) =>
    typeof b === 'string' ? b : (b as { name?: string }).name,
  );
  if (bandNames.length === 3 && bandNames.some((n, i) => n !== undefined && n.toLowerCase() !== RGB[i])) {
    notes.push(
      `the model's bands are ${bandNames.join(', ')}; tilelens feeds red, green, blue in that order`,
    );
  }
  const inputSize = inputSizeOf(input);
  const normalization = normalizationOf(input, notes);
  const outputs = props['mlm:output'] as MlmOutput[] | undefined;
  const activation = outputOf(Array.isArray(outputs) ? outputs[0] : undefined, notes);

  const bytes = readFileSync(onnxPath);
  const graph = parseOnnxGraph(bytes, basename(onnxPath));
  const nodes = await probeNodeShapes(bytes, inputSize, basename(onnxPath));
  const suggested = suggestBottleneck(nodes);
  const outputNames = graph.outputs.map((o) => o.name);
  const bottleneck = suggested ?? '';
  if (!suggested) {
    notes.push(
      'no encoder bottleneck was found in the graph; override "bottleneck" with a layer (see `tilelens layers`)',
    );
  } else if (!outputNames.includes(suggested)) {
    notes.push(
      `the bottleneck ${suggested} is not a graph output yet: run \`tilelens expose --model ${onnxPath} --tensor ${suggested} --out <model>-exposed.onnx\` and open that file instead`,
    );
  }
  const proposed = {
    name: String(props['mlm:name'] ?? item.id ?? basename(dirname(onnxPath))),
    inputSize,
    bands: 3,
    normalization,
    ...activation,
    output: outputNames[0],
    bottleneck,
    provenance: {
      source: 'fAIr STAC item',
      stacId: item.id,
      version: props.version,
      license: props.license,
      architecture: props['mlm:architecture'],
      framework: props['mlm:framework'],
      ...(onnxAssetOf(item) ? { onnx: onnxAssetOf(item) } : {}),
    },
  };
  const merged = merge(proposed, overrides);
  const parsed = SidecarSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelError(`the proposed sidecar is not usable (${issues}); override the fields named`);
  }
  if (parsed.data.outputActivation === 'softmax' && parsed.data.targetClass === undefined) {
    throw new ModelError('a softmax output needs "targetClass" (the building channel); override it');
  }
  return { sidecar: parsed.data, notes, ...(onnxAssetOf(item) ? { onnxAsset: onnxAssetOf(item) } : {}) };
}

/** fAIr's layout: `model.onnx` beside `stac-item.json`, or the file the item's ONNX asset names. */
export function findFairOnnx(stacPath: string, item: StacItem): string {
  const dir = dirname(stacPath);
  const candidates = [join(dir, 'model.onnx')];
  const href = onnxAssetOf(item);
  if (href) candidates.push(join(dir, basename(href)));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new ModelError(
      `no ONNX model beside ${basename(stacPath)} (looked for ${candidates.map((c) => basename(c)).join(', ')}); download it${href ? ` from ${href}` : ''} or pass --model PATH`,
    );
  }
  return found;
}
