/**
 * Reopens the dataset a stored run was made from, so that a second pass can see masks and predictions again
 * without the run having kept them. Every kind of dataset the analysis reads is reopened from the description
 * stored with it; what cannot be (a dataset analysed from an imagery source given as an object, files moved
 * away) is refused with the reason, which `run-insights` reports in one line.
 */
import { existsSync } from 'node:fs';
import type { DatabaseHandle } from '../db/client.ts';
import { getDataset, getModel, requireRun } from '../db/analysis-repo.ts';
import type { EdgePolicy } from '../datasets/cut.ts';
import { openDemoWorldDataset } from '../datasets/demo-world.ts';
import { openFolderDataset, type PairPatchOptions } from '../datasets/folder.ts';
import { openFootprintsDataset } from '../datasets/footprints-over-imagery.ts';
import { openGeoTiffPairsDataset } from '../datasets/geotiff-pairs.ts';
import { openManifestDataset } from '../datasets/manifest.ts';
import type { PatchSource } from '../datasets/patch-source.ts';
import { parseImagerySpec } from '../imagery/source.ts';
import { InsightsError } from './errors.ts';

/** The model file a run was made with (server-side path). */
export async function runModelPath(db: DatabaseHandle, runId: number): Promise<string> {
  const run = await requireRun(db, runId);
  const model = await getModel(db, run.modelId);
  if (!model) throw new InsightsError(`model ${run.modelId} of run ${runId} is gone; re-run the analysis`);
  return model.path;
}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** How the pairs were cut, as the description recorded it. */
function pairOptions(src: Record<string, unknown>): PairPatchOptions {
  const edge = str(src.edge);
  const mode = str(src.mode);
  return {
    ...(num(src.patchSize) !== undefined ? { patchSize: num(src.patchSize) } : {}),
    ...(num(src.stride) !== undefined ? { stride: num(src.stride) } : {}),
    ...(edge === 'pad' || edge === 'drop' || edge === 'shift' ? { edge: edge as EdgePolicy } : {}),
    ...(mode === 'cut' || mode === 'resize' ? { mode } : {}),
    ...(num(src.targetClass) !== undefined ? { targetClass: num(src.targetClass) } : {}),
  };
}

export async function openRunDataset(db: DatabaseHandle, runId: number): Promise<PatchSource> {
  const run = await requireRun(db, runId);
  const ds = await getDataset(db, run.datasetId);
  if (!ds) throw new InsightsError(`dataset ${run.datasetId} of run ${runId} is gone; re-run the analysis`);
  const src = ds.source;
  const gone = (path: string) =>
    new InsightsError(`dataset '${ds.name}' of run ${runId} was read from ${path}, which is no longer there`);
  const need = (path: string | undefined, what: string): string => {
    if (!path) {
      throw new InsightsError(
        `dataset '${ds.name}' of run ${runId} (kind '${ds.kind}') did not record its ${what}; re-run the analysis`,
      );
    }
    if (!existsSync(path)) throw gone(path);
    return path;
  };
  switch (ds.kind) {
    case 'demo_world':
      return openDemoWorldDataset(
        need(str(src.world), 'world folder'),
        src.region === 'new' ? 'new' : 'train',
      );
    case 'folder':
      return openFolderDataset(need(str(src.images), 'images folder'), need(str(src.masks), 'masks folder'), {
        ...pairOptions(src),
        group: ds.name.replace(/^folder:/, ''),
      });
    case 'manifest': {
      const groups = Array.isArray(src.groups)
        ? src.groups.filter((g): g is string => typeof g === 'string')
        : [];
      return openManifestDataset(need(str(src.manifest), 'manifest'), {
        ...pairOptions(src),
        ...(str(src.groupColumn) ? { groupColumn: str(src.groupColumn) } : {}),
        ...(groups.length ? { groups } : {}),
      });
    }
    case 'geotiff':
      return openGeoTiffPairsDataset(need(str(src.dir), 'folder'), {
        ...pairOptions(src),
        group: ds.name.replace(/^geotiff:/, ''),
      });
    case 'footprints': {
      const footprints = need(str(src.footprints), 'footprints file');
      if (!src.imagerySpec || typeof src.imagerySpec !== 'object') {
        throw new InsightsError(
          `dataset '${ds.name}' of run ${runId} was analysed over imagery given as an open source, whose spec was not recorded; re-run the analysis with --imagery`,
        );
      }
      return openFootprintsDataset(footprints, parseImagerySpec(src.imagerySpec), {
        ...(num(src.zoom) !== undefined ? { zoom: num(src.zoom) } : {}),
        group: ds.name.replace(/^footprints:/, ''),
      });
    }
  }
  throw new InsightsError(`dataset '${ds.name}' of run ${runId} is of unknown kind '${ds.kind}'`);
}
