/**
 * A stand-in for the HOT Tasking Manager's API on loopback, built from the public facts: `POST
 * /api/v2/projects/` makes a draft from `{projectName, organisation, areaOfInterest, tasks,
 * arbitraryTasks}` (with arbitraryTasks every feature of the area becomes one task, its properties kept;
 * otherwise the `tasks` grid is used), `PATCH /api/v2/projects/{id}/` sets priority areas (plain
 * Polygons), `POST /api/v2/projects/{id}/annotations/{type}/` stores one annotation per task (replacing
 * one of the same type), and every call needs `Authorization: Token <token>`.
 *
 * `failOn` makes the Nth call from now fail: `before` answers 502 without doing anything, `after` does the work and
 * then answers 502.
 */
import { Hono, type Context } from 'hono';
import { requestText, serveOnLoopback } from './loopback.ts';

export interface TmTask {
  taskId: number;
  geometry: { type: string; coordinates: unknown };
  properties: Record<string, unknown>;
  annotations: Record<string, { annotationSource: string; annotationMarkdown: string; properties: unknown }>;
}

export interface TmStandInProject {
  projectId: number;
  name: string;
  organisation: number;
  status: string;
  arbitraryTasks: boolean;
  tasks: TmTask[];
  priorityAreas: Array<{ type: string; coordinates: unknown }>;
  createdBy: string;
}

export interface TaskingManagerStandIn {
  url: string;
  projects: TmStandInProject[];
  calls: Array<{ method: string; path: string; status: number }>;
  received: string[];
  /** Fail the `call`-th request from now: `before` answers 502 doing nothing, `after` does the work, then 502. */
  failOn?: { call: number; mode: 'before' | 'after'; seen?: number };
  close(): Promise<void>;
}

type Geometry = { type?: string; coordinates?: unknown };

function isPolygonLike(g: Geometry | undefined): boolean {
  return !!g && (g.type === 'Polygon' || g.type === 'MultiPolygon') && Array.isArray(g.coordinates);
}

export async function startTaskingManagerStandIn(
  o: { tokens?: Record<string, string>; organisations?: number[] } = {},
): Promise<TaskingManagerStandIn> {
  const tokens = o.tokens ?? { 'tm-token-0123456789': 'manager' };
  const organisations = new Set(o.organisations ?? [7]);
  const projects: TmStandInProject[] = [];
  const calls: TaskingManagerStandIn['calls'] = [];
  const received: string[] = [];
  let nextId = 500;

  const app = new Hono();
  const user = (c: Context) => {
    const m = /^Token\s+(\S+)$/.exec(c.req.header('authorization') ?? '');
    return m ? tokens[m[1]] : undefined;
  };
  app.use('*', async (c, next) => {
    received.push(await requestText(c.req.raw, c.req.path));
    let failing: 'before' | 'after' | undefined;
    const f = standIn.failOn;
    if (f) {
      f.seen = (f.seen ?? 0) + 1;
      if (f.seen === f.call) failing = f.mode;
    }
    const call = { method: c.req.method, path: c.req.path, status: 0 };
    calls.push(call);
    if (failing === 'before') {
      call.status = 502;
      return c.text('Bad Gateway', 502);
    }
    if (!user(c)) {
      call.status = 401;
      return c.json({ error: { message: 'Token is required', sub_code: 'TOKEN_REQUIRED' } }, 401);
    }
    await next();
    call.status = c.res.status;
    if (failing === 'after') {
      call.status = 502;
      c.res = new Response('Bad Gateway', { status: 502 });
    }
  });

  const project = (c: Context) => {
    const id = Number(c.req.param('id'));
    return projects.find((p) => p.projectId === id && p.createdBy === user(c));
  };

  app.post('/api/v2/projects/', async (c) => {
    const b = (await c.req.json()) as {
      projectName?: unknown;
      organisation?: unknown;
      areaOfInterest?: {
        type?: string;
        features?: Array<{ geometry?: Geometry; properties?: Record<string, unknown> }>;
      };
      tasks?: {
        type?: string;
        features?: Array<{ geometry?: Geometry; properties?: Record<string, unknown> }>;
      };
      arbitraryTasks?: unknown;
    };
    const bad = (message: string) => c.json({ Error: message, SubCode: 'InvalidData' }, 400);
    if (typeof b.projectName !== 'string' || !b.projectName.trim()) return bad('projectName is required');
    if (typeof b.organisation !== 'number' || !organisations.has(b.organisation))
      return bad('organisation not found');
    if (typeof b.arbitraryTasks !== 'boolean') return bad('arbitraryTasks must be a boolean');
    const aoi = b.areaOfInterest;
    if (aoi?.type !== 'FeatureCollection' || !aoi.features?.length)
      return bad('areaOfInterest must be a FeatureCollection');
    if (!aoi.features.every((f) => isPolygonLike(f.geometry)))
      return bad('areaOfInterest features must be polygons');
    let source = aoi.features;
    if (!b.arbitraryTasks) {
      if (b.tasks?.type !== 'FeatureCollection' || !b.tasks.features?.length)
        return bad('tasks must be a FeatureCollection');
      if (!b.tasks.features.every((f) => f.geometry?.type === 'MultiPolygon'))
        return bad('task geometries must be MultiPolygons');
      if (
        !b.tasks.features.every((f) => ['x', 'y', 'zoom', 'isSquare'].every((k) => k in (f.properties ?? {})))
      ) {
        return bad('grid tasks need x, y, zoom and isSquare');
      }
      source = b.tasks.features;
    }
    const p: TmStandInProject = {
      projectId: nextId++,
      name: b.projectName,
      organisation: b.organisation,
      status: 'DRAFT',
      arbitraryTasks: b.arbitraryTasks,
      tasks: source.map((f, i) => ({
        taskId: i + 1,
        geometry: f.geometry as TmTask['geometry'],
        properties: f.properties ?? {},
        annotations: {},
      })),
      priorityAreas: [],
      createdBy: user(c)!,
    };
    projects.push(p);
    return c.json({ projectId: p.projectId }, 201);
  });

  app.get('/api/v2/projects/', (c) => {
    const text = c.req.query('textSearch') ?? '';
    const mine = c.req.query('createdByMe') === 'true';
    const statuses = (c.req.query('projectStatuses') ?? 'PUBLISHED').split(',');
    const results = projects
      .filter(
        (p) => (!mine || p.createdBy === user(c)) && statuses.includes(p.status) && p.name.includes(text),
      )
      .map((p) => ({ projectId: p.projectId, name: p.name, status: p.status }));
    return c.json({ results, pagination: { total: results.length } });
  });

  app.get('/api/v2/projects/:id/', (c) => {
    const p = project(c);
    if (!p) return c.json({ Error: 'Project Not Found', SubCode: 'NotFound' }, 404);
    return c.json({ projectId: p.projectId, name: p.name, status: p.status, tasks: p.tasks.length });
  });

  app.patch('/api/v2/projects/:id/', async (c) => {
    const p = project(c);
    if (!p) return c.json({ Error: 'Project Not Found', SubCode: 'NotFound' }, 404);
    const b = (await c.req.json()) as { priorityAreas?: Geometry[] };
    if (b.priorityAreas !== undefined) {
      if (!Array.isArray(b.priorityAreas) || !b.priorityAreas.every((g) => g?.type === 'Polygon')) {
        return c.json({ Error: 'priorityAreas must be plain Polygons', SubCode: 'InvalidData' }, 400);
      }
      p.priorityAreas = b.priorityAreas as TmStandInProject['priorityAreas'];
    }
    return c.json({ Status: 'Updated' });
  });

  app.post('/api/v2/projects/:id/annotations/:type/', async (c) => {
    const p = project(c);
    if (!p) return c.json({ Error: 'Project Not Found', SubCode: 'NotFound' }, 404);
    const type = c.req.param('type');
    const b = (await c.req.json()) as {
      tasks?: Array<{
        taskId?: number;
        annotationSource?: string;
        annotationMarkdown?: string;
        properties?: unknown;
      }>;
    };
    if (!Array.isArray(b.tasks) || b.tasks.length === 0) {
      return c.json({ Error: 'tasks must be a non-empty list', SubCode: 'InvalidData' }, 400);
    }
    for (const t of b.tasks) {
      const task = p.tasks.find((x) => x.taskId === t.taskId);
      if (!task) return c.json({ Error: `task ${t.taskId} not found`, SubCode: 'NotFound' }, 404);
      task.annotations[type] = {
        annotationSource: String(t.annotationSource ?? ''),
        annotationMarkdown: String(t.annotationMarkdown ?? ''),
        properties: t.properties ?? {},
      };
    }
    return c.json({ Status: 'Annotations stored' });
  });

  const server = await serveOnLoopback(app.fetch);
  const standIn: TaskingManagerStandIn = {
    url: server.base,
    projects,
    calls,
    received,
    close: server.close,
  };
  return standIn;
}
