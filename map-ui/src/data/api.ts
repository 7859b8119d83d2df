/**
 * The tilelens HTTP API as the map UI uses it: typed reads, and the few writes that carry the manager
 * token. Errors come back as ApiRequestError with the server's own message and hint.
 */

// The server's own row types (type-only imports: nothing of the server reaches the bundle), as JSON delivers them.
import type { NearPatch } from '../../../server/lib/latent/nearest-patches.ts';
import type { BBox } from '../../../server/lib/geo/tiles.ts';
import type { JobProgress, JobRow } from '../../../server/lib/scoring/jobs.ts';
import type { ProjectRow } from '../../../server/lib/scoring/projects.ts';
import type { TileCounts } from '../../../server/lib/scoring/tiles-repo.ts';
import type { ToolTemplate } from '../../../server/lib/overlays/tool-templates.ts';
export type { ToolTemplate };

export type { BBox };

export type Project = Omit<ProjectRow, 'area' | 'createdAt'> & {
  area: GeoJSON.FeatureCollection;
  job: Job | null;
  counts: TileCounts;
};

export type { JobProgress };

/** A job; `progress` (workers, chunks, rate, ETA) comes with each poll of the job itself. */
export type Job = Pick<JobRow, 'id' | 'projectId' | 'status' | 'done' | 'failed' | 'total' | 'error'> & {
  progress?: JobProgress;
};

export interface Imagery {
  id: number;
  name: string;
  attribution: string | null;
  bounds: BBox | null;
  minZoom: number;
  maxZoom: number;
  /** Lowest zoom the server serves, overviews included. */
  overviewMinZoom: number;
}

export interface Cluster {
  cluster: number;
  size: number;
  meanIou: number | null;
  medianIou: number | null;
  meanGtFraction: number;
  urbanised: boolean;
  representatives: number[];
}

export interface RunDetail {
  runId: number;
  patchesAnalysed?: number;
  estimator: { r2: number; meanPredictorR2: number; mae?: number; meanPredictorMae?: number };
  estimatorBeatsMean: boolean;
  clusters: Cluster[];
  urbanised: { clusters: number[]; reason: string };
  modelHeldOutIou?: number | null;
  explainedVarianceRatio: number[] | null;
}

export interface ScoredTile {
  z: number;
  x: number;
  y: number;
  taskId: string;
  status: string;
  buildingProb: number;
  /** buildingProb's interval without labels from the region; its width is the tile's doubt. */
  buildingProbLow?: number;
  buildingProbHigh?: number;
  noveltyRatio?: number;
  predFraction: number;
  iouHat: number;
  /** The smoothed IoU's 90 % conformal interval; absent on tiles scored before the run had one. */
  iouLow?: number | null;
  iouHigh?: number | null;
  urbanDistance: number;
  novelty: number;
  priority: number;
  tier?: 'high' | 'medium' | 'low' | 'skip';
  error?: string;
  footprints?: { type: 'MultiPolygon'; coordinates: number[][][][] };
}

/** A training patch near a tile in the latent space, as the server's nearest-patch search gives it. */
export type Neighbour = NearPatch;

export type { EffortPoint } from '../../../server/lib/scoring/effort.ts';
import type { ProjectEffort } from '../../../server/lib/trust/project-effort.ts';
export type { ProjectEffort, EffortBasis } from '../../../server/lib/trust/project-effort.ts';

export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'tilelens.managerToken';

export function managerToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setManagerToken(token: string | null) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, init);
  if (!res.ok) {
    let message = `${init.method ?? 'GET'} ${path} failed: ${res.status} ${res.statusText}`;
    let hint: string | undefined;
    try {
      const body = (await res.json()) as { error?: { message?: string; hint?: string } };
      if (body.error?.message) message = body.error.message;
      hint = body.error?.hint;
    } catch {
      /* not JSON: keep the status line */
    }
    if (res.status === 401) hint = hint ?? 'enter the manager token printed when the server started';
    throw new ApiRequestError(res.status, message, hint);
  }
  return (await res.json()) as T;
}

function write<T>(path: string, body: unknown): Promise<T> {
  const token = managerToken();
  if (!token) throw new ApiRequestError(401, 'this needs the manager token', 'enter it once under "Manager token"; it is kept for this browser tab only');
  return request<T>(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body ?? {}),
  });
}

export const api = {
  projects: () => request<{ projects: Project[] }>('/api/projects').then((r) => r.projects),
  project: (id: number) => request<Project>(`/api/projects/${id}`),
  imagery: () => request<{ imagery: Imagery[] }>('/api/imagery').then((r) => r.imagery),
  run: (id: number) => request<RunDetail>(`/api/runs/${id}`),
  clusters: (runId: number) => request<{ clusters: Cluster[]; urbanisedReason: string }>(`/api/runs/${runId}/clusters`),
  tile: (projectId: number, taskId: string) => request<ScoredTile>(`/api/projects/${projectId}/tiles/${taskId}`),
  neighbours: (projectId: number, taskId: string, k = 6) =>
    request<{ neighbours: Neighbour[] }>(`/api/projects/${projectId}/tiles/${taskId}/neighbours?k=${k}`).then((r) => r.neighbours),
  tilesInBBox: (projectId: number, bbox: BBox, limit: number) =>
    request<GeoJSON.FeatureCollection & { tilelens: { truncated: boolean } }>(`/api/projects/${projectId}/tiles?bbox=${bbox.join(',')}&limit=${limit}`),
  effort: (projectId: number) =>
    request<ProjectEffort & { counts: Project['counts'] }>(`/api/projects/${projectId}/effort`),
  job: (jobId: number) => request<Job>(`/api/jobs/${jobId}`),
  startScoring: (projectId: number) => write<Job>(`/api/projects/${projectId}/score`, {}),
  retryFailed: (projectId: number) => write<Job>(`/api/projects/${projectId}/retry-failed`, {}),
  patchImage: (runId: number, idx: number, kind: 'image' | 'mask' | 'prediction') => `/api/runs/${runId}/patches/${idx}/${kind}.png`,
  tileImage: (imageryId: number, z: number, x: number, y: number) => `/imagery/${imageryId}/${z}/${x}/${y}.jpg`,
  overlayTools: (projectId: number) =>
    request<{ layers: ToolTemplate[] }>(`/api/projects/${projectId}/overlays/tools`).then((r) => r.layers),
  exportUrl: (projectId: number, kind: ExportKind) => `/api/projects/${projectId}/exports/${EXPORTS[kind].path}`,
};

export const EXPORTS = {
  'mapswipe-find': { path: 'mapswipe-find', label: 'MapSwipe Find', help: 'project drafts per priority tier (JSON)' },
  'mapswipe-completeness': {
    path: 'mapswipe-completeness.json',
    label: 'MapSwipe Completeness',
    help: "are the model's outlines right and complete? Drafts per tier with the footprint overlay (JSON)",
  },
  'mapswipe-validate': { path: 'mapswipe-validate.geojson', label: 'MapSwipe Validate', help: 'predicted buildings to check (GeoJSON)' },
  'tasking-manager': { path: 'tasking-manager', label: 'Tasking Manager', help: 'task grid and instructions (JSON)' },
  'maproulette-tasks': { path: 'maproulette-tasks.geojsonl', label: 'MapRoulette tasks', help: 'line-by-line GeoJSON, one task per tile (priority as a property)' },
  'maproulette-challenge': { path: 'maproulette-challenge', label: 'MapRoulette rules', help: 'challenge fields with the priority rules that map the tiers (JSON)' },
  csv: { path: 'tiles.csv', label: 'CSV', help: 'every tile with its scores' },
  geojson: { path: 'tiles.geojson', label: 'GeoJSON', help: 'every tile as a square with its scores' },
} as const;
export type ExportKind = keyof typeof EXPORTS;
