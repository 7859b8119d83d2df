/**
 * Opens the imagery source a spec names. The implementations load lazily, so that a job on an XYZ server
 * never pays for geotiff and proj4.
 */
import { parseImagerySpec, type ImagerySource, type ImagerySpec, type OpenSourceOptions } from './source.ts';

export async function createImagerySource(
  spec: ImagerySpec,
  options: OpenSourceOptions = {},
): Promise<ImagerySource> {
  // Validated again: specs arrive from API bodies and settings files typed only by a cast.
  const s = parseImagerySpec(spec);
  switch (s.kind) {
    case 'pmtiles':
      return (await import('./pmtiles-source.ts')).openPMTilesSource(s);
    case 'xyz':
      return (await import('./xyz-source.ts')).createXyzSource(s, options);
    case 'geotiff':
      return (await import('./geotiff-source.ts')).openGeoTiffSource(s);
    case 'geotiff-folder':
      return (await import('./geotiff-mosaic-source.ts')).openGeoTiffFolderSource(s);
  }
}
