/**
 * Typed fetch wrappers for the tilelens server's routes. The shapes are the server's own types, imported
 * type-only (nothing of the server is bundled); JSON turns their Dates into ISO strings, which `Json<T>`
 * says. Reads need no token; changes (create, score, cancel) send the manager token.
 *
 *   const api = createApiClient({ server: 'http://127.0.0.1:8700', token });
 *   const project = await api.project(1);
 */
import type { FeatureCollection, Polygon, MultiPolygon } from 'geojson';
import type { RunSummary } from '../../server/lib/db/analysis-repo.ts';
import type { Cluster } from '../../server/lib/db/schema.ts';
import type { MapswipeFindExport } from '../../server/lib/exports/mapswipe-find.ts';
import type { TaskingManagerExport } from '../../server/lib/exports/tasking-manager.ts';
import type { EffortPoint } from '../../server/lib/scoring/effort.ts';
import type { ImageryRow } from '../../server/lib/scoring/imagery-registry.ts';
import type { JobRow } from '../../server/lib/scoring/jobs.ts';
import type { ProjectRow } from '../../server/lib/scoring/projects.ts';
import type { ScoredTile } from '../../server/lib/scored-tiles/scored-tile.ts';
import type { TileCounts } from '../../server/lib/scoring/tiles-repo.ts';
import type { OverlayManifest } from '../../server/lib/overlays/manifest.ts';
import type { RunDetail as RunDetailRow } from '../../server/lib/analysis/run-detail.ts';

/** A value as it arrives over JSON: Dates are ISO strings. */
export type Json<T> = T extends Date
  ? string
  : T extends Array<infer U>
    ? Array<Json<U>>
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

export type Run = Json<RunSummary>;
export type RunDetail = Json<RunDetailRow>;
export type RunCluster = Json<Omit<Cluster, 'runId'>>;
export type Project = Json<ProjectRow>;
export type ProjectDetail = Project & { job: Json<JobRow> | null; counts: TileCounts };
export type Job = Json<JobRow>;
export type Imagery = Json<ImageryRow>;
export type Tile = ScoredTile;
export type { EffortPoint, OverlayManifest, TileCounts };

export interface TileCollection extends FeatureCollection<Polygon, Record<string, unknown>> {
  tilelens: { projectId: number; limit: number; truncated: boolean; hint?: string };
}

export interface MapswipeFindResponse {
  projectId: number;
  drafts: MapswipeFindExport[];
}

export type TaskingManagerResponse = TaskingManagerExport & { projectId: number };

export interface FootprintTile extends FeatureCollection<Polygon | MultiPolygon> {
  tilelens: { projectId: number; tile: string; limit: number; truncated: boolean };
}

/** An answer other than 2xx, with the server's `{ error: { code, message, hint } }` when it sent one. */
export class TilelensApiError extends Error {
  override name = 'TilelensApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  /** Base URL of the tilelens server, e.g. `http://127.0.0.1:8700` (no trailing slash needed). */
  server: string;
  /** Manager token, for the calls that change something. */
  token?: string;
  /** Defaults to the global fetch; tests pass one that calls the app in-process. */
  fetch?: typeof fetch;
}

export type ApiClient = ReturnType<typeof createApiClient>;

export function createApiClient(options: ApiClientOptions) {
  const base = options.server.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  /** Absolute URL of a server path; exports and tiles are handed to other tools as links. */
  const url = (path: string) => `${base}${path}`;

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') {
      if (!options.token) {
        throw new TilelensApiError(
          401,
          'no-token',
          `${method} ${path} changes the project and needs the manager token`,
          'pass { token } to createApiClient',
        );
      }
      headers.Authorization = `Bearer ${options.token}`;
    }
    const res = await doFetch(url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      let err: { code?: string; message?: string; hint?: string } = {};
      try {
        err = ((await res.json()) as { error?: typeof err }).error ?? {};
      } catch {
        // Not our JSON error shape (a proxy's page): the status says enough.
      }
      throw new TilelensApiError(
        res.status,
        err.code ?? `http-${res.status}`,
        err.message ?? `${method} ${path} answered ${res.status}`,
        err.hint,
      );
    }
    return (await res.json()) as T;
  }

  const get = <T>(path: string) => request<T>('GET', path);
  const qs = (params: Record<string, string | number | undefined>) => {
    const entries = Object.entries(params).filter(([, v]) => v !== undefined) as Array<
      [string, string | number]
    >;
    return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
  };

  return {
    url,
    health: () => get<{ status: string; version: string }>('/api/health'),

    runs: async () => (await get<{ runs: Run[] }>('/api/runs')).runs,
    run: (id: number) => get<RunDetail>(`/api/runs/${id}`),
    clusters: (runId: number) =>
      get<{ runId: number; urbanisedReason: string; clusters: RunCluster[] }>(`/api/runs/${runId}/clusters`),
    /** Columnar JSON of a run's patches: `{ columns: { name: values[] } }` as the server's patches route documents. */
    patches: (
      runId: number,
      q: { columns?: string[]; cluster?: number; limit?: number; offset?: number } = {},
    ) =>
      get<Record<string, unknown>>(
        `/api/runs/${runId}/patches${qs({ columns: q.columns?.join(','), cluster: q.cluster, limit: q.limit, offset: q.offset })}`,
      ),
    patchImageUrl: (runId: number, idx: number, kind: 'image' | 'mask' | 'prediction') =>
      url(`/api/runs/${runId}/patches/${idx}/${kind}.png`),

    imagery: async () => (await get<{ imagery: Imagery[] }>('/api/imagery')).imagery,

    projects: async () => (await get<{ projects: Project[] }>('/api/projects')).projects,
    project: (id: number) => get<ProjectDetail>(`/api/projects/${id}`),
    createProject: (body: {
      name: string;
      area: unknown;
      imageryId: number;
      runId: number;
      zoom?: number;
      lookFor?: string;
    }) => request<Project>('POST', '/api/projects', body),
    /** Starts (or resumes) the project's scoring job. */
    score: (projectId: number, body: { batchSize?: number } = {}) =>
      request<Job>('POST', `/api/projects/${projectId}/score`, body),
    /** Scores again the tiles whose imagery failed or did not decode (409 when there are none). */
    retryFailed: (projectId: number) => request<Job>('POST', `/api/projects/${projectId}/retry-failed`, {}),

    /** Scored tiles in a bbox as GeoJSON, capped by the server (`tilelens.truncated`). */
    tiles: (projectId: number, q: { bbox?: [number, number, number, number]; limit?: number } = {}) =>
      get<TileCollection>(
        `/api/projects/${projectId}/tiles${qs({ bbox: q.bbox?.join(','), limit: q.limit })}`,
      ),
    tile: (projectId: number, taskId: string) =>
      get<Tile>(`/api/projects/${projectId}/tiles/${encodeURIComponent(taskId)}`),
    effort: (projectId: number) =>
      get<{ projectId: number; counts: TileCounts; points: EffortPoint[] }>(
        `/api/projects/${projectId}/effort`,
      ),

    job: (id: number) => get<Job>(`/api/jobs/${id}`),
    cancelJob: (id: number) => request<Job>('POST', `/api/jobs/${id}/cancel`),

    /** Tile URL templates, zooms, bounds and legends of the project's overlays. */
    overlays: (projectId: number) => get<OverlayManifest>(`/api/projects/${projectId}/overlays`),
    footprints: (
      projectId: number,
      z: number,
      x: number,
      y: number,
      q: { limit?: number; tiles?: boolean } = {},
    ) =>
      get<FootprintTile>(
        `/api/projects/${projectId}/footprints/${z}/${x}/${y}.json${qs({ limit: q.limit, tiles: q.tiles ? 1 : undefined })}`,
      ),

    exports: {
      mapswipeFind: (projectId: number) =>
        get<MapswipeFindResponse>(`/api/projects/${projectId}/exports/mapswipe-find`),
      taskingManager: (projectId: number) =>
        get<TaskingManagerResponse>(`/api/projects/${projectId}/exports/tasking-manager`),
      /** Streamed downloads: links, not fetched here (a large area's file should go to disk, not memory). */
      links: (projectId: number) => ({
        mapswipeFind: url(`/api/projects/${projectId}/exports/mapswipe-find`),
        mapswipeValidate: url(`/api/projects/${projectId}/exports/mapswipe-validate.geojson`),
        taskingManager: url(`/api/projects/${projectId}/exports/tasking-manager`),
        tilesCsv: url(`/api/projects/${projectId}/exports/tiles.csv`),
        tilesGeoJson: url(`/api/projects/${projectId}/exports/tiles.geojson`),
      }),
    },
  };
}
