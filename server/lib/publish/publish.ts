/**
 * Publishing a scored project to the tools volunteers use: MapSwipe's backend (Find per tier, Validate,
 * a calibration sample's Find drafts) and the Tasking Manager (a draft with arbitrary tasks, priority
 * areas, annotations). The CLI, the API and the UI's button call these functions and nothing else.
 *
 *   plan   → what would be sent, step by step with exact variables (`dryRun`); nothing stored or sent
 *   publish→ the plan stored as a publication (ids made once), then run step by step, each result stored
 *   resume → a failed or interrupted publication run on from where it stopped, never making a copy
 *   poll   → the remote status of everything a publication made
 *
 * A target is a tool; what to make there is a list of specs (mapswipe/project-specs.ts), which is where
 * a new MapSwipe project type goes. Credentials are arguments of one call: never stored, never logged.
 */
import { z } from 'zod';
import { countFairObjects, getFairImport } from '../db/fair-repo.ts';
import {
  getPublication,
  insertPublication,
  listPublications,
  setPublicationStatus,
  unfinishedPublication,
  type PublicationRecord,
} from '../db/publish-repo.ts';
import type { PublishTarget } from '../db/schema.ts';
import type { ExportProject } from '../exports/project-info.ts';
import { taskingManagerExport } from '../exports/tasking-manager.ts';
import { tierFor } from '../scored-tiles/tiers.ts';
import type { ScoringContext } from '../scoring/context.ts';
import { getImagery } from '../scoring/imagery-registry.ts';
import { requireProject } from '../scoring/projects.ts';
import { iterateScoredTiles } from '../scoring/tiles-repo.ts';
import { loadSample } from '../trust/project-trust.ts';
import { sampleFindDrafts } from '../trust/sample-exports.ts';
import { PublishError } from './errors.ts';
import { checkBaseUrl, type FetchLike } from './http.ts';
import { MapswipeClient, type MapswipeCredentials } from './mapswipe/client.ts';
import {
  findTierSpecs,
  GROUP_SIZE,
  sampleFindSpecs,
  tilelensTileServer,
  validateSpec,
  VERIFICATION_NUMBER,
  type MapswipeCommon,
  type MapswipeProjectSpec,
} from './mapswipe/project-specs.ts';
import {
  advanceMapswipeProject,
  mapswipeSteps,
  pollMapswipe,
  type MapswipeStep,
} from './mapswipe/publish-mapswipe.ts';
import {
  advanceTmProject,
  pollTaskingManager,
  TaskingManagerClient,
  tmProjectSpec,
  tmSteps,
  type TaskingManagerCredentials,
  type TmProjectSpec,
  type TmStep,
} from './tasking-manager/publish-tasking-manager.ts';
import { ulid } from './ulid.ts';

// ── what a manager asks for ───────────────────────────────────────────────────────────────────────────

const groupSize = z.number().int().min(GROUP_SIZE.min).max(GROUP_SIZE.max);
const verificationNumber = z.number().int().min(VERIFICATION_NUMBER.min).max(VERIFICATION_NUMBER.max);
const findTier = z.enum(['high', 'medium', 'low']);

export const mapswipeRequestSchema = z
  .object({
    /** The requesting organisation's id in MapSwipe. */
    organisation: z.string().trim().min(1),
    region: z.string().trim().min(1),
    projectNumber: z.number().int().min(1),
    team: z.string().trim().min(1).optional(),
    additionalInfoUrl: z.url().optional(),
    /** Find projects per tier; false for none. */
    find: z
      .union([
        z.literal(false),
        z.object({
          tiers: z.array(findTier).min(1).default(['high', 'medium']),
          groupSize: groupSize.default(GROUP_SIZE.default),
          verificationNumber: verificationNumber.default(VERIFICATION_NUMBER.default),
        }),
      ])
      .default({
        tiers: ['high', 'medium'],
        groupSize: GROUP_SIZE.default,
        verificationNumber: VERIFICATION_NUMBER.default,
      }),
    /** A Validate project over the model's footprints, or a fAIr import's polygons; false for none. */
    validate: z
      .union([
        z.literal(false),
        z.object({
          objects: z
            .union([z.literal('model'), z.object({ fairImport: z.number().int().positive() })])
            .default('model'),
          groupSize: groupSize.default(25),
          verificationNumber: verificationNumber.default(VERIFICATION_NUMBER.default),
        }),
      ])
      .default(false),
    /** A calibration sample's Find drafts instead (or besides). */
    sample: z
      .object({
        sampleId: z.number().int().positive(),
        groupSize: groupSize.default(GROUP_SIZE.default),
        verificationNumber: verificationNumber.default(VERIFICATION_NUMBER.default),
      })
      .optional(),
  })
  .refine((r) => r.find !== false || r.validate !== false || r.sample, {
    message: 'ask for at least one of find, validate or sample',
  });

export const taskingManagerRequestSchema = z.object({
  /** The TM organisation id the draft belongs to. */
  organisation: z.number().int().positive(),
  /** clustered: each task is the chosen tiles of a square (arbitrary tasks); squares: the plain grid. */
  mode: z.enum(['clustered', 'squares']).default('clustered'),
  taskZoom: z.number().int().min(0).max(22).optional(),
  tiers: z
    .array(z.enum(['high', 'medium', 'low', 'skip']))
    .min(1)
    .default(['high', 'medium', 'low']),
  annotationType: z.string().trim().min(1).max(50).default('tilelens'),
});

export type MapswipeRequest = z.infer<typeof mapswipeRequestSchema>;
export type TaskingManagerRequest = z.infer<typeof taskingManagerRequestSchema>;

export type Credentials = MapswipeCredentials | TaskingManagerCredentials;

export interface PublishContext {
  ctx: ScoringContext;
  /** From the server settings; never from a client. */
  urls: { mapswipe?: string; taskingManager?: string };
  /** Where MapSwipe and the TM reach this server (imagery tiles, Validate objects). */
  publicUrl: string;
  /** The project as exports describe it (routes/exports.ts `exportInfo`). */
  info: (projectId: number) => Promise<ExportProject>;
  fetchImpl?: FetchLike;
  timeoutMs?: number;
}

// ── plans ─────────────────────────────────────────────────────────────────────────────────────────────

export interface PlannedProject {
  key: string;
  kind: string;
  clientId: string;
  assetClientId: string | null;
  stage: string;
  remoteId: string | null;
  summary: Record<string, unknown>;
  steps: Array<MapswipeStep | TmStep>;
}

export interface PublicationPlan {
  target: PublishTarget;
  baseUrl: string | null;
  publicationId: number | null;
  projects: PlannedProject[];
  notes: string[];
}

interface Planned {
  target: PublishTarget;
  /** Null when no address is configured: a dry run still plans, publishing refuses. */
  baseUrl: string | null;
  request: Record<string, unknown>;
  specs: Array<{
    key: string;
    kind: string;
    clientId: string;
    assetClientId: string | null;
    spec: MapswipeProjectSpec | TmProjectSpec;
  }>;
  notes: string[];
}

function reachabilityNotes(publicUrl: string, tool: string): string[] {
  const host = new URL(publicUrl).hostname;
  if (host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.')) {
    return [
      `${tool} fetches imagery tiles${tool === 'MapSwipe' ? ' and Validate objects' : ''} from ${publicUrl}, an address only this machine reaches: start the server with --public-url set to one ${tool} can reach`,
    ];
  }
  return [];
}

async function planMapswipe(
  pc: PublishContext,
  projectId: number,
  request: MapswipeRequest,
): Promise<Planned> {
  const baseUrl = pc.urls.mapswipe
    ? checkBaseUrl(pc.urls.mapswipe, 'mapswipe-url', 'MapSwipe backend')
    : null;
  const project = await requireProject(pc.ctx, projectId);
  const info = await pc.info(projectId);
  const imagery = await getImagery(pc.ctx, project.imageryId);
  const tileServer = tilelensTileServer(info, {
    minZoom: imagery?.minZoom ?? project.zoom,
    maxZoom: imagery?.maxZoom ?? project.zoom,
  });
  const common = (g: { groupSize: number; verificationNumber: number }): MapswipeCommon => ({
    requestingOrganization: request.organisation,
    region: request.region,
    projectNumber: request.projectNumber,
    ...(request.team ? { team: request.team } : {}),
    ...(request.additionalInfoUrl ? { additionalInfoUrl: request.additionalInfoUrl } : {}),
    groupSize: g.groupSize,
    verificationNumber: g.verificationNumber,
  });
  const specs: MapswipeProjectSpec[] = [];
  if (request.find !== false) {
    specs.push(
      ...(await findTierSpecs(iterateScoredTiles(pc.ctx, projectId), info, common(request.find), {
        tiers: request.find.tiers,
        tileServer,
      })),
    );
    if (specs.length === 0) {
      throw new PublishError(
        'nothing-to-publish',
        `no tile of project ${projectId} is in the tiers ${request.find.tiers.join(', ')}`,
      );
    }
  }
  if (request.validate !== false) {
    const v = request.validate;
    const base = pc.publicUrl.replace(/\/+$/, '');
    if (v.objects === 'model') {
      specs.push(
        validateSpec(info, common(v), {
          objectsUrl: `${base}/api/projects/${projectId}/exports/mapswipe-validate.geojson`,
          objects: await countModelObjects(pc.ctx, projectId),
          source: 'model',
          tileServer,
        }),
      );
    } else {
      const imp = await getFairImport(pc.ctx.db, v.objects.fairImport);
      if (!imp || imp.projectId !== projectId) {
        throw new PublishError(
          'invalid-request',
          `fAIr import ${v.objects.fairImport} is not one of project ${projectId}'s`,
        );
      }
      specs.push(
        validateSpec(info, common(v), {
          objectsUrl: `${base}/api/projects/${projectId}/fair/${imp.id}/objects.geojson`,
          objects: await countFairObjects(pc.ctx.db, imp.id),
          source: 'fAIr',
          tileServer,
        }),
      );
    }
  }
  if (request.sample) {
    const sample = await loadSample(pc.ctx, projectId, request.sample.sampleId);
    specs.push(
      ...sampleFindSpecs(
        sampleFindDrafts(sample, info, sample.id),
        sample.id,
        common(request.sample),
        tileServer,
      ),
    );
  }
  return {
    target: 'mapswipe',
    baseUrl,
    request: request as unknown as Record<string, unknown>,
    specs: specs.map((spec) => ({
      key: spec.key,
      kind: spec.projectType,
      clientId: ulid(),
      assetClientId: spec.aoi ? ulid() : null,
      spec,
    })),
    notes: [
      ...(baseUrl
        ? []
        : ['no MapSwipe backend is configured (--mapswipe-url): this plan can be read, not published']),
      ...reachabilityNotes(pc.publicUrl, 'MapSwipe'),
      'clientIds are made once when publishing starts and stored; a resume sends the same ones',
    ],
  };
}

/** Polygons the Validate objects route serves now (tiers high and medium, most urgent first). */
async function countModelObjects(ctx: ScoringContext, projectId: number): Promise<number> {
  let n = 0;
  for await (const t of iterateScoredTiles(ctx, projectId)) {
    if (t.status !== 'scored') continue;
    const tier = tierFor(t);
    if (tier === 'high' || tier === 'medium') n += t.footprints?.coordinates.length ?? 0;
  }
  return n;
}

async function planTaskingManager(
  pc: PublishContext,
  projectId: number,
  request: TaskingManagerRequest,
): Promise<Planned> {
  const baseUrl = pc.urls.taskingManager
    ? checkBaseUrl(pc.urls.taskingManager, 'tasking-manager-url', 'Tasking Manager')
    : null;
  await requireProject(pc.ctx, projectId);
  const exported = await taskingManagerExport(
    iterateScoredTiles(pc.ctx, projectId),
    await pc.info(projectId),
    {
      mode: request.mode,
      tiers: request.tiers,
      organisation: request.organisation,
      annotationType: request.annotationType,
      ...(request.taskZoom !== undefined ? { taskZoom: request.taskZoom } : {}),
    },
  );
  const clientId = ulid();
  return {
    target: 'tasking-manager',
    baseUrl,
    request: request as unknown as Record<string, unknown>,
    specs: [
      {
        key: 'tm',
        kind: 'DRAFT',
        clientId,
        assetClientId: null,
        spec: tmProjectSpec(exported, clientId, request.mode),
      },
    ],
    notes: [
      ...(baseUrl
        ? []
        : ['no Tasking Manager is configured (--tasking-manager-url): this plan can be read, not published']),
      ...reachabilityNotes(pc.publicUrl, 'the Tasking Manager'),
      'the draft is named with a tag from its stored clientId, so a resume finds it instead of making another',
    ],
  };
}

function stepsOf(
  target: PublishTarget,
  s: {
    clientId: string;
    assetClientId: string | null;
    spec: unknown;
    remoteId?: string | null;
    assetRemoteId?: string | null;
  },
) {
  return target === 'mapswipe'
    ? mapswipeSteps(s.spec as MapswipeProjectSpec, s)
    : tmSteps(s.spec as TmProjectSpec, s.remoteId);
}

function toPlan(p: Planned): PublicationPlan {
  return {
    target: p.target,
    baseUrl: p.baseUrl,
    publicationId: null,
    projects: p.specs.map((s) => ({
      key: s.key,
      kind: s.kind,
      clientId: s.clientId,
      assetClientId: s.assetClientId,
      stage: 'planned',
      remoteId: null,
      summary: s.spec.summary,
      steps: stepsOf(p.target, s),
    })),
    notes: p.notes,
  };
}

// ── publications ──────────────────────────────────────────────────────────────────────────────────────

export interface PublicationView {
  id: number;
  projectId: number;
  target: PublishTarget;
  baseUrl: string;
  status: string;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  request: Record<string, unknown>;
  projects: Array<{
    key: string;
    kind: string;
    clientId: string;
    remoteId: string | null;
    stage: string;
    remoteStatus: string | null;
    processingStatus: string | null;
    statusMessage: string | null;
    polledAt: Date | null;
    summary: unknown;
  }>;
}

export function publicationView(record: PublicationRecord): PublicationView {
  const p = record.publication;
  return {
    id: p.id,
    projectId: p.projectId,
    target: p.target,
    baseUrl: p.baseUrl,
    status: p.status,
    error: p.error,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    request: p.request,
    projects: record.projects.map((r) => ({
      key: r.key,
      kind: r.kind,
      clientId: r.clientId,
      remoteId: r.remoteId,
      stage: r.stage,
      remoteStatus: r.remoteStatus,
      processingStatus: r.processingStatus,
      statusMessage: r.statusMessage,
      polledAt: r.polledAt,
      summary: (r.spec as { summary?: unknown }).summary ?? null,
    })),
  };
}

export type PublishOutcome =
  { dryRun: true; plan: PublicationPlan } | { dryRun: false; publication: PublicationView };

function requireCredentials<T extends Credentials>(credentials: T | undefined, target: PublishTarget): T {
  if (!credentials) {
    throw new PublishError(
      'invalid-request',
      `publishing to ${target === 'mapswipe' ? 'MapSwipe' : 'the Tasking Manager'} needs credentials`,
      target === 'mapswipe'
        ? 'give a MapSwipe user name and password, or a Firebase ID token (never stored)'
        : 'give a Tasking Manager token (never stored)',
    );
  }
  return credentials;
}

async function start(
  pc: PublishContext,
  projectId: number,
  planned: Planned,
  credentials: Credentials | undefined,
  dryRun: boolean,
): Promise<PublishOutcome> {
  if (dryRun) return { dryRun: true, plan: toPlan(planned) };
  const baseUrl =
    planned.baseUrl ??
    (planned.target === 'mapswipe'
      ? checkBaseUrl(undefined, 'mapswipe-url', 'MapSwipe backend')
      : checkBaseUrl(undefined, 'tasking-manager-url', 'Tasking Manager'));
  const creds = requireCredentials(credentials, planned.target);
  const open = await unfinishedPublication(pc.ctx.db, projectId, planned.target);
  if (open) {
    throw new PublishError(
      'unfinished-publication',
      `publication ${open.id} of project ${projectId} to ${planned.target} has not finished (${open.status}); resume it instead of starting another, so nothing is made twice`,
      `tilelens publish resume --publication ${open.id}  (or POST /api/publications/${open.id}/resume)`,
    );
  }
  const id = await insertPublication(pc.ctx.db, {
    projectId,
    target: planned.target,
    baseUrl,
    request: planned.request,
    projects: planned.specs.map((s) => ({
      key: s.key,
      kind: s.kind,
      clientId: s.clientId,
      assetClientId: s.assetClientId,
      spec: s.spec as unknown as Record<string, unknown>,
    })),
  });
  return { dryRun: false, publication: await run(pc, id, creds, false) };
}

export async function publishToMapswipe(
  pc: PublishContext,
  projectId: number,
  request: MapswipeRequest,
  o: { dryRun?: boolean; credentials?: MapswipeCredentials } = {},
): Promise<PublishOutcome> {
  return start(pc, projectId, await planMapswipe(pc, projectId, request), o.credentials, o.dryRun ?? false);
}

export async function publishToTaskingManager(
  pc: PublishContext,
  projectId: number,
  request: TaskingManagerRequest,
  o: { dryRun?: boolean; credentials?: TaskingManagerCredentials } = {},
): Promise<PublishOutcome> {
  return start(
    pc,
    projectId,
    await planTaskingManager(pc, projectId, request),
    o.credentials,
    o.dryRun ?? false,
  );
}

export async function requirePublication(pc: PublishContext, id: number): Promise<PublicationRecord> {
  const record = await getPublication(pc.ctx.db, id);
  if (!record) throw new PublishError('publication-not-found', `publication ${id} does not exist`);
  return record;
}

/** Runs a failed or interrupted publication on; its dry run shows what is left, with the stored ids. */
export async function resumePublication(
  pc: PublishContext,
  id: number,
  o: { dryRun?: boolean; credentials?: Credentials } = {},
): Promise<PublishOutcome> {
  const record = await requirePublication(pc, id);
  if (record.publication.status === 'done') {
    throw new PublishError(
      'publication-finished',
      `publication ${id} finished already; poll it for the remote status`,
    );
  }
  if (o.dryRun) {
    return {
      dryRun: true,
      plan: {
        target: record.publication.target,
        baseUrl: record.publication.baseUrl,
        publicationId: id,
        projects: record.projects.map((r) => ({
          key: r.key,
          kind: r.kind,
          clientId: r.clientId,
          assetClientId: r.assetClientId,
          stage: r.stage,
          remoteId: r.remoteId,
          summary: (r.spec as { summary?: Record<string, unknown> }).summary ?? {},
          steps: stepsOf(record.publication.target, r),
        })),
        notes: [
          'steps already done are skipped; a step whose answer was lost is looked up before it is sent again',
        ],
      },
    };
  }
  const creds = requireCredentials(o.credentials, record.publication.target);
  return { dryRun: false, publication: await run(pc, id, creds, true) };
}

function baseUrlFor(pc: PublishContext, record: PublicationRecord): string {
  // The configured address wins, so a publication recorded against another address is not sent there.
  const configured =
    record.publication.target === 'mapswipe'
      ? checkBaseUrl(pc.urls.mapswipe, 'mapswipe-url', 'MapSwipe backend')
      : checkBaseUrl(pc.urls.taskingManager, 'tasking-manager-url', 'Tasking Manager');
  if (configured !== record.publication.baseUrl) {
    throw new PublishError(
      'not-configured',
      `publication ${record.publication.id} was made at ${record.publication.baseUrl}, but the server is configured for ${configured}`,
      'start the server with the address the publication was made at',
    );
  }
  return configured;
}

async function run(
  pc: PublishContext,
  id: number,
  credentials: Credentials,
  resuming: boolean,
): Promise<PublicationView> {
  const record = await requirePublication(pc, id);
  const baseUrl = baseUrlFor(pc, record);
  await setPublicationStatus(pc.ctx.db, id, 'in-progress');
  let done = 0;
  try {
    if (record.publication.target === 'mapswipe') {
      const client = new MapswipeClient(baseUrl, pc.fetchImpl, pc.timeoutMs);
      await client.signIn(credentials as MapswipeCredentials);
      for (const row of record.projects) {
        await advanceMapswipeProject(pc.ctx.db, client, row, resuming);
        done++;
      }
    } else {
      const client = new TaskingManagerClient(
        baseUrl,
        credentials as TaskingManagerCredentials,
        pc.fetchImpl,
        pc.timeoutMs,
      );
      for (const row of record.projects) {
        await advanceTmProject(pc.ctx.db, client, row, resuming);
        done++;
      }
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await setPublicationStatus(pc.ctx.db, id, 'failed', message);
    const code = err instanceof PublishError ? err.code : 'remote-unreachable';
    throw new PublishError(
      code,
      `${message} — publication ${id}: ${done} of ${record.projects.length} project(s) complete, the rest recorded as far as they got`,
      `fix the cause, then resume: tilelens publish resume --publication ${id}  (or POST /api/publications/${id}/resume)`,
      { cause: err },
    );
  }
  await setPublicationStatus(pc.ctx.db, id, 'done');
  return publicationView(await requirePublication(pc, id));
}

/** Reads the remote status of everything the publication made. */
export async function pollPublication(
  pc: PublishContext,
  id: number,
  credentials: Credentials,
): Promise<PublicationView> {
  const record = await requirePublication(pc, id);
  const baseUrl = baseUrlFor(pc, record);
  if (record.publication.target === 'mapswipe') {
    const client = new MapswipeClient(baseUrl, pc.fetchImpl, pc.timeoutMs);
    await client.signIn(credentials as MapswipeCredentials);
    await pollMapswipe(pc.ctx.db, client, record);
  } else {
    await pollTaskingManager(
      pc.ctx.db,
      new TaskingManagerClient(baseUrl, credentials as TaskingManagerCredentials, pc.fetchImpl, pc.timeoutMs),
      record,
    );
  }
  return publicationView(await requirePublication(pc, id));
}

export async function projectPublications(pc: PublishContext, projectId: number): Promise<PublicationView[]> {
  await requireProject(pc.ctx, projectId);
  return (await listPublications(pc.ctx.db, projectId)).map(publicationView);
}
