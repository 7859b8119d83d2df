import type { Normalization } from './preprocess.ts';

export type RuntimeName = 'onnx' | 'tfjs';

export interface ModelInfo {
  name: string;
  runtime: RuntimeName;
  /** Execution backend actually in use, e.g. 'cpu (onnxruntime-node 1.30.0, 2 threads)' or 'wasm'. */
  backend: string;
  /** The model's input, [h, w]. `predict` returns probabilities at this size. */
  inputSize: [number, number];
  bands: 3;
  normalization: Normalization;
  outputActivation: 'sigmoid' | 'softmax' | 'none';
  targetClass?: number;
  /**
   * Tiles of another size than `inputSize` are resized bilinearly (half-pixel centres) before inference, so
   * metrics against ground truth must be computed at `inputSize` (see `resizeMask`).
   */
  tileResize: 'bilinear';
  layer: string;
  /** [C, h, w] of `layer` per tile. */
  layerShape: [number, number, number];
  availableLayers: string[];
  provenance?: Record<string, unknown>;
}

export interface Prediction {
  /** N×H×W building probability at `info.inputSize`. */
  probs: Float32Array;
  /** N×C×h×w activations of `info.layer`. */
  activations: Float32Array;
  activationShape: [number, number, number];
}

export interface SegmentationModel {
  info: ModelInfo;
  /**
   * `batch` holds n RGB tiles, HWC uint8, one after another. Tiles are square unless `tileSize` says otherwise.
   */
  predict(batch: Uint8Array, n: number, tileSize?: [number, number]): Promise<Prediction>;
  dispose(): Promise<void>;
}

export interface LoadOptions {
  /** Layer whose activations `predict` returns; the sidecar's bottleneck by default. */
  layer?: string;
  /** Guessed from the file name (.onnx → onnx, model.json → tfjs) when absent. */
  runtime?: RuntimeName;
  /** CPU threads for inference; all cores by default. */
  threads?: number;
}

export interface LayerDescription {
  name: string;
  /** [C, h, w] per tile. */
  shape: [number, number, number];
  isDefaultBottleneck: boolean;
}

/** What an adapter hands back: the public model plus the shapes `listLayers` reports. */
export interface AdapterModel extends SegmentationModel {
  layerShapes: ReadonlyMap<string, [number, number, number]>;
}
