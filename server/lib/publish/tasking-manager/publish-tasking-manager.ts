/**
 * Publishing to the HOT Tasking Manager: a draft project whose tasks are tilelens's clustered tiles (or
 * task squares), each carrying its priority and confidence; the high tier as priority areas; then one
 * annotation per task with the scores. Requests go to `/api/v2/…` with `Authorization: Token <token>`,
 * the token a manager copies from their TM account (never stored).
 *
 * The TM has no client-made ids, so the draft's name ends with a short tag from the ULID made when the
 * publication was planned. A resume whose create answer was lost looks for the manager's own draft of
 * that exact name among those no earlier publication adopted, and adopts it instead of making another.
 * The other two steps are safe to repeat: TM replaces a task's annotation of the same type, and setting
 * the same priority areas twice changes nothing.
 */
import type { Polygon } from 'geojson';
import type { DatabaseHandle } from '../../db/client.ts';
import { knownRemoteIds, updatePublishedProject, type PublicationRecord } from '../../db/publish-repo.ts';
import type { PublishedProjectRow } from '../../db/schema.ts';
import type {
  TaskingManagerExport,
  TmAnnotationsBody,
  TmDraftProject,
} from '../../exports/tasking-manager.ts';
import { PublishError } from '../errors.ts';
import { joinUrl, outbound, type FetchLike } from '../http.ts';

export interface TaskingManagerCredentials {
  token: string;
}

export interface TmProjectSpec {
  key: 'tm';
  draft: TmDraftProject;
  priorityAreas: Polygon[];
  annotations: Omit<TmAnnotationsBody, 'projectId'>;
  summary: Record<string, unknown>;
}

const TOOL = 'the Tasking Manager';

/** The spec of a TM draft from the export, named with a tag that makes it findable again. */
export function tmProjectSpec(exported: TaskingManagerExport, clientId: string, mode: string): TmProjectSpec {
  const tag = clientId.slice(-6).toLowerCase();
  const draft = { ...exported.draft, projectName: `${exported.draft.projectName} · tilelens ${tag}` };
  const { projectId: _ignored, ...annotations } = exported.annotations.body;
  return {
    key: 'tm',
    draft,
    priorityAreas: exported.priorityAreas,
    annotations,
    summary: {
      mode,
      tasks: draft.tasks.features.length,
      arbitraryTasks: draft.arbitraryTasks,
      priorityAreas: exported.priorityAreas.length,
      annotationType: annotations.annotationType,
    },
  };
}

export interface TmStep {
  operation: 'createDraft' | 'setPriorityAreas' | 'annotateTasks';
  method: 'POST' | 'PATCH';
  path: string;
  body: unknown;
}

export function tmSteps(spec: TmProjectSpec, remoteId?: string | null): TmStep[] {
  const id = remoteId ?? '{projectId from createDraft}';
  const steps: TmStep[] = [
    { operation: 'createDraft', method: 'POST', path: '/api/v2/projects/', body: spec.draft },
  ];
  if (spec.priorityAreas.length > 0) {
    steps.push({
      operation: 'setPriorityAreas',
      method: 'PATCH',
      path: `/api/v2/projects/${id}/`,
      body: { priorityAreas: spec.priorityAreas },
    });
  }
  steps.push({
    operation: 'annotateTasks',
    method: 'POST',
    path: `/api/v2/projects/${id}/annotations/${encodeURIComponent(spec.annotations.annotationType)}/`,
    body: { projectId: remoteId ? Number(remoteId) : null, ...spec.annotations },
  });
  return steps;
}

export class TaskingManagerClient {
  constructor(
    readonly baseUrl: string,
    private readonly credentials: TaskingManagerCredentials,
    private readonly fetchImpl: FetchLike = fetch,
    private readonly timeoutMs?: number,
  ) {}

  async call<T>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
    const res = await outbound(
      this.fetchImpl,
      TOOL,
      joinUrl(this.baseUrl, path),
      {
        method,
        headers: {
          Accept: 'application/json',
          Authorization: `Token ${this.credentials.token}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      this.timeoutMs,
    );
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: reported below by status */
    }
    if (res.status === 401 || res.status === 403) {
      throw new PublishError(
        'remote-auth',
        `${TOOL} did not accept the token (HTTP ${res.status})`,
        'copy a fresh token from your Tasking Manager account settings; project managers of the organisation may create drafts',
      );
    }
    if (!res.ok) {
      const detail =
        (json as { Error?: string; error?: { message?: string }; detail?: unknown } | undefined) ?? undefined;
      const message =
        detail?.Error ??
        detail?.error?.message ??
        (detail?.detail ? JSON.stringify(detail.detail) : text.slice(0, 200));
      throw new PublishError(
        res.status >= 500 ? 'remote-unreachable' : 'remote-refused',
        `${TOOL} answered HTTP ${res.status} to ${method} ${path}: ${message}`,
      );
    }
    return json as T;
  }
}

/** Brings the TM draft from wherever it stopped to annotated, recording every step. */
export async function advanceTmProject(
  db: DatabaseHandle,
  client: TaskingManagerClient,
  row: PublishedProjectRow,
  resuming: boolean,
): Promise<void> {
  const spec = row.spec as unknown as TmProjectSpec;
  const save = async (patch: Parameters<typeof updatePublishedProject>[3]) =>
    await updatePublishedProject(db, row.publicationId, row.key, patch);
  let stage = row.stage;
  let remoteId = row.remoteId;

  if (stage === 'planned') {
    if (resuming) remoteId = (await findDraft(db, client, spec.draft.projectName)) ?? null;
    if (!remoteId) {
      const made = await client.call<{ projectId: number }>('POST', '/api/v2/projects/', spec.draft);
      if (!made || !Number.isInteger(made.projectId)) {
        throw new PublishError('remote-refused', `${TOOL} created a draft but named no projectId`);
      }
      remoteId = String(made.projectId);
    }
    stage = 'created';
    await save({ stage, remoteId, remoteStatus: 'DRAFT' });
  }
  const steps = tmSteps(spec, remoteId);
  if (stage === 'created') {
    const areas = steps.find((s) => s.operation === 'setPriorityAreas');
    if (areas) await client.call('PATCH', areas.path, areas.body);
    stage = 'priority-areas-set';
    await save({ stage });
  }
  if (stage === 'priority-areas-set') {
    const annotate = steps.find((s) => s.operation === 'annotateTasks')!;
    await client.call('POST', annotate.path, annotate.body);
    await save({ stage: 'annotated' });
  }
}

async function findDraft(db: DatabaseHandle, client: TaskingManagerClient, name: string) {
  const found = await client.call<{ results?: Array<{ projectId: number; name: string }> }>(
    'GET',
    `/api/v2/projects/?textSearch=${encodeURIComponent(name)}&createdByMe=true&projectStatuses=DRAFT`,
  );
  const adopted = await knownRemoteIds(db, 'tasking-manager');
  const hits = (found?.results ?? []).filter((p) => p.name === name && !adopted.has(String(p.projectId)));
  if (hits.length > 1) {
    throw new PublishError(
      'remote-refused',
      `${TOOL} holds ${hits.length} drafts named "${name}" (${hits.map((h) => h.projectId).join(', ')}); tilelens cannot tell which it made`,
      'delete the extra drafts in the Tasking Manager, then resume',
    );
  }
  return hits[0] ? String(hits[0].projectId) : undefined;
}

/** Reads back the status of the publication's draft and records it. */
export async function pollTaskingManager(
  db: DatabaseHandle,
  client: TaskingManagerClient,
  record: PublicationRecord,
): Promise<void> {
  for (const row of record.projects) {
    if (!row.remoteId) continue;
    const p = await client.call<{ status?: string }>(
      'GET',
      `/api/v2/projects/${row.remoteId}/?abbreviated=true`,
    );
    await updatePublishedProject(db, row.publicationId, row.key, {
      remoteStatus: p?.status ?? null,
      polledAt: new Date(),
    });
  }
}
