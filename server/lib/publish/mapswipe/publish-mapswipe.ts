/**
 * Runs MapSwipe project specs against the backend, one step at a time, recording each result before the
 * next call: createProject → createProjectAsset (the area, when the type has one) → updateProject (the
 * type's specifics) → updateProjectStatus READY_TO_PROCESS. Then the backend processes the project on its
 * own; `pollMapswipe` reads back where it got.
 *
 * A failure half-way leaves the publication `failed` with every id already known. Resuming never makes
 * a second copy: a step whose answer was lost is looked up first — the project among its topic's
 * projects, the area among the project's assets, both by the clientId ULID made once when the
 * publication was planned — and only made when it is not there.
 */
import type { DatabaseHandle } from '../../db/client.ts';
import { updatePublishedProject, type PublicationRecord } from '../../db/publish-repo.ts';
import type { PublishedProjectRow } from '../../db/schema.ts';
import { PublishError } from '../errors.ts';
import { MapswipeClient, mutationResult, type MutationPayload, type Upload } from './client.ts';
import {
  CREATE_PROJECT,
  CREATE_PROJECT_ASSET,
  PROJECT_ASSETS,
  PROJECT_STATUS,
  PROJECTS_BY_TOPIC,
  specificsField,
  UPDATE_PROJECT,
  UPDATE_PROJECT_STATUS,
} from './documents.ts';
import type { MapswipeProjectSpec } from './project-specs.ts';

export interface MapswipeStep {
  operation: 'createProject' | 'createProjectAsset' | 'updateProject' | 'updateProjectStatus';
  query: string;
  variables: Record<string, unknown>;
  /** The file of a multipart request: where it goes and what it holds. */
  upload?: { path: string; filename: string; contentType: string; bytes: number; content: string };
}

interface Ids {
  clientId: string;
  assetClientId: string | null;
  remoteId?: string | null;
  assetRemoteId?: string | null;
}

const UPLOAD_PATH = 'variables.data.file';

/** The area file as sent: the FeatureCollection, named for the project's clientId. */
function areaUpload(spec: MapswipeProjectSpec, ids: Ids): Upload {
  const text = JSON.stringify(spec.aoi);
  return {
    path: UPLOAD_PATH,
    filename: `${ids.assetClientId ?? ids.clientId}.geojson`,
    contentType: 'application/geo+json',
    bytes: new TextEncoder().encode(text),
  };
}

function specificsWithArea(spec: MapswipeProjectSpec, assetId: string | null | undefined) {
  if (!spec.aoi) return spec.specifics;
  const field = specificsField(spec.projectType);
  return { [field]: { ...spec.specifics[field], aoiGeometry: assetId ?? '<id from createProjectAsset>' } };
}

/** Every step of one project with its exact variables; ids not yet known are shown as placeholders. */
export function mapswipeSteps(spec: MapswipeProjectSpec, ids: Ids): MapswipeStep[] {
  const pk = ids.remoteId ?? '<id from createProject>';
  const steps: MapswipeStep[] = [
    {
      operation: 'createProject',
      query: CREATE_PROJECT,
      variables: { data: { clientId: ids.clientId, ...spec.create } },
    },
  ];
  if (spec.aoi) {
    const upload = areaUpload(spec, ids);
    steps.push({
      operation: 'createProjectAsset',
      query: CREATE_PROJECT_ASSET,
      variables: {
        data: { clientId: ids.assetClientId, project: pk, inputType: 'AOI_GEOMETRY', file: null },
      },
      upload: {
        path: upload.path,
        filename: upload.filename,
        contentType: upload.contentType,
        bytes: upload.bytes.length,
        content: new TextDecoder().decode(upload.bytes),
      },
    });
  }
  steps.push(
    {
      operation: 'updateProject',
      query: UPDATE_PROJECT,
      variables: {
        pk,
        data: {
          clientId: ids.clientId,
          ...spec.update,
          projectTypeSpecifics: specificsWithArea(spec, ids.assetRemoteId),
        },
      },
    },
    {
      operation: 'updateProjectStatus',
      query: UPDATE_PROJECT_STATUS,
      variables: { pk, data: { clientId: ids.clientId, status: 'READY_TO_PROCESS' } },
    },
  );
  return steps;
}

type ProjectResult = { id: string; clientId: string; status: string; processingStatus?: string | null };

/** Brings one project from wherever it stopped to submitted, recording every step. */
export async function advanceMapswipeProject(
  db: DatabaseHandle,
  client: MapswipeClient,
  row: PublishedProjectRow,
  resuming: boolean,
): Promise<void> {
  const spec = row.spec as unknown as MapswipeProjectSpec;
  const ids: Ids = {
    clientId: row.clientId,
    assetClientId: row.assetClientId,
    remoteId: row.remoteId,
    assetRemoteId: row.assetRemoteId,
  };
  const save = async (patch: Parameters<typeof updatePublishedProject>[3]) =>
    await updatePublishedProject(db, row.publicationId, row.key, patch);
  let stage = row.stage;

  if (stage === 'planned') {
    const found = resuming ? await findProject(client, spec.create.topic, ids.clientId) : undefined;
    let made = found;
    if (!made) {
      const data = await client.request<{ createProject: MutationPayload<ProjectResult> }>(
        CREATE_PROJECT,
        mapswipeSteps(spec, ids)[0].variables,
      );
      made = mutationResult(data.createProject, `createProject (${row.key})`);
    }
    ids.remoteId = made.id;
    stage = 'created';
    await save({ stage, remoteId: made.id, remoteStatus: made.status });
  }

  if (stage === 'created' && spec.aoi) {
    const found = resuming ? await findAsset(client, ids.remoteId!, ids.assetClientId!) : undefined;
    let assetId = found;
    if (!assetId) {
      const step = mapswipeSteps(spec, ids).find((s) => s.operation === 'createProjectAsset')!;
      const data = await client.request<{ createProjectAsset: MutationPayload<{ id: string }> }>(
        CREATE_PROJECT_ASSET,
        { ...step.variables },
        areaUpload(spec, ids),
      );
      assetId = mutationResult(data.createProjectAsset, `createProjectAsset (${row.key})`).id;
    }
    ids.assetRemoteId = assetId;
    stage = 'asset-uploaded';
    await save({ stage, assetRemoteId: assetId });
  }

  if (stage === 'created' || stage === 'asset-uploaded') {
    // Setting the same fields twice changes nothing, so this step needs no look-up on resume.
    const step = mapswipeSteps(spec, ids).find((s) => s.operation === 'updateProject')!;
    const data = await client.request<{ updateProject: MutationPayload<ProjectResult> }>(
      UPDATE_PROJECT,
      step.variables,
    );
    const r = mutationResult(data.updateProject, `updateProject (${row.key})`);
    stage = 'configured';
    await save({ stage, remoteStatus: r.status });
  }

  if (stage === 'configured') {
    let status: string | undefined;
    if (resuming) {
      // A status already past DRAFT means the lost answer was a success; asking again could be refused.
      const now = await projectStatus(client, ids.remoteId!);
      if (now.status !== 'DRAFT') status = now.status;
    }
    if (!status) {
      const step = mapswipeSteps(spec, ids).find((s) => s.operation === 'updateProjectStatus')!;
      const data = await client.request<{ updateProjectStatus: MutationPayload<ProjectResult> }>(
        UPDATE_PROJECT_STATUS,
        step.variables,
      );
      status = mutationResult(data.updateProjectStatus, `updateProjectStatus (${row.key})`).status;
    }
    await save({ stage: 'submitted', remoteStatus: status });
  }
}

const PAGE = 100;

async function findProject(client: MapswipeClient, topic: string, clientId: string) {
  for (let offset = 0; ; offset += PAGE) {
    const data = await client.request<{
      projects: { totalCount: number; results: ProjectResult[] };
    }>(PROJECTS_BY_TOPIC, { topic, offset, limit: PAGE });
    const hit = data.projects.results.find((p) => p.clientId === clientId);
    if (hit) return hit;
    if (offset + PAGE >= data.projects.totalCount) return undefined;
  }
}

async function findAsset(client: MapswipeClient, project: string, clientId: string) {
  for (let offset = 0; ; offset += PAGE) {
    const data = await client.request<{
      projectAssets: { totalCount: number; results: Array<{ id: string; clientId: string }> };
    }>(PROJECT_ASSETS, { project, offset, limit: PAGE });
    const hit = data.projectAssets.results.find((a) => a.clientId === clientId);
    if (hit) return hit.id;
    if (offset + PAGE >= data.projectAssets.totalCount) return undefined;
  }
}

export interface RemoteProjectStatus {
  status: string;
  processingStatus: string | null;
  statusMessage: string | null;
}

export async function projectStatus(client: MapswipeClient, id: string): Promise<RemoteProjectStatus> {
  const data = await client.request<{
    project: { status: string; processingStatus?: string | null; statusMessage?: string | null } | null;
  }>(PROJECT_STATUS, { id });
  if (!data.project) throw new PublishError('remote-refused', `MapSwipe has no project ${id} (deleted?)`);
  return {
    status: data.project.status,
    processingStatus: data.project.processingStatus ?? null,
    statusMessage: data.project.statusMessage ?? null,
  };
}

/** Reads back the status of every project the publication made and records it. */
export async function pollMapswipe(
  db: DatabaseHandle,
  client: MapswipeClient,
  record: PublicationRecord,
): Promise<void> {
  for (const row of record.projects) {
    if (!row.remoteId) continue;
    const s = await projectStatus(client, row.remoteId);
    await updatePublishedProject(db, row.publicationId, row.key, {
      remoteStatus: s.status,
      processingStatus: s.processingStatus,
      statusMessage: s.statusMessage,
      polledAt: new Date(),
    });
  }
}
