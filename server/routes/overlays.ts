/**
 * Map overlays of a project, as tiles so that an area of any size costs the browser only what is in view:
 *   GET /api/projects/:id/overlays                        manifest: tile URL templates, zooms, bounds, legends
 *   GET /api/projects/:id/overlays/tools                  the same tiles for JOSM, iD and MapSwipe (tool-templates.ts)
 *   GET /api/projects/:id/overlay/:layer/:z/:x/:y.png     raster: priority | confidence | novelty
 *   GET /api/projects/:id/vector/:z/:x/:y.mvt             MVT, z 15..scoring zoom: layers `tiles`, `footprints`
 *   GET /api/projects/:id/footprints/:z/:x/:y.json        the same as capped GeoJSON (`?tiles=1` adds the grid)
 *   GET /plugin-demo                                       the MapLibre plugin on a plain map
 * Tiles carry an ETag of the project's scoring progress; a URL whose `?v=` is the manifest's version of
 * a finished job is cached for a day.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { repoRoot } from '../lib/paths.ts';
import { OVERLAY_LAYERS, type OverlayLayer } from '../lib/overlays/layers.ts';
import { overlayManifest } from '../lib/overlays/manifest.ts';
import { overlayCredits, toolTemplates } from '../lib/overlays/tool-templates.ts';
import {
  drawnLayerDef,
  OverlayTileService,
  type OverlayProject,
  type OverlayTile,
} from '../lib/overlays/overlay-tiles.ts';
import { buildFootprintGeoJson } from '../lib/overlays/vector-tiles.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { publicBaseUrl } from '../lib/scoring/export-info.ts';
import { getImagery } from '../lib/scoring/imagery-registry.ts';
import { requireProject } from '../lib/scoring/projects.ts';
import { ApiError } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import { decimalInt, idParam, onTileGrid, tileFields, tileParams } from '../middleware/params.ts';
import type { Settings } from '../settings.ts';

const MAX_FOOTPRINT_FEATURES = 5000;

const rasterParams = z
  .object({
    ...tileFields('png'),
    layer: z.enum(OVERLAY_LAYERS, { message: `layer must be one of ${OVERLAY_LAYERS.join(', ')}` }),
  })
  .transform(onTileGrid);
const footprintQuery = z.object({
  limit: decimalInt(1, MAX_FOOTPRINT_FEATURES).default(MAX_FOOTPRINT_FEATURES),
  tiles: z.enum(['0', '1']).default('0'),
});

async function overlayProject(ctx: ScoringContext, id: number): Promise<OverlayProject> {
  const p = await requireProject(ctx, id);
  return { id: p.id, zoom: p.zoom, bbox: p.bbox };
}

function tileResponse(c: Context, tile: OverlayTile, version: string): Response {
  const headers: Record<string, string> = {
    'Content-Type': tile.contentType,
    ETag: tile.etag,
    'X-Tilelens-Cells': String(tile.cells),
    'X-Tilelens-Cache': tile.cached ? 'hit' : 'miss',
    // Editors and MapSwipe's web views load the tiles from their own origin; the tiles are public and read-only.
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'ETag',
    // A versioned URL of a finished job names bytes that cannot change; anything else revalidates (cheap: 304).
    'Cache-Control':
      tile.final && c.req.query('v') === version ? 'public, max-age=86400, immutable' : 'no-cache',
  };
  if (c.req.header('If-None-Match') === tile.etag) return c.body(null, 304, headers);
  return c.body(tile.body as Uint8Array<ArrayBuffer>, 200, headers);
}

let demoBundle: Promise<string> | undefined;

/** The demo page's script, bundled from TypeScript on first request (maplibre-gl stays an import). */
async function bundleDemo(): Promise<string> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [join(repoRoot, 'plugin/demo.ts')],
    bundle: true,
    format: 'esm',
    write: false,
    external: ['maplibre-gl'],
    target: 'es2022',
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

const VENDOR_FILE = /^maplibre-gl(-worker|-shared)?\.(mjs|css|mjs\.map)$/;

export function overlayRoutes(ctx: ScoringContext, settings: Settings): Hono {
  const tiles = new OverlayTileService(ctx.db);

  return new Hono()
    .get('/api/projects/:id/overlays', validate('param', idParam), async (c) => {
      const p = await requireProject(ctx, c.req.valid('param').id);
      const base = publicBaseUrl(settings.publicUrl, new URL(c.req.url).origin);
      const project = { id: p.id, zoom: p.zoom, bbox: p.bbox, imageryId: p.imageryId };
      const confidence = await tiles.confidenceSpread(project);
      const drawn = { def: (layer: OverlayLayer) => drawnLayerDef(layer, confidence), confidence };
      const imagery = await getImagery(ctx, p.imageryId);
      const manifest = overlayManifest(base, project, await tiles.version(p.id), imagery, drawn);
      return c.json(manifest, 200, { 'Cache-Control': 'no-cache' });
    })
    .get('/api/projects/:id/overlays/tools', validate('param', idParam), async (c) => {
      const p = await requireProject(ctx, c.req.valid('param').id);
      const base = publicBaseUrl(settings.publicUrl, new URL(c.req.url).origin);
      const { version, final } = await tiles.version(p.id);
      const layers = toolTemplates(base, p, version, overlayCredits(p.name));
      return c.json({ projectId: p.id, version, final, layers }, 200, { 'Cache-Control': 'no-cache' });
    })
    .get('/api/projects/:id/overlay/:layer/:z/:x/:file', validate('param', rasterParams), async (c) => {
      const q = c.req.valid('param');
      const project = await overlayProject(ctx, q.id);
      const tile = await tiles.raster(project, q.layer, q.z, q.x, q.y);
      return tileResponse(c, tile, (await tiles.version(project.id)).version);
    })
    .get('/api/projects/:id/vector/:z/:x/:file', validate('param', tileParams('mvt')), async (c) => {
      const q = c.req.valid('param');
      const project = await overlayProject(ctx, q.id);
      const tile = await tiles.vector(project, q.z, q.x, q.y);
      return tileResponse(c, tile, (await tiles.version(project.id)).version);
    })
    .get(
      '/api/projects/:id/footprints/:z/:x/:file',
      validate('param', tileParams('json')),
      validate('query', footprintQuery),
      async (c) => {
        const q = c.req.valid('param');
        const { limit, tiles: withTiles } = c.req.valid('query');
        const project = await overlayProject(ctx, q.id);
        const fc = await buildFootprintGeoJson(ctx.db, project, q.z, q.x, q.y, {
          limit,
          includeTiles: withTiles === '1',
        });
        return c.json(fc, 200, { 'Cache-Control': 'no-cache' });
      },
    )
    .get('/plugin-demo', async (c) => c.html(await readFile(join(repoRoot, 'plugin/demo.html'), 'utf8')))
    .get('/plugin-demo/demo.js', async (c) => {
      demoBundle ??= bundleDemo().catch((err) => {
        demoBundle = undefined;
        throw err;
      });
      return c.body(await demoBundle, 200, {
        'Content-Type': 'text/javascript; charset=utf-8',
        'Cache-Control': 'no-cache',
      });
    })
    .get('/plugin-demo/vendor/:file', async (c) => {
      const file = c.req.param('file');
      if (!VENDOR_FILE.test(file))
        throw new ApiError(
          404,
          'not-found',
          `no vendor file ${file}`,
          'the demo serves maplibre-gl files only',
        );
      const body = await readFile(join(repoRoot, 'node_modules/maplibre-gl/dist', file));
      const type = file.endsWith('.css')
        ? 'text/css'
        : file.endsWith('.map')
          ? 'application/json'
          : 'text/javascript';
      return c.body(body, 200, {
        'Content-Type': `${type}; charset=utf-8`,
        'Cache-Control': 'public, max-age=3600',
      });
    });
}
