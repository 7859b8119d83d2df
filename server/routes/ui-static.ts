/**
 * Serves the built map UI (map-ui/dist) at `/` and `/volunteer`, and MapLibre's worker and CSS from
 * node_modules under /vendor/maplibre/, so the browser loads nothing from outside this server.
 * Only files inside those two folders are served; a request for anything else is a 404.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { createRequire } from 'node:module';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

export const defaultUiDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../map-ui/dist');

function maplibreDir(): string {
  const require = createRequire(import.meta.url);
  // The package's "exports" hide package.json; its CSS entry is exported and lies in dist/.
  return dirname(require.resolve('maplibre-gl/dist/maplibre-gl.css'));
}

/** The file under root the request path names, or null when it would leave root or does not exist. */
export function safeFile(root: string, requestPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(requestPath);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  const full = normalize(join(root, rel));
  if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  try {
    return statSync(full).isFile() ? full : null;
  } catch {
    return null;
  }
}

function send(c: Context, file: string, cache: string) {
  return c.body(readFileSync(file), 200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Cache-Control': cache,
    'X-Content-Type-Options': 'nosniff',
  });
}

/** A lens over a tile grid. Browsers ask for /favicon.ico on every page; answering saves a failed request. */
const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f2a37"/><path d="M4 11h24M4 21h24M11 4v24M21 4v24" stroke="#55606e" stroke-width="1.5"/><circle cx="15" cy="15" r="7" fill="none" stroke="#f5b942" stroke-width="3"/><path d="M20 20l6 6" stroke="#f5b942" stroke-width="3.5" stroke-linecap="round"/></svg>`;

export function uiStaticRoutes(options: { uiDir?: string } = {}): Hono {
  const uiDir = resolve(options.uiDir ?? defaultUiDir);
  const vendor = maplibreDir();
  const index = () => {
    const file = join(uiDir, 'index.html');
    if (!existsSync(file)) return null;
    return file;
  };
  const app = (c: Context) => {
    const file = index();
    if (!file) {
      return c.text(
        'The map UI is not built: run `npm run build:ui` (npm run demo and npm test build it when missing).',
        503,
      );
    }
    // index.html names hashed assets; it must be fetched again after every build.
    return send(c, file, 'no-cache');
  };
  return new Hono()
    .get('/', app)
    .get('/volunteer', app)
    .get('/favicon.ico', (c) =>
      c.body(FAVICON, 200, { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'public, max-age=86400' }),
    )
    .get('/assets/*', (c) => {
      const file = safeFile(uiDir, c.req.path);
      if (!file) return c.notFound();
      // Vite names assets by content hash, so a file under a name never changes.
      return send(c, file, 'public, max-age=31536000, immutable');
    })
    .get('/vendor/maplibre/*', (c) => {
      const name = c.req.path.slice('/vendor/maplibre/'.length);
      const file = safeFile(vendor, name);
      if (!file) return c.notFound();
      return send(c, file, 'public, max-age=86400');
    });
}
