/**
 * `tilelens publish …`, `tilelens fair-model` and `tilelens fair-import`: thin over server/lib/publish/
 * and server/lib/fair/. Credentials come from the environment only (never flags, which shells keep in
 * their history and `ps` shows): MAPSWIPE_USERNAME + MAPSWIPE_PASSWORD or MAPSWIPE_FIREBASE_TOKEN,
 * TASKING_MANAGER_TOKEN.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from './lib/db/client.ts';
import {
  maprouletteChallenge,
  maprouletteTaskLines,
  type MaprouletteSummary,
} from './lib/exports/maproulette.ts';
import { findFairOnnx, proposeFairSidecar, type StacItem } from './lib/fair/model.ts';
import { importFairPredictions } from './lib/fair/predictions.ts';
import { sidecarPath } from './lib/model/sidecar.ts';
import { loadModel } from './lib/model/runtime.ts';
import { dataDir, defaultDbPath } from './lib/paths.ts';
import type { MapswipeCredentials } from './lib/publish/mapswipe/client.ts';
import {
  mapswipeRequestSchema,
  pollPublication,
  projectPublications,
  publicationView,
  publishToMapswipe,
  publishToTaskingManager,
  requirePublication,
  resumePublication,
  taskingManagerRequestSchema,
  type Credentials,
  type PublishContext,
} from './lib/publish/publish.ts';
import { handoverInfo } from './lib/deliverables/project-exports.ts';
import { requireProject } from './lib/scoring/projects.ts';
import { iterateScoredTiles } from './lib/scoring/tiles-repo.ts';
import { resolveSettings } from './settings.ts';
import { UsageError } from './cli-usage.ts';

export const publishUsage = `  publish mapswipe   per tier a Find project (area uploaded, tilelens's imagery as the custom tile server,
                     sent to processing) and a Validate project over the predicted footprints tilelens serves
              --project ID --organisation ORG_ID --region TEXT --project-number N
              [--tiers high,medium] [--no-find] [--validate model|fair:IMPORT_ID] [--sample SAMPLE_ID]
              [--group-size 120] [--verification-number 3] [--validate-group-size 25] [--team ID]
              [--additional-info-url URL] [--dry-run]
            credentials: MAPSWIPE_USERNAME + MAPSWIPE_PASSWORD, or MAPSWIPE_FIREBASE_TOKEN (never stored)
  publish tasking-manager   a draft with arbitrary tasks (clustered tiles carrying priority and confidence),
                     the high tier as priority areas, one annotation per task
              --project ID --organisation TM_ORG_ID [--mode clustered|squares] [--tiers high,medium,low]
              [--task-zoom Z] [--dry-run]        credentials: TASKING_MANAGER_TOKEN (never stored)
  publish resume     run a failed publication on from where it stopped (nothing made twice)
              --publication ID [--dry-run]
  publish status     a project's publications, or one with --publication ID [--poll: ask the tool]
  publish maproulette   a MapRoulette challenge: tasks as line-by-line GeoJSON and the priority rules
              --project ID --out DIR
            every publish command also takes --mapswipe-url / --tasking-manager-url (else the settings'
            environment variables) and --public-url (where the tools reach this server)
  fair-model  propose a sidecar for a fAIr model from its STAC item (model.onnx beside stac-item.json)
              --stac PATH [--model PATH] [--override JSON_FILE] [--write]
  fair-import  a fAIr prediction GeoJSON (polygons with confidence) as a per-tile signal and Validate objects
              --project ID --file PATH [--name TEXT]
`;

const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

function int(name: string, v: string | undefined, required = true): number | undefined {
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} ${v}: give a whole number`);
  return n;
}

function mapswipeCredentials(env: NodeJS.ProcessEnv): MapswipeCredentials | undefined {
  if (env.MAPSWIPE_FIREBASE_TOKEN) return { firebaseToken: env.MAPSWIPE_FIREBASE_TOKEN };
  if (env.MAPSWIPE_USERNAME && env.MAPSWIPE_PASSWORD) {
    return { username: env.MAPSWIPE_USERNAME, password: env.MAPSWIPE_PASSWORD };
  }
  return undefined;
}

function credentialsFor(target: string, env: NodeJS.ProcessEnv): Credentials | undefined {
  if (target === 'mapswipe') return mapswipeCredentials(env);
  return env.TASKING_MANAGER_TOKEN ? { token: env.TASKING_MANAGER_TOKEN } : undefined;
}

export async function publishCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v } = parseArgs({
    args: rest,
    options: {
      project: { type: 'string' },
      publication: { type: 'string' },
      organisation: { type: 'string' },
      region: { type: 'string' },
      'project-number': { type: 'string' },
      tiers: { type: 'string' },
      'no-find': { type: 'boolean' },
      validate: { type: 'string' },
      sample: { type: 'string' },
      'group-size': { type: 'string' },
      'verification-number': { type: 'string' },
      'validate-group-size': { type: 'string' },
      team: { type: 'string' },
      'additional-info-url': { type: 'string' },
      mode: { type: 'string' },
      'task-zoom': { type: 'string' },
      'dry-run': { type: 'boolean' },
      poll: { type: 'boolean' },
      out: { type: 'string' },
      'mapswipe-url': { type: 'string' },
      'tasking-manager-url': { type: 'string' },
      'public-url': { type: 'string' },
      db: { type: 'string' },
    },
    strict: true,
  });
  const settings = resolveSettings(
    {
      ...(v['mapswipe-url'] ? { 'mapswipe-url': v['mapswipe-url'] } : {}),
      ...(v['tasking-manager-url'] ? { 'tasking-manager-url': v['tasking-manager-url'] } : {}),
      ...(v['public-url'] ? { 'public-url': v['public-url'] } : {}),
    },
    env,
  );
  const publicUrl = settings.publicUrl ?? 'http://127.0.0.1:8700';
  const db = await openDatabase(resolve(v.db ?? env.TILELENS_DB ?? defaultDbPath));
  const ctx = { db, dataDir: env.TILELENS_DATA_DIR ?? dataDir };
  const pc: PublishContext = {
    ctx,
    urls: { mapswipe: settings.mapswipeUrl, taskingManager: settings.taskingManagerUrl },
    publicUrl,
    info: async (id) => await handoverInfo(ctx, await requireProject(ctx, id), publicUrl),
  };
  const dryRun = v['dry-run'] ?? false;
  try {
    switch (sub) {
      case 'mapswipe': {
        const projectId = int('project', v.project)!;
        const groups = {
          groupSize: int('group-size', v['group-size'], false) ?? 120,
          verificationNumber: int('verification-number', v['verification-number'], false) ?? 3,
        };
        const validateFrom = v.validate;
        const parsed = mapswipeRequestSchema.safeParse({
          organisation: v.organisation,
          region: v.region,
          projectNumber: int('project-number', v['project-number']),
          ...(v.team ? { team: v.team } : {}),
          ...(v['additional-info-url'] ? { additionalInfoUrl: v['additional-info-url'] } : {}),
          find: v['no-find'] ? false : { tiers: (v.tiers ?? 'high,medium').split(','), ...groups },
          validate: validateFrom
            ? {
                objects:
                  validateFrom === 'model'
                    ? 'model'
                    : { fairImport: Number(validateFrom.replace(/^fair:/, '')) },
                groupSize: int('validate-group-size', v['validate-group-size'], false) ?? 25,
                verificationNumber: groups.verificationNumber,
              }
            : false,
          ...(v.sample ? { sample: { sampleId: int('sample', v.sample), ...groups } } : {}),
        });
        if (!parsed.success) {
          throw new UsageError(
            parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '),
          );
        }
        const out = await publishToMapswipe(pc, projectId, parsed.data, {
          dryRun,
          credentials: dryRun ? undefined : mapswipeCredentials(env),
        });
        print(out.dryRun ? out.plan : out.publication);
        return 0;
      }
      case 'tasking-manager': {
        const projectId = int('project', v.project)!;
        const parsed = taskingManagerRequestSchema.safeParse({
          organisation: int('organisation', v.organisation),
          ...(v.mode ? { mode: v.mode } : {}),
          ...(v.tiers ? { tiers: v.tiers.split(',') } : {}),
          ...(v['task-zoom'] ? { taskZoom: int('task-zoom', v['task-zoom']) } : {}),
        });
        if (!parsed.success) {
          throw new UsageError(
            parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '),
          );
        }
        const out = await publishToTaskingManager(pc, projectId, parsed.data, {
          dryRun,
          credentials: dryRun
            ? undefined
            : (credentialsFor('tasking-manager', env) as { token: string } | undefined),
        });
        print(out.dryRun ? out.plan : out.publication);
        return 0;
      }
      case 'resume': {
        const id = int('publication', v.publication)!;
        const target = (await requirePublication(pc, id)).publication.target;
        const out = await resumePublication(pc, id, {
          dryRun,
          credentials: dryRun ? undefined : credentialsFor(target, env),
        });
        print(out.dryRun ? out.plan : out.publication);
        return 0;
      }
      case 'status': {
        if (v.publication) {
          const id = int('publication', v.publication)!;
          const record = await requirePublication(pc, id);
          if (v.poll) {
            const creds = credentialsFor(record.publication.target, env);
            if (!creds)
              throw new UsageError(
                `--poll signs in to ${record.publication.target}: set its credentials in the environment`,
              );
            print(await pollPublication(pc, id, creds));
          } else print(publicationView(record));
        } else {
          print({ publications: await projectPublications(pc, int('project', v.project)!) });
        }
        return 0;
      }
      case 'maproulette': {
        const projectId = int('project', v.project)!;
        if (!v.out) throw new UsageError('publish maproulette needs --out DIR');
        const info = await pc.info(projectId);
        const dir = resolve(v.out);
        mkdirSync(dir, { recursive: true });
        const summary: MaprouletteSummary = {
          tasks: 0,
          byTier: { high: 0, medium: 0, low: 0 },
          tiersDisagreeing: 0,
        };
        const tasks = join(dir, `project-${projectId}-maproulette-tasks.geojsonl`);
        let lines = '';
        for await (const line of maprouletteTaskLines(
          iterateScoredTiles(ctx, projectId, { orderBy: 'priority' }),
          info,
          {},
          summary,
        ))
          lines += line;
        writeFileSync(tasks, lines);
        const challenge = join(dir, `project-${projectId}-maproulette-challenge.json`);
        writeFileSync(challenge, `${JSON.stringify(maprouletteChallenge(info), null, 2)}\n`);
        print({ ...summary, out: [tasks, challenge] });
        return 0;
      }
      default:
        throw new UsageError(
          `publish ${sub ?? ''}: choose mapswipe, tasking-manager, resume, status or maproulette`,
        );
    }
  } finally {
    await db.close();
  }
}

export async function fairModelCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      stac: { type: 'string' },
      model: { type: 'string' },
      override: { type: 'string' },
      write: { type: 'boolean' },
    },
    strict: true,
  });
  if (!v.stac) throw new UsageError("fair-model needs --stac PATH (the model's stac-item.json)");
  const item = JSON.parse(readFileSync(resolve(v.stac), 'utf8')) as StacItem;
  const onnx = v.model ? resolve(v.model) : findFairOnnx(resolve(v.stac), item);
  const overrides = v.override
    ? (JSON.parse(readFileSync(resolve(v.override), 'utf8')) as Record<string, unknown>)
    : {};
  const proposal = await proposeFairSidecar(item, onnx, overrides);
  let written: string | null = null;
  if (v.write) {
    written = sidecarPath(onnx);
    writeFileSync(written, `${JSON.stringify(proposal.sidecar, null, 2)}\n`);
    // Opening the model checks the sidecar against the graph (sizes, output, layer).
    const model = await loadModel(onnx);
    await model.dispose();
  }
  print({ model: onnx, sidecar: proposal.sidecar, notes: proposal.notes, written });
  return 0;
}

export async function fairImportCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      project: { type: 'string' },
      file: { type: 'string' },
      name: { type: 'string' },
      db: { type: 'string' },
    },
    strict: true,
  });
  if (!v.file) throw new UsageError('fair-import needs --file PATH');
  const db = await openDatabase(resolve(v.db ?? env.TILELENS_DB ?? defaultDbPath));
  try {
    const ctx = { db, dataDir: env.TILELENS_DATA_DIR ?? dataDir };
    print(
      await importFairPredictions(ctx, int('project', v.project)!, readFileSync(resolve(v.file)), {
        name: v.name ?? v.file,
        maxBytes: resolveSettings({}, env).maxUploadBytes,
      }),
    );
  } finally {
    await db.close();
  }
  return 0;
}
