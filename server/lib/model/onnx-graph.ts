/**
 * Just enough of the ONNX protobuf to list a graph's nodes (name, op type, outputs) and its declared inputs /
 * outputs, and to add an intermediate tensor as a graph output — so a user can pick any encoder level as the
 * bottleneck of a model exported without one. Initializers (the weights) are skipped by length, never decoded.
 *
 * Field numbers from onnx.proto3: ModelProto.graph = 7; GraphProto.node = 1, input = 11, output = 12,
 * value_info = 13; NodeProto.input = 1, output = 2, name = 3, op_type = 4; ValueInfoProto.name = 1, type = 2;
 * TypeProto.tensor_type = 1; Tensor.elem_type = 1, shape = 2; TensorShapeProto.dim = 1;
 * Dimension.dim_value = 1, dim_param = 2.
 */
import { ModelError } from './errors.ts';

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
}

export interface OnnxValueInfo {
  name: string;
  /** Declared dimensions: a number, a symbolic name, or null when the file does not say. */
  shape: Array<number | string | null> | null;
}

export interface OnnxGraph {
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Shapes the exporter recorded for intermediate tensors (often none). */
  valueInfo: OnnxValueInfo[];
}

interface Field {
  field: number;
  wire: number;
  /** Varint value (wire 0). */
  value?: number;
  /** Payload bounds (wire 2). */
  start: number;
  end: number;
  /** Whole field, tag included. */
  tagStart: number;
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    readonly label: string,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('a varint runs past its message');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    this.fail('a varint is longer than 10 bytes');
  }

  fail(what: string): never {
    throw new ModelError(
      `model ${this.label} is not a valid ONNX protobuf (${what}); re-export it with torch.onnx.export`,
    );
  }

  *fields(): Generator<Field> {
    while (this.pos < this.end) {
      const tagStart = this.pos;
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (wire === 0) {
        const value = this.varint();
        yield { field, wire, value, start: this.pos, end: this.pos, tagStart };
      } else if (wire === 2) {
        const len = this.varint();
        const start = this.pos;
        if (start + len > this.end) this.fail(`field ${field} runs past the end of its message`);
        this.pos = start + len;
        yield { field, wire, start, end: start + len, tagStart };
      } else if (wire === 1) {
        this.pos += 8;
      } else if (wire === 5) {
        this.pos += 4;
      } else {
        this.fail(`unsupported wire type ${wire} in field ${field}`);
      }
    }
  }
}

const decoder = new TextDecoder();

function text(buf: Uint8Array, f: Field): string {
  return decoder.decode(buf.subarray(f.start, f.end));
}

function sub(r: Reader, f: Field): Reader {
  return new Reader(r.buf, f.start, f.end, r.label);
}

function parseNode(r: Reader): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', inputs: [], outputs: [] };
  for (const f of r.fields()) {
    if (f.wire !== 2) continue;
    if (f.field === 1) node.inputs.push(text(r.buf, f));
    else if (f.field === 2) node.outputs.push(text(r.buf, f));
    else if (f.field === 3) node.name = text(r.buf, f);
    else if (f.field === 4) node.opType = text(r.buf, f);
  }
  return node;
}

function parseShape(r: Reader): Array<number | string | null> {
  const dims: Array<number | string | null> = [];
  for (const f of r.fields()) {
    if (f.field !== 1 || f.wire !== 2) continue;
    let dim: number | string | null = null;
    for (const d of sub(r, f).fields()) {
      if (d.field === 1 && d.wire === 0) dim = d.value!;
      else if (d.field === 2 && d.wire === 2) dim = text(r.buf, d);
    }
    dims.push(dim);
  }
  return dims;
}

function parseValueInfo(r: Reader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', shape: null };
  for (const f of r.fields()) {
    if (f.wire !== 2) continue;
    if (f.field === 1) info.name = text(r.buf, f);
    else if (f.field === 2) {
      for (const t of sub(r, f).fields()) {
        if (t.field !== 1 || t.wire !== 2) continue;
        for (const s of sub(r, t).fields())
          if (s.field === 2 && s.wire === 2) info.shape = parseShape(sub(r, s));
      }
    }
  }
  return info;
}

function graphField(bytes: Uint8Array, label: string): { reader: Reader; field: Field } {
  const model = new Reader(bytes, 0, bytes.length, label);
  for (const f of model.fields()) {
    if (f.field === 7 && f.wire === 2) return { reader: model, field: f };
  }
  throw new ModelError(`model ${label} has no graph; is it an ONNX model file?`);
}

/** Nodes and declared inputs / outputs of an ONNX model's main graph. */
export function parseOnnxGraph(bytes: Uint8Array, label = 'model'): OnnxGraph {
  const { reader, field } = graphField(bytes, label);
  const g = sub(reader, field);
  const graph: OnnxGraph = { nodes: [], inputs: [], outputs: [], valueInfo: [] };
  for (const f of g.fields()) {
    if (f.wire !== 2) continue;
    if (f.field === 1) graph.nodes.push(parseNode(sub(g, f)));
    else if (f.field === 11) graph.inputs.push(parseValueInfo(sub(g, f)));
    else if (f.field === 12) graph.outputs.push(parseValueInfo(sub(g, f)));
    else if (f.field === 13) graph.valueInfo.push(parseValueInfo(sub(g, f)));
  }
  // Initializers are listed as graph inputs by older exporters; they are weights, not the image.
  return graph;
}

function encodeVarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  const head = [...encodeVarint(field * 8 + 2), ...encodeVarint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/**
 * The model with extra graph outputs: each named tensor (a node output) becomes readable as a layer. The
 * output carries only its name; onnxruntime infers type and shape. Other fields are copied byte for byte.
 */
export function exposeOutputs(bytes: Uint8Array, tensors: string[], label = 'model'): Uint8Array {
  const graph = parseOnnxGraph(bytes, label);
  const produced = new Set(graph.nodes.flatMap((n) => n.outputs));
  const declared = new Set(graph.outputs.map((o) => o.name));
  for (const t of tensors) {
    if (!produced.has(t)) {
      const byName = graph.nodes.find((n) => n.name === t);
      const hint = byName ? ` (it is a node name; its output tensor is "${byName.outputs[0]}")` : '';
      throw new ModelError(
        `model ${label} has no tensor "${t}"${hint}; pick a node output listed by \`tilelens layers --model …\``,
      );
    }
  }
  const added = tensors.filter((t) => !declared.has(t));
  const { field } = graphField(bytes, label);
  const extra = added.map((t) => lengthDelimited(12, lengthDelimited(1, new TextEncoder().encode(t))));
  const oldGraph = bytes.subarray(field.start, field.end);
  const newGraph = new Uint8Array(oldGraph.length + extra.reduce((a, e) => a + e.length, 0));
  newGraph.set(oldGraph);
  let off = oldGraph.length;
  for (const e of extra) {
    newGraph.set(e, off);
    off += e.length;
  }
  const graphBytes = lengthDelimited(7, newGraph);
  const out = new Uint8Array(field.tagStart + graphBytes.length + (bytes.length - field.end));
  out.set(bytes.subarray(0, field.tagStart));
  out.set(graphBytes, field.tagStart);
  out.set(bytes.subarray(field.end), field.tagStart + graphBytes.length);
  return out;
}

export interface NodeShape {
  node: string;
  opType: string;
  tensor: string;
  /** Per-tile [C, h, w] of a 4-D output; null for other ranks. */
  shape: [number, number, number] | null;
  isGraphOutput: boolean;
}

/** Ops after which a U-Net is decoding: the bottleneck lies before the first of them. */
const UPSAMPLING = new Set(['Resize', 'Upsample', 'ConvTranspose', 'DepthToSpace']);

/**
 * The paper's bottleneck among probed node outputs: of the 4-D tensors computed before the first upsampling
 * op, those at the smallest spatial resolution, and of them the last one computed (deepest).
 */
export function suggestBottleneck(nodes: NodeShape[]): string | undefined {
  const firstUp = nodes.findIndex((n) => UPSAMPLING.has(n.opType));
  const encoder = (firstUp < 0 ? nodes : nodes.slice(0, firstUp)).filter((n) => n.shape !== null);
  if (encoder.length === 0) return undefined;
  const area = (n: NodeShape) => n.shape![1] * n.shape![2];
  const smallest = Math.min(...encoder.map(area));
  return encoder.filter((n) => area(n) === smallest).at(-1)!.tensor;
}

/**
 * Output shape of every node, from one blank image through a copy of the graph with every node output exposed
 * (graph nodes are stored in topological order, so the list reads from input to output).
 */
export async function probeNodeShapes(
  bytes: Uint8Array,
  inputSize: [number, number],
  label = 'model',
): Promise<NodeShape[]> {
  const ort = await import('onnxruntime-node');
  const graph = parseOnnxGraph(bytes, label);
  const declared = new Set(graph.outputs.map((o) => o.name));
  const tensors = graph.nodes.flatMap((n) => n.outputs.filter((t) => t !== ''));
  const session = await ort.InferenceSession.create(exposeOutputs(bytes, tensors, label)).catch(
    (err: Error) => {
      throw new ModelError(`model ${label} could not be opened by onnxruntime: ${err.message}`);
    },
  );
  try {
    const [h, w] = inputSize;
    const input = session.inputNames[0];
    const out = await session
      .run({ [input]: new ort.Tensor('float32', new Float32Array(3 * h * w), [1, 3, h, w]) })
      .catch((err: Error) => {
        throw new ModelError(
          `model ${label} failed on a blank 3×${h}×${w} input (${err.message}); pass --input-size H,W of the size it was exported for`,
        );
      });
    const shapes: NodeShape[] = [];
    for (const n of graph.nodes) {
      for (const t of n.outputs) {
        if (t === '') continue;
        const dims = out[t]?.dims;
        shapes.push({
          node: n.name,
          opType: n.opType,
          tensor: t,
          shape: dims && dims.length === 4 ? [dims[1], dims[2], dims[3]] : null,
          isGraphOutput: declared.has(t),
        });
        out[t]?.dispose();
      }
    }
    return shapes;
  } finally {
    await session.release();
  }
}
