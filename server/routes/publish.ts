/**
 * Publishing to volunteer tools, thin over server/lib/publish/publish.ts. Every route here changes
 * something remote or asks for credentials, so all but the reads need the manager token. Credentials
 * travel in the body of one request and go no further than the call they are for.
 *
 *   POST /api/projects/:id/publish/mapswipe          {organisation, region, projectNumber, find?, validate?,
 *                                                     sample?, dryRun?, credentials?}  → plan | publication
 *   POST /api/projects/:id/publish/tasking-manager   {organisation, mode?, tiers?, dryRun?, credentials?}
 *   GET  /api/projects/:id/publications              every publication of the project, newest first
 *   GET  /api/publications/:pub                      one publication: ids, stages, remote statuses
 *   POST /api/publications/:pub/resume               {dryRun?, credentials?}  run a failed one on
 *   POST /api/publications/:pub/poll                 {credentials}  read the remote statuses back
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
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
  type PublishContext,
  type PublishOutcome,
} from '../lib/publish/publish.ts';
import { handoverInfo } from '../lib/deliverables/project-exports.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { publicBaseUrl } from '../lib/scoring/export-info.ts';
import { requireProject } from '../lib/scoring/projects.ts';
import { decimalId, idParam } from '../middleware/params.ts';
import { validate } from '../middleware/validate.ts';
import type { Settings } from '../settings.ts';

const pubParam = z.object({ pub: decimalId });

const mapswipeCredentials = z.union([
  z.object({ username: z.string().min(1), password: z.string().min(1) }).strict(),
  z.object({ firebaseToken: z.string().min(1) }).strict(),
]);
const tmCredentials = z.object({ token: z.string().min(1) }).strict();
const anyCredentials = z.union([mapswipeCredentials, tmCredentials]);

const control = { dryRun: z.boolean().default(false) };

const mapswipeBody = z.intersection(
  mapswipeRequestSchema,
  z.object({ ...control, credentials: mapswipeCredentials.optional() }),
);
const tmBody = taskingManagerRequestSchema.extend({ ...control, credentials: tmCredentials.optional() });
const resumeBody = z.object({ ...control, credentials: anyCredentials.optional() });
const pollBody = z.object({ credentials: anyCredentials });

function answer(c: Context, outcome: PublishOutcome) {
  return outcome.dryRun ? c.json(outcome.plan) : c.json(outcome.publication, 201);
}

export function publishRoutes(ctx: ScoringContext, settings: Settings) {
  const context = (c: Context): PublishContext => {
    const base = publicBaseUrl(settings.publicUrl, new URL(c.req.url).origin);
    return {
      ctx,
      urls: { mapswipe: settings.mapswipeUrl, taskingManager: settings.taskingManagerUrl },
      publicUrl: base,
      // What the downloads say, the published projects say: imagery, tiers and what the figures rest on.
      info: async (projectId) => await handoverInfo(ctx, await requireProject(ctx, projectId), base),
    };
  };
  const projects = new Hono()
    .post(
      '/:id/publish/mapswipe',
      validate('param', idParam),
      validate(
        'json',
        mapswipeBody,
        'send { organisation, region, projectNumber, find?, validate?, sample?, dryRun?, credentials? }',
      ),
      async (c) => {
        const { dryRun, credentials, ...request } = c.req.valid('json');
        return answer(
          c,
          await publishToMapswipe(context(c), c.req.valid('param').id, request, { dryRun, credentials }),
        );
      },
    )
    .post(
      '/:id/publish/tasking-manager',
      validate('param', idParam),
      validate('json', tmBody, 'send { organisation, mode?, tiers?, dryRun?, credentials: { token } }'),
      async (c) => {
        const { dryRun, credentials, ...request } = c.req.valid('json');
        return answer(
          c,
          await publishToTaskingManager(context(c), c.req.valid('param').id, request, {
            dryRun,
            credentials,
          }),
        );
      },
    )
    .get('/:id/publications', validate('param', idParam), async (c) =>
      c.json({ publications: await projectPublications(context(c), c.req.valid('param').id) }),
    );
  const publications = new Hono()
    .get('/:pub', validate('param', pubParam), async (c) =>
      c.json(publicationView(await requirePublication(context(c), c.req.valid('param').pub))),
    )
    .post('/:pub/resume', validate('param', pubParam), validate('json', resumeBody), async (c) => {
      const { dryRun, credentials } = c.req.valid('json');
      return answer(
        c,
        await resumePublication(context(c), c.req.valid('param').pub, { dryRun, credentials }),
      );
    })
    .post('/:pub/poll', validate('param', pubParam), validate('json', pollBody), async (c) =>
      c.json(await pollPublication(context(c), c.req.valid('param').pub, c.req.valid('json').credentials)),
    );
  return { projects, publications };
}
