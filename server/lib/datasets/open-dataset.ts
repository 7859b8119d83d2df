/**
 * One entry point from "where the training data is" (as the command line says it) to a patch stream.
 * Exactly one kind of source may be named.
 */
import { resolve } from 'node:path';
import { openDemoWorldDataset } from './demo-world.ts';
import type { EdgePolicy } from './cut.ts';
import { openFolderDataset } from './folder.ts';
import { imagerySpecFromArg, openFootprintsDataset } from './footprints-over-imagery.ts';
import { openGeoTiffPairsDataset } from './geotiff-pairs.ts';
import { openManifestDataset } from './manifest.ts';
import { DatasetError, type PatchSource } from './patch-source.ts';

export interface DatasetSpec {
  world?: string;
  images?: string;
  masks?: string;
  manifest?: string;
  geotiffs?: string;
  footprints?: string;
  imagery?: string;
  targetClass?: number;
  patchSize?: number;
  stride?: number;
  edge?: EdgePolicy;
  /** Whole images resized to one patch instead of cut into windows. */
  resize?: boolean;
  groupColumn?: string;
  /** A fixed split for every patch, e.g. 'train'; 'all' by default. */
  split?: string;
}

const SOURCES = ['--world', '--images/--masks', '--manifest', '--geotiffs', '--footprints/--imagery'];

export function describeSpec(spec: DatasetSpec): string[] {
  const named: string[] = [];
  if (spec.world) named.push('--world');
  if (spec.images || spec.masks) named.push('--images/--masks');
  if (spec.manifest) named.push('--manifest');
  if (spec.geotiffs) named.push('--geotiffs');
  if (spec.footprints || spec.imagery) named.push('--footprints/--imagery');
  return named;
}

export async function openDataset(spec: DatasetSpec): Promise<PatchSource> {
  const named = describeSpec(spec);
  if (named.length !== 1) {
    throw new DatasetError(
      named.length === 0
        ? `no training data named; pass one of ${SOURCES.join(', ')}`
        : `training data named twice (${named.join(' and ')}); pass only one of ${SOURCES.join(', ')}`,
    );
  }
  const pairOptions = {
    ...(spec.patchSize !== undefined ? { patchSize: spec.patchSize } : {}),
    ...(spec.stride !== undefined ? { stride: spec.stride } : {}),
    ...(spec.edge !== undefined ? { edge: spec.edge } : {}),
    ...(spec.targetClass !== undefined ? { targetClass: spec.targetClass } : {}),
    ...(spec.resize ? { mode: 'resize' as const } : {}),
    ...(spec.split ? { split: () => spec.split! } : {}),
  };
  if (spec.world) return openDemoWorldDataset(resolve(spec.world), 'train');
  if (spec.images || spec.masks) {
    if (!spec.images || !spec.masks)
      throw new DatasetError('--images and --masks go together: name both folders');
    return openFolderDataset(spec.images, spec.masks, pairOptions);
  }
  if (spec.manifest) {
    return openManifestDataset(spec.manifest, {
      ...pairOptions,
      ...(spec.groupColumn ? { groupColumn: spec.groupColumn } : {}),
    });
  }
  if (spec.geotiffs) return openGeoTiffPairsDataset(spec.geotiffs, pairOptions);
  if (!spec.footprints || !spec.imagery) {
    throw new DatasetError(
      '--footprints and --imagery go together: a GeoJSON of buildings and the imagery under them',
    );
  }
  return openFootprintsDataset(resolve(spec.footprints), imagerySpecFromArg(spec.imagery));
}
