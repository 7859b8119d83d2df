/**
 * Images of a run's training patches, by run and patch index: the store finds the patch's dataset and tile
 * itself, so no path ever comes from a caller.
 *
 * Image and mask are cheap (one archive read, one rasterisation). Predictions run the run's own model,
 * loaded once per model and kept, and their PNGs are kept in a bounded LRU since a brush on the latent
 * plot asks for the same few patches again and again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseHandle } from '../db/client.ts';
import { getDataset, getModel, getPatches, requireRun } from '../db/analysis-repo.ts';
import { NotFoundError, TilelensError } from '../errors.ts';
import { FootprintIndex } from '../geo/rasterize.ts';
import { decodeTileImage, encodePng } from '../imagery/decode.ts';
import { openPMTiles, type PMTilesArchive } from '../pmtiles/file-source.ts';
import { loadModel } from '../model/runtime.ts';
import type { SegmentationModel } from '../model/types.ts';

export type PatchImageKind = 'image' | 'mask' | 'prediction';

interface PatchLocation {
  z: number;
  x: number;
  y: number;
  world: string;
  modelId: number;
}

/** Keeps at most `max` entries, dropping the least recently used. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    if (this.max <= 0) return;
    this.map.delete(key);
    this.map.set(key, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

export class PatchImageStore {
  private readonly archives = new Map<string, Promise<PMTilesArchive>>();
  private readonly footprints = new Map<string, FootprintIndex>();
  private readonly modelsById = new Map<number, Promise<SegmentationModel>>();
  private readonly predictions: Lru<Uint8Array>;

  constructor(
    private readonly handle: DatabaseHandle,
    predictionCacheEntries: number,
  ) {
    this.predictions = new Lru(predictionCacheEntries);
  }

  private async locate(runId: number, idx: number): Promise<PatchLocation> {
    const run = await requireRun(this.handle, runId);
    if (idx >= run.patchCount) {
      throw new NotFoundError(`patch ${idx} of run ${runId}`, `the run has patches 0..${run.patchCount - 1}`);
    }
    // Patch idx values are 0..n−1 in order, so the offset reads exactly that row through the index.
    const [patch] = await getPatches(this.handle, runId, {
      columns: ['idx', 'z', 'x', 'y'],
      limit: 1,
      offset: idx,
    });
    if (!patch || patch.idx !== idx) throw new NotFoundError(`patch ${idx} of run ${runId}`);
    const dataset = await getDataset(this.handle, run.datasetId);
    const world = dataset?.kind === 'demo_world' ? dataset.source.world : undefined;
    if (typeof world !== 'string' || patch.z === null || patch.x === null || patch.y === null) {
      throw new TilelensError(
        'no-patch-images',
        `run ${runId}'s dataset (${dataset?.kind ?? 'unknown'}) has no tile images the server can serve yet`,
        {
          status: 409,
          hint: 'patch images are served for demo-world runs; other dataset kinds follow with their image stores',
        },
      );
    }
    return { z: patch.z, x: patch.x, y: patch.y, world, modelId: run.modelId };
  }

  private archive(world: string): Promise<PMTilesArchive> {
    let a = this.archives.get(world);
    if (!a) {
      a = openPMTiles(join(world, 'imagery.pmtiles'));
      this.archives.set(world, a);
      a.catch(() => this.archives.delete(world));
    }
    return a;
  }

  private async rgb(loc: PatchLocation, label: string) {
    const bytes = await (await this.archive(loc.world)).getTile(loc.z, loc.x, loc.y);
    if (!bytes)
      throw new NotFoundError(
        `the image of ${label}`,
        'the dataset archive lacks this tile; rebuild the demo world',
      );
    return decodeTileImage(bytes, { label, expectedSize: null });
  }

  private async model(modelId: number): Promise<SegmentationModel> {
    let m = this.modelsById.get(modelId);
    if (!m) {
      const row = await getModel(this.handle, modelId);
      if (!row || !existsSync(row.path)) {
        throw new TilelensError(
          'model-missing',
          `the weights of model ${modelId} are no longer where it was registered`,
          {
            status: 409,
            hint: 'restore the model file or re-run the analysis with the model at its new place',
          },
        );
      }
      m = loadModel(row.path);
      this.modelsById.set(modelId, m);
      m.catch(() => this.modelsById.delete(modelId));
    }
    return m;
  }

  async png(runId: number, idx: number, kind: PatchImageKind): Promise<Uint8Array> {
    const loc = await this.locate(runId, idx);
    const label = `patch ${idx} of run ${runId} (tile ${loc.z}-${loc.x}-${loc.y})`;
    if (kind === 'image') {
      const img = await this.rgb(loc, label);
      return encodePng(img.data, img.width, img.height);
    }
    if (kind === 'mask') {
      let index = this.footprints.get(loc.world);
      if (!index) {
        index = FootprintIndex.fromFile(join(loc.world, 'footprints.geojson'));
        this.footprints.set(loc.world, index);
      }
      const size = 256;
      return encodePng(grey(index.maskForTile(loc.z, loc.x, loc.y, size), 255), size, size);
    }
    const key = `${runId}/${idx}`;
    const cached = this.predictions.get(key);
    if (cached) return cached;
    const [img, model] = await Promise.all([this.rgb(loc, label), await this.model(loc.modelId)]);
    const out = await model.predict(img.data, 1, [img.height, img.width]);
    const [h, w] = model.info.inputSize;
    const png = await encodePng(grey(out.probs, 255), w, h);
    this.predictions.set(key, png);
    return png;
  }

  async close(): Promise<void> {
    const archives = [...this.archives.values()];
    const loaded = [...this.modelsById.values()];
    this.archives.clear();
    this.modelsById.clear();
    await Promise.allSettled(archives.map(async (a) => (await a).close()));
    await Promise.allSettled(loaded.map(async (m) => (await m).dispose()));
  }
}

/** One value per pixel (0..1 or 0/1) as an RGB grey image. */
function grey(values: ArrayLike<number>, scale: number): Uint8Array {
  const out = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const v = Math.max(0, Math.min(255, Math.round(values[i] * scale)));
    out[i * 3] = v;
    out[i * 3 + 1] = v;
    out[i * 3 + 2] = v;
  }
  return out;
}
