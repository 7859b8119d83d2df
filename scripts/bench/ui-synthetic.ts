/**
 * Synthetic scored projects for the overlay and plugin tests and the UI benchmarks: a square block of
 * z18 tiles with smooth, deterministic scores (priority rises towards a "town" in the middle,
 * confidence falls towards one corner), a few tiles without imagery, and building footprints on the
 * likely ones. Written straight through drizzle, so a 200k-tile project takes seconds and no model runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type TilelensApp } from '../../server/app.ts';
import { openDatabase } from '../../server/lib/db/client.ts';
import type { ScoringContext } from '../../server/lib/scoring/context.ts';
import { closeImagerySources } from '../../server/lib/scoring/imagery-registry.ts';
import { resolveSettings } from '../../server/settings.ts';
import {
  imagerySources,
  projects,
  scoringJobs,
  tileScores,
  type NewTileScore,
} from '../../server/lib/db/schema.ts';
import type { DatabaseHandle } from '../../server/lib/db/client.ts';
import { getRun, saveAnalysisRun } from '../../server/lib/db/analysis-repo.ts';
import { storeRunColumns } from '../../server/lib/latent/run-columns.ts';
import { tileBounds, tileToQuadkey, type BBox } from '../../server/lib/geo/tiles.ts';
import {
  registerSampleModelAndDataset,
  sampleClusters,
  samplePatches,
  sampleRun,
} from '../../tests/fixtures/db-sample-run.ts';

export interface SyntheticProjectOptions {
  /** Tiles along one side; the project holds side² tiles. */
  side: number;
  /** North-west tile of the block at z18 (defaults near 0°, 0°). */
  origin?: { x: number; y: number };
  /** Patches of the reference run the project points at (the latent benchmark wants a million). */
  runPatches?: number;
  /**
   * 'stored' (default) writes the run's latent columns with it, as the analysis does; 'lazy' leaves them to
   * the first request, as for a run stored before they existed.
   */
  latentColumns?: 'stored' | 'lazy';
  /** Status of the job that scored it; 'running' leaves the last tenth of the rows unwritten. */
  jobStatus?: 'done' | 'running';
  name?: string;
  /** Base imagery served at this XYZ URL template (the plugin demo's base map). */
  imageryUrl?: string;
  imageryId?: number;
}

export interface SyntheticProject {
  projectId: number;
  runId: number;
  imageryId: number;
  jobId: number;
  bbox: BBox;
  zoom: 18;
  minX: number;
  minY: number;
  side: number;
  /** Rows written. */
  tiles: number;
}

const ZOOM = 18;

/** Deterministic value in 0..1 from a tile, for the noise in the synthetic scores. */
function hash01(x: number, y: number): number {
  let h = Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** The scores a synthetic tile gets; exported so tests can compute the expected pixel colours. */
export function syntheticScores(i: number, j: number, side: number) {
  const cx = (i + 0.5) / side - 0.5;
  const cy = (j + 0.5) / side - 0.5;
  const town = Math.exp(-(cx * cx + cy * cy) * 12);
  const noise = hash01(i, j);
  const status: NewTileScore['status'] = noise < 0.01 ? 'missing' : 'scored';
  const buildingProb = Math.min(1, Math.max(0, town * 0.9 + noise * 0.1));
  const iouHat = Math.min(1, Math.max(0, 0.9 - 0.8 * ((i + j) / (2 * side)) + (noise - 0.5) * 0.05));
  const novelty = Math.min(100, Math.max(0, 100 * ((i / side) * 0.7 + noise * 0.3)));
  const priority =
    status === 'scored' ? Math.min(1, Math.max(0, 0.8 * buildingProb + 0.2 * (1 - iouHat))) : 0.5;
  return { status, buildingProb, iouHat, novelty, priority };
}

function footprintIn(x: number, y: number): NewTileScore['footprints'] {
  const [w, s, e, n] = tileBounds(ZOOM, x, y);
  const dx = (e - w) / 4;
  const dy = (n - s) / 4;
  return {
    type: 'MultiPolygon',
    coordinates: [
      [
        [
          [w + dx, s + dy],
          [w + 2 * dx, s + dy],
          [w + 2 * dx, s + 2 * dy],
          [w + dx, s + 2 * dy],
          [w + dx, s + dy],
        ],
      ],
    ],
  };
}

export function createSyntheticProject(
  db: DatabaseHandle,
  options: SyntheticProjectOptions,
): SyntheticProject {
  const side = options.side;
  const origin = options.origin ?? { x: 2 ** (ZOOM - 1), y: 2 ** (ZOOM - 1) - side };
  const ids = registerSampleModelAndDataset(
    db,
    `-synthetic-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`,
  );
  const runPatches = options.runPatches ?? 64;
  const runId = saveAnalysisRun(
    db,
    sampleRun(ids, runPatches),
    samplePatches(runPatches),
    sampleClusters(runPatches),
  );
  if ((options.latentColumns ?? 'stored') === 'stored') storeRunColumns(db, getRun(db, runId)!);

  const imageryId =
    options.imageryId ??
    db.db
      .insert(imagerySources)
      .values({
        name: `synthetic imagery ${runId}-${Date.now()}`,
        kind: 'xyz',
        spec: { kind: 'xyz', url: options.imageryUrl ?? 'http://127.0.0.1:9/{z}/{x}/{y}.jpg' },
        minZoom: 0,
        maxZoom: 19,
      })
      .returning({ id: imagerySources.id })
      .get().id;

  const [w, , , n] = tileBounds(ZOOM, origin.x, origin.y);
  const [, s, e] = tileBounds(ZOOM, origin.x + side - 1, origin.y + side - 1);
  const bbox: BBox = [w, s, e, n];
  const ring = [
    [w, s],
    [e, s],
    [e, n],
    [w, n],
    [w, s],
  ];
  const projectId = db.db
    .insert(projects)
    .values({
      name: options.name ?? `synthetic ${side}×${side}`,
      zoom: ZOOM,
      imageryId,
      runId,
      modelId: ids.modelId,
      area: {
        type: 'FeatureCollection',
        features: [{ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } }],
      },
      areaKm2: 0,
      tileCount: side * side,
      bbox,
      lookFor: 'buildings',
    })
    .returning({ id: projects.id })
    .get().id;

  const status = options.jobStatus ?? 'done';
  const rowsToWrite = status === 'done' ? side * side : Math.floor(side * side * 0.9);
  const now = new Date();
  const jobId = db.db
    .insert(scoringJobs)
    .values({
      projectId,
      status,
      done: rowsToWrite,
      failed: 0,
      total: side * side,
      batchSize: 16,
      startedAt: now,
      finishedAt: status === 'done' ? now : null,
      updatedAt: now,
    })
    .returning({ id: scoringJobs.id })
    .get().id;

  const write = db.sqlite.transaction(() => {
    let batch: NewTileScore[] = [];
    let written = 0;
    for (let j = 0; j < side && written < rowsToWrite; j++) {
      for (let i = 0; i < side && written < rowsToWrite; i++, written++) {
        const x = origin.x + i;
        const y = origin.y + j;
        const sc = syntheticScores(i, j, side);
        const scored = sc.status === 'scored';
        batch.push({
          projectId,
          z: ZOOM,
          x,
          y,
          taskId: `${ZOOM}-${x}-${y}`,
          quadkey: tileToQuadkey(ZOOM, x, y),
          status: sc.status,
          error: scored ? null : 'imagery tile missing',
          buildingProb: scored ? sc.buildingProb : null,
          predFraction: scored ? sc.buildingProb * 0.2 : null,
          iouHat: scored ? sc.iouHat : null,
          urbanDistance: scored ? 1 - sc.buildingProb : null,
          urbanDistanceScaled: scored ? 1 - sc.buildingProb : null,
          novelty: scored ? sc.novelty : null,
          priority: sc.priority,
          tier:
            sc.priority > 0.6 ? 'high' : sc.priority > 0.35 ? 'medium' : sc.priority > 0.15 ? 'low' : 'skip',
          pcs: null,
          footprints: scored && sc.buildingProb > 0.5 ? footprintIn(x, y) : null,
          jobId,
          runId,
          modelId: ids.modelId,
          scoredAt: now,
        });
        if (batch.length === 40) {
          db.db.insert(tileScores).values(batch).run();
          batch = [];
        }
      }
    }
    if (batch.length) db.db.insert(tileScores).values(batch).run();
    return written;
  });
  const tiles = write();
  return {
    projectId,
    runId,
    imageryId,
    jobId,
    bbox,
    zoom: ZOOM,
    minX: origin.x,
    minY: origin.y,
    side,
    tiles,
  };
}

export interface SyntheticServer {
  dir: string;
  db: DatabaseHandle;
  scoring: ScoringContext;
  app: TilelensApp;
  token: string;
  close(): Promise<void>;
}

/** An app over a fresh temporary database, for in-process tests and the benchmarks. */
export function syntheticServer(o: { token?: string } = {}): SyntheticServer {
  const dir = mkdtempSync(join(tmpdir(), 'tilelens-ui-'));
  const db = openDatabase(join(dir, 'tilelens.db'));
  const token = o.token ?? 'synthetic-manager-token-0123456789';
  const settings = resolveSettings({ 'data-dir': dir, db: join(dir, 'tilelens.db') });
  const scoring: ScoringContext = { db, dataDir: dir };
  const app = createApp({ db, settings, scoring, token, log: () => {} });
  return {
    dir,
    db,
    scoring,
    app,
    token,
    async close() {
      await app.close();
      await closeImagerySources(scoring);
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
