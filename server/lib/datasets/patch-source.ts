/**
 * A training dataset as the reference analysis sees it: a stream of patches, each an RGB image with its
 * building mask. Sources (the demo world, a folder of pairs, GeoTIFFs, footprints over imagery) differ only
 * in how they produce patches; the analysis never holds more than one batch of them.
 */
import { TilelensError } from '../errors.ts';
export interface Patch {
  /** Stable key within the dataset: a task id `18-x-y` for geo tiles, `file#window` for cut images. */
  key: string;
  /** District, dataset of origin or any grouping column the source knows. */
  group: string;
  split: string;
  /** Slippy-map tile when the patch is one (geo-referenced imagery). */
  tile?: { z: number; x: number; y: number };
  /** Centre in lon/lat when known. */
  center?: [number, number];
  /**
   * Lon/lat of a point of the patch (pixel-corner coordinates, x right, y down), for geo-referenced imagery that
   * is not a map tile (GeoTIFF pairs): what puts the patch's label errors on the map.
   */
  place?: (x: number, y: number) => [number, number];
  /** RGB, row-major HWC. */
  image: Uint8Array;
  width: number;
  height: number;
  /** 0/1 building mask, width×height. */
  mask: Uint8Array;
  /** Known facts about the patch (demo world: planted phenomena); empty for real data. */
  phenomena: string[];
}

export interface PatchSource {
  readonly name: string;
  readonly kind: 'demo_world' | 'folder' | 'manifest' | 'geotiff' | 'footprints';
  /** Description stored with the dataset row (paths stay on the server, never sent to a browser). */
  readonly description: Record<string, unknown>;
  /** Number of patches the stream will yield (known up front so progress can be shown). */
  readonly size: number;
  patches(): AsyncIterable<Patch>;
  close(): Promise<void>;
}

export class DatasetError extends TilelensError {
  override name = 'DatasetError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('dataset', message, { status: 422, cause: options?.cause });
  }
}
