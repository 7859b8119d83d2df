/** Scoring jobs: progress to poll (summed over the workers that score it), and a cancel the manager can press. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { cancelJob, getJob, jobProgress } from '../lib/scoring/jobs.ts';
import { notFound } from '../middleware/errors.ts';
import { validate } from '../middleware/validate.ts';
import { idParam } from '../middleware/params.ts';

export function jobRoutes(ctx: ScoringContext): Hono {
  return new Hono()
    .get('/:id', validate('param', idParam), async (c) => {
      const id = c.req.valid('param').id;
      const job = await getJob(ctx, id);
      if (!job) throw notFound(`job ${id}`, 'POST /api/projects/:id/score starts one and answers its id');
      return c.json({ ...job, progress: await jobProgress(ctx, job) }, 200, { 'Cache-Control': 'no-store' });
    })
    .post('/:id/cancel', validate('param', idParam), async (c) => {
      const id = c.req.valid('param').id;
      if (!(await getJob(ctx, id))) throw notFound(`job ${id}`);
      return c.json(await cancelJob(ctx, id));
    });
}
