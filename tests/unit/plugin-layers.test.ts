/**
 * The plugin's layer definitions: built from a real manifest, valid by MapLibre's own style validator,
 * and shaped so the map never asks for tiles the server does not serve.
 */
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';
import { describe, expect, it } from 'vitest';
import { defaultVisibility, gridFeatureId, tilelensStyle } from '../../plugin/src/layers.ts';
import { overlayManifest } from '../../server/lib/overlays/manifest.ts';

const manifest = overlayManifest(
  'http://127.0.0.1:8700',
  { id: 3, zoom: 18, bbox: [33.8, -14.0, 33.9, -13.9], imageryId: 2 },
  { version: 's1-j4-100-done', final: true },
);

describe('tilelensStyle', () => {
  it('passes MapLibre style validation inside a minimal style', () => {
    const t = tilelensStyle(manifest, {
      layers: ['priority', 'confidence', 'novelty', 'footprints', 'grid'],
    });
    const errors = validateStyleMin({ version: 8, sources: t.sources, layers: t.layers } as any);
    expect(errors).toEqual([]);
  });

  it('raster sources use the manifest URLs, zooms and bounds; vector tiles start at 15', () => {
    const t = tilelensStyle(manifest, { layers: ['priority', 'footprints'] });
    expect(Object.keys(t.sources).sort()).toEqual(['tilelens-3-priority', 'tilelens-3-vector']);
    expect(t.sources['tilelens-3-priority']).toMatchObject({
      type: 'raster',
      tiles: ['http://127.0.0.1:8700/api/projects/3/overlay/priority/{z}/{x}/{y}.png?v=s1-j4-100-done'],
      maxzoom: 18,
      bounds: [33.8, -14.0, 33.9, -13.9],
    });
    expect(t.sources['tilelens-3-vector']).toMatchObject({ type: 'vector', minzoom: 15, maxzoom: 18 });
    expect(t.layerIds.footprints).toEqual(['tilelens-3-footprints', 'tilelens-3-footprints-outline']);
    expect(t.layers.map((l) => l.id)).toEqual([
      'tilelens-3-priority',
      'tilelens-3-footprints',
      'tilelens-3-footprints-outline',
    ]);
  });

  it('only the first raster layer starts visible (they would cover each other); options override', () => {
    expect(defaultVisibility(['confidence', 'priority', 'footprints'])).toMatchObject({
      confidence: true,
      priority: false,
      footprints: true,
    });
    const t = tilelensStyle(manifest, { layers: ['priority', 'confidence'], visible: { confidence: true } });
    expect(t.layers.map((l) => (l.layout as { visibility: string }).visibility)).toEqual([
      'visible',
      'visible',
    ]);
  });

  it('names the layer it does not know', () => {
    expect(() => tilelensStyle(manifest, { layers: ['heat' as never] })).toThrow(
      /unknown tilelens layer "heat"/,
    );
  });

  it('grid feature ids are y · 2^z + x, unique per tile of the scoring zoom', () => {
    expect(gridFeatureId(18, 155668, 139360)).toBe(139360 * 262144 + 155668);
    expect(gridFeatureId(18, 262143, 0)).toBeLessThan(gridFeatureId(18, 0, 1));
  });
});
