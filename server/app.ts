/**
 * The tilelens HTTP app: a factory that tests call with a temporary database and run in-process with
 * `app.request()`, and that `server/main.ts` serves on a port. Routes are thin over the library.
 */
import { resolve } from 'node:path';
import { Hono } from 'hono';
import { OutboundPolicy } from './lib/imagery/outbound.ts';
import { ping, type DatabaseHandle } from './lib/db/client.ts';
import { PatchImageStore } from './lib/insights/patch-images.ts';
import type { ScoringContext } from './lib/scoring/context.ts';
import { requireManagerForChanges } from './middleware/auth.ts';
import { limitBodies } from './middleware/body-limit.ts';
import { errorHandler, notFoundHandler } from './middleware/errors.ts';
import { exportRoutes } from './routes/exports.ts';
import { fairRoutes } from './routes/fair.ts';
import { homeRoutes } from './routes/home.ts';
import { imageryApiRoutes, imageryTileRoutes } from './routes/imagery.ts';
import { insightProjectRoutes, insightRunRoutes } from './routes/insights.ts';
import { jobRoutes } from './routes/jobs.ts';
import { overlayRoutes } from './routes/overlays.ts';
import { patchImageRoutes } from './routes/patch-images.ts';
import { projectRoutes } from './routes/projects.ts';
import { publishRoutes } from './routes/publish.ts';
import { runRoutes } from './routes/runs.ts';
import { trustRoutes } from './routes/trust.ts';
import { projectLatentRoutes, runLatentRoutes } from './routes/latent.ts';
import { uiStaticRoutes } from './routes/ui-static.ts';
import type { Settings } from './settings.ts';
import { InProcessHostRateLimiter, parseHostRates } from './lib/queue/host-rate-limit.ts';

export const API_VERSION = '0.1.0';

export interface AppOptions {
  db: DatabaseHandle;
  settings: Settings;
  scoring: ScoringContext;
  /** The manager token every POST / PUT / DELETE must carry (see middleware/auth.ts). */
  token: string;
  log?: (msg: string) => void;
}

export type TilelensApp = Hono & {
  /** Releases what the routes opened (archives, loaded models); the database stays the caller's. */
  close(): Promise<void>;
};

/** The scoring context a server with these settings works in: where imagery may be fetched from, how fast. */
export function scoringContextFor(
  db: DatabaseHandle,
  settings: Settings,
  log?: (msg: string) => void,
): ScoringContext {
  return {
    db,
    dataDir: resolve(settings.dataDir),
    outbound: OutboundPolicy.fromSetting(settings.imageryAllowHosts),
    imageryConcurrency: settings.imageryConcurrency,
    // The embedded store's buckets; a server on the shared store uses the store's instead (main.ts).
    imageryRates: new InProcessHostRateLimiter(parseHostRates(settings.imageryRate)),
    log,
  };
}

export function createApp(options: AppOptions): TilelensApp {
  const { db, settings, scoring } = options;
  if (scoring.db !== db) {
    throw new Error(
      'createApp: scoring.db must be the same database handle as db; build the scoring context from it',
    );
  }
  const log = options.log ?? ((msg: string) => process.stderr.write(`tilelens: ${msg}\n`));
  const images = new PatchImageStore(db, settings.predictionCache);

  const app = new Hono();
  app.onError(errorHandler(log));
  app.notFound(notFoundHandler);
  // The token first: a body from someone without it is refused before a byte of it is read.
  app.use('*', requireManagerForChanges(options.token));
  app.use('*', limitBodies(settings));

  app.get('/api/health', async (c) => {
    await ping(db);
    return c.json({ status: 'ok', version: API_VERSION }, 200, { 'Cache-Control': 'no-store' });
  });
  app.route('/api/runs', runRoutes(db, settings));
  app.route('/api/runs', patchImageRoutes(images));
  app.route('/api/imagery', imageryApiRoutes(scoring, settings));
  app.route('/imagery', imageryTileRoutes(scoring, settings));
  app.route('/api/projects', projectRoutes(scoring, settings));
  app.route('/api/projects', exportRoutes(scoring, settings));
  app.route('/api/projects', trustRoutes(scoring, settings));
  const publish = publishRoutes(scoring, settings);
  app.route('/api/projects', publish.projects);
  app.route('/api/publications', publish.publications);
  app.route('/api/projects', fairRoutes(scoring, settings));
  app.route('/api/jobs', jobRoutes(scoring));
  app.route('/', overlayRoutes(scoring, settings));
  app.route('/api/runs', runLatentRoutes(db));
  app.route('/api/runs', insightRunRoutes(db, images));
  app.route('/api/projects', insightProjectRoutes(db));
  app.route('/api/projects', projectLatentRoutes(scoring));
  app.route('/', uiStaticRoutes());
  app.route('/', homeRoutes(scoring));

  return Object.assign(app, { close: () => images.close() });
}
