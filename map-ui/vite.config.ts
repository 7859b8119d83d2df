/**
 * Builds the map UI into map-ui/dist, which the tilelens server serves at `/` (server/routes/ui-static.ts).
 * MapLibre's worker is served by the server from node_modules under /vendor/maplibre/, so the
 * bundle stays one ES module and nothing is fetched from outside.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: { main: resolve(root, 'index.html') },
    },
  },
  server: {
    // `npx vite --config map-ui/vite.config.ts` during development, against a running tilelens server.
    proxy: {
      '/api': 'http://127.0.0.1:8711',
      '/imagery': 'http://127.0.0.1:8711',
      '/vendor': 'http://127.0.0.1:8711',
    },
  },
});
