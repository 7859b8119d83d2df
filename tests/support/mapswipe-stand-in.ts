/**
 * A stand-in for MapSwipe's backend on loopback, built from the public facts (tests/support/
 * mapswipe-schema.graphql): Django's CSRF cookie and header, a session from `login` or `/firebase-auth/`,
 * every GraphQL document validated against the schema, uploads read per the GraphQL multipart request
 * spec, and MapSwipe's own rules checked (area polygons, group size, verification number, zoom, status
 * order, Find area per zoom, Validate objects fetched from their URL and counted).
 *
 * `failOn` makes the Nth GraphQL POST (of one operation, when named) fail: `before` answers 502 without
 * doing anything, `after` does the work and then answers 502 — the lost answer a client must recover
 * from without making a copy.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { area as turfArea } from '@turf/turf';
import { buildSchema, execute, GraphQLError, parse, validate, type DocumentNode } from 'graphql';
import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { requestText, serveOnLoopback } from './loopback.ts';

const SCHEMA = buildSchema(readFileSync(new URL('./mapswipe-schema.graphql', import.meta.url), 'utf8'));
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

export interface StandInProject {
  id: string;
  clientId: string;
  projectType: string;
  topic: string;
  region: string;
  projectNumber: number;
  requestingOrganization: string;
  projectInstruction: string;
  lookFor: string | null;
  description: string | null;
  status: string;
  processingStatus: string | null;
  statusMessage: string | null;
  groupSize: number;
  verificationNumber: number;
  specifics: Record<string, Record<string, unknown>> | null;
  owner: string;
  /** After processing a Validate project: its tasks (one per object) and the first objects' task ids in order. */
  tasks?: number;
  firstTaskIds?: string[];
}

export interface StandInAsset {
  id: string;
  clientId: string;
  projectId: string;
  inputType: string;
  fileSize: number;
  content: string;
  filename: string;
  contentType: string;
}

export interface StandInCall {
  operation: string;
  variables: unknown;
  multipart: boolean;
  status: number;
}

export interface MapswipeStandIn {
  url: string;
  projects: StandInProject[];
  assets: StandInAsset[];
  calls: StandInCall[];
  /** Every request's raw headers and body text (for checking what left tilelens), uploads included. */
  received: string[];
  /**
   * Fail the `call`-th GraphQL POST from now (of `operation` only, when named): `before` answers 502
   * without doing anything, `after` does the work and answers 502.
   */
  failOn?: { call: number; operation?: string; mode: 'before' | 'after'; seen?: number };
  /** Waits until every project sent to processing has been processed. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface MapswipeStandInOptions {
  users?: Record<string, string>;
  firebaseTokens?: Record<string, string>;
  organisations?: string[];
}

class Refusal extends Error {
  constructor(
    readonly field: string | null,
    message: string,
    readonly kind: 'VALIDATION' | 'PERMISSION' = 'VALIDATION',
  ) {
    super(message);
  }
}

function refused(err: Refusal) {
  return {
    __typename: 'OperationInfo',
    messages: [{ kind: err.kind, field: err.field, message: err.message, code: null }],
  };
}

function polygonsOf(text: string): { polygons: number; areaKm2: number; error?: string } {
  let fc: { type?: string; features?: Array<{ geometry?: { type?: string; coordinates?: unknown } }> };
  try {
    fc = JSON.parse(text);
  } catch {
    return { polygons: 0, areaKm2: 0, error: 'the file is not JSON' };
  }
  if (fc.type !== 'FeatureCollection' || !Array.isArray(fc.features)) {
    return { polygons: 0, areaKm2: 0, error: 'the file is not a FeatureCollection' };
  }
  let polygons = 0;
  let areaKm2 = 0;
  for (const f of fc.features) {
    const t = f.geometry?.type;
    if (t === 'Polygon') polygons++;
    else if (t === 'MultiPolygon') polygons += (f.geometry!.coordinates as unknown[]).length;
    else return { polygons, areaKm2, error: `a feature is ${t}, not Polygon or MultiPolygon` };
    areaKm2 += turfArea(f as never) / 1e6;
  }
  return { polygons, areaKm2 };
}

export async function startMapswipeStandIn(o: MapswipeStandInOptions = {}): Promise<MapswipeStandIn> {
  const users = o.users ?? { manager: 'correct horse battery staple' };
  const firebase = o.firebaseTokens ?? {};
  const organisations = new Set(o.organisations ?? ['1']);
  const sessions = new Map<string, string>();
  const projects: StandInProject[] = [];
  const assets: StandInAsset[] = [];
  const calls: StandInCall[] = [];
  const received: string[] = [];
  const processing: Promise<void>[] = [];
  let nextId = 100;

  const newSession = (c: Context, user: string) => {
    const sid = randomBytes(16).toString('hex');
    sessions.set(sid, user);
    setCookie(c, 'sessionid', sid, { httpOnly: true, path: '/' });
    return sid;
  };
  const csrfOk = (c: Context) => {
    const cookie = getCookie(c, 'csrftoken');
    return !!cookie && c.req.header('x-csrftoken') === cookie;
  };
  const ensureCsrfCookie = (c: Context) => {
    if (!getCookie(c, 'csrftoken')) setCookie(c, 'csrftoken', randomBytes(16).toString('hex'), { path: '/' });
  };

  /** What MapSwipe does after READY_TO_PROCESS: build tasks, or fail with a reason. */
  async function process(p: StandInProject): Promise<void> {
    p.processingStatus = 'VALIDATING_GEOMETRY';
    try {
      if (p.projectType === 'FIND') {
        const spec = p.specifics!.find;
        const asset = assets.find((a) => a.id === spec.aoiGeometry)!;
        const { areaKm2 } = polygonsOf(asset.content);
        const zoom = spec.zoomLevel as number;
        const max = 5 * 4 ** (23 - zoom);
        if (areaKm2 >= max)
          throw new Error(`area ${areaKm2.toFixed(1)} km² is over ${max} km² at zoom ${zoom}`);
      } else if (p.projectType === 'VALIDATE') {
        const source = (p.specifics!.validate.objectSource ?? {}) as { objectGeojsonUrl?: string };
        const res = await fetch(source.objectGeojsonUrl!);
        if (!res.ok) throw new Error(`the objects URL answered HTTP ${res.status}`);
        const fc = (await res.json()) as {
          type?: string;
          features?: Array<{ geometry?: { type?: string }; properties?: { task_id?: string } }>;
        };
        if (fc.type !== 'FeatureCollection' || !Array.isArray(fc.features))
          throw new Error('the objects URL is not a FeatureCollection');
        const n = fc.features.length;
        if (n < 1 || n > 100_000)
          throw new Error(`the objects URL holds ${n} objects; Validate takes 1–100,000`);
        const bad = fc.features.find(
          (f) => f.geometry?.type !== 'Polygon' && f.geometry?.type !== 'MultiPolygon',
        );
        if (bad) throw new Error(`an object is ${bad.geometry?.type}, not Polygon or MultiPolygon`);
        p.tasks = n;
        p.firstTaskIds = fc.features.slice(0, 50).map((f) => f.properties?.task_id ?? '');
      }
      p.status = 'PROCESSED';
      p.processingStatus = 'COMPLETED';
    } catch (err) {
      p.status = 'PROCESSING_FAILED';
      p.statusMessage = (err as Error).message;
    }
  }

  const root = (user: string | undefined) => {
    const authed = () => {
      if (!user) throw new GraphQLError('User is not authenticated.');
      return user;
    };
    const owned = (pk: string) => {
      const me = authed();
      const p = projects.find((x) => x.id === pk);
      if (!p || p.owner !== me) throw new Refusal('pk', `no project ${pk}`);
      return p;
    };
    const projectResult = (p: StandInProject) => ({
      __typename: 'ProjectTypeMutationResponseType',
      ok: true,
      errors: null,
      result: p,
    });
    return {
      me: () => (user ? { id: user, displayName: user } : null),
      project: ({ id }: { id: string }) => {
        const me = authed();
        const p = projects.find((x) => x.id === id && x.owner === me);
        if (!p) throw new GraphQLError(`Project matching query does not exist.`);
        return p;
      },
      projects: ({
        filters,
        pagination,
      }: {
        filters?: { topic?: string; region?: string };
        pagination?: { offset: number; limit?: number };
      }) => {
        const me = authed();
        const all = projects.filter(
          (p) =>
            p.owner === me &&
            (!filters?.topic || p.topic === filters.topic) &&
            (!filters?.region || p.region === filters.region),
        );
        const offset = pagination?.offset ?? 0;
        return { totalCount: all.length, results: all.slice(offset, offset + (pagination?.limit ?? 100)) };
      },
      projectAssets: ({
        filters,
        pagination,
      }: {
        filters?: { projectId?: { exact?: string } };
        pagination?: { offset: number; limit?: number };
      }) => {
        authed();
        const all = assets.filter(
          (a) => !filters?.projectId?.exact || a.projectId === filters.projectId.exact,
        );
        const offset = pagination?.offset ?? 0;
        return { totalCount: all.length, results: all.slice(offset, offset + (pagination?.limit ?? 100)) };
      },
      createProject: ({ data }: { data: Record<string, unknown> & { clientId: string } }) => {
        const me = authed();
        try {
          if (!ULID.test(data.clientId)) throw new Refusal('clientId', 'clientId must be a ULID');
          if (projects.some((p) => p.clientId === data.clientId))
            throw new Refusal('clientId', 'a project with this clientId exists');
          if (!organisations.has(String(data.requestingOrganization)))
            throw new Refusal('requestingOrganization', 'no such organisation');
          if ((data.projectNumber as number) < 1) throw new Refusal('projectNumber', 'must be positive');
          const p: StandInProject = {
            id: String(nextId++),
            clientId: data.clientId,
            projectType: data.projectType as string,
            topic: data.topic as string,
            region: data.region as string,
            projectNumber: data.projectNumber as number,
            requestingOrganization: String(data.requestingOrganization),
            projectInstruction: data.projectInstruction as string,
            lookFor: (data.lookFor as string) ?? null,
            description: (data.description as string) ?? null,
            status: 'DRAFT',
            processingStatus: null,
            statusMessage: null,
            groupSize: 120,
            verificationNumber: 3,
            specifics: null,
            owner: me,
          };
          projects.push(p);
          return projectResult(p);
        } catch (err) {
          if (err instanceof Refusal) return refused(err);
          throw err;
        }
      },
      createProjectAsset: async ({
        data,
      }: {
        data: {
          clientId: string;
          project: string;
          inputType: string;
          file?: File | null;
          externalUrl?: string | null;
        };
      }) => {
        try {
          const p = owned(data.project);
          if (!ULID.test(data.clientId)) throw new Refusal('clientId', 'clientId must be a ULID');
          if (assets.some((a) => a.clientId === data.clientId))
            throw new Refusal('clientId', 'an asset with this clientId exists');
          if (!data.file && !data.externalUrl) throw new Refusal('file', 'give a file or an externalUrl');
          if (!(data.file instanceof File)) throw new Refusal('file', 'the file did not arrive as an upload');
          const content = await data.file.text();
          if (data.inputType === 'AOI_GEOMETRY') {
            const { polygons, error } = polygonsOf(content);
            if (error) throw new Refusal('file', error);
            if (polygons < 1 || polygons > 20)
              throw new Refusal('file', `the area holds ${polygons} polygons; 1–20 allowed`);
          }
          const a: StandInAsset = {
            id: String(nextId++),
            clientId: data.clientId,
            projectId: p.id,
            inputType: data.inputType,
            fileSize: data.file.size,
            content,
            filename: data.file.name,
            contentType: data.file.type,
          };
          assets.push(a);
          return { __typename: 'ProjectAssetTypeMutationResponseType', ok: true, errors: null, result: a };
        } catch (err) {
          if (err instanceof Refusal) return refused(err);
          throw err;
        }
      },
      updateProject: ({ pk, data }: { pk: string; data: Record<string, unknown> & { clientId: string } }) => {
        try {
          const p = owned(pk);
          if (data.clientId !== p.clientId)
            throw new Refusal('clientId', 'clientId does not match the project');
          if (p.status !== 'DRAFT') throw new Refusal(null, `a ${p.status} project cannot be changed`);
          const g = data.groupSize as number | undefined;
          if (g !== undefined && g !== null && (g < 5 || g > 250))
            throw new Refusal('groupSize', 'group size must be 5–250');
          const v = data.verificationNumber as number | undefined;
          if (v !== undefined && v !== null && (v < 3 || v > 10_000))
            throw new Refusal('verificationNumber', 'verification number must be 3–10000');
          const specifics = data.projectTypeSpecifics as Record<string, Record<string, unknown>> | undefined;
          if (specifics) {
            const [field] = Object.keys(specifics);
            const expected = p.projectType
              .toLowerCase()
              .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
            if (field !== expected)
              throw new Refusal(
                'projectTypeSpecifics',
                `a ${p.projectType} project takes ${expected} specifics`,
              );
            const s = specifics[field];
            const server = s.tileServerProperty as { name: string; custom?: { url?: string } | null };
            if (
              server.name === 'CUSTOM' &&
              !/\{z\}.*\{x\}.*\{y\}|\{quad_?key\}/.test(server.custom?.url ?? '')
            ) {
              throw new Refusal('tileServerProperty', 'a custom tile server needs a url with {z}/{x}/{y}');
            }
            if ('zoomLevel' in s && ((s.zoomLevel as number) < 14 || (s.zoomLevel as number) > 22)) {
              throw new Refusal('zoomLevel', 'zoom level must be 14–22');
            }
            if ('aoiGeometry' in s && s.aoiGeometry !== null && field !== 'validate') {
              const a = assets.find(
                (x) => x.id === s.aoiGeometry && x.projectId === p.id && x.inputType === 'AOI_GEOMETRY',
              );
              if (!a) throw new Refusal('aoiGeometry', 'no area asset of this project has that id');
            }
            if (field === 'validate') {
              const src = s.objectSource as { sourceType: string; objectGeojsonUrl?: string | null };
              if (
                src.sourceType === 'OBJECT_GEOJSON_URL' &&
                !/^https?:\/\//.test(src.objectGeojsonUrl ?? '')
              ) {
                throw new Refusal('objectGeojsonUrl', 'an http(s) objectGeojsonUrl is needed');
              }
            }
            p.specifics = specifics;
          }
          if (g) p.groupSize = g;
          if (v) p.verificationNumber = v;
          if (data.lookFor) p.lookFor = data.lookFor as string;
          return projectResult(p);
        } catch (err) {
          if (err instanceof Refusal) return refused(err);
          throw err;
        }
      },
      updateProjectStatus: ({ pk, data }: { pk: string; data: { clientId: string; status: string } }) => {
        try {
          const p = owned(pk);
          if (data.clientId !== p.clientId)
            throw new Refusal('clientId', 'clientId does not match the project');
          if (data.status !== 'READY_TO_PROCESS')
            throw new Refusal('status', `only READY_TO_PROCESS is asked for here`);
          if (p.status !== 'DRAFT')
            throw new Refusal('status', `a ${p.status} project cannot go back to READY_TO_PROCESS`);
          if (!p.specifics) throw new Refusal('status', 'the project has no project type specifics yet');
          p.status = 'READY_TO_PROCESS';
          p.processingStatus = 'PREPARING';
          // Processed later, as MapSwipe's workers do: the answer still says READY_TO_PROCESS.
          processing.push(new Promise((r) => setTimeout(r, 20)).then(() => process(p)));
          return projectResult(p);
        } catch (err) {
          if (err instanceof Refusal) return refused(err);
          throw err;
        }
      },
      login: (
        { username, password }: { username: string; password: string },
        ctx: { c: Context; set: (u: string) => void },
      ) => {
        if (users[username] === undefined || users[username] !== password)
          throw new GraphQLError('Invalid credentials');
        ctx.set(username);
        newSession(ctx.c, username);
        return { id: username, displayName: username };
      },
      logout: () => true,
    };
  };

  async function readOperation(
    c: Context,
  ): Promise<{ query: string; variables: Record<string, unknown>; multipart: boolean }> {
    const type = c.req.header('content-type') ?? '';
    if (type.startsWith('multipart/form-data')) {
      // GraphQL multipart request spec: `operations` (files as null), `map` (file field → variable paths), files.
      const form = await c.req.formData();
      const operations = JSON.parse(String(form.get('operations'))) as {
        query: string;
        variables: Record<string, unknown>;
      };
      const map = JSON.parse(String(form.get('map'))) as Record<string, string[]>;
      for (const [field, paths] of Object.entries(map)) {
        const file = form.get(field);
        if (!(file instanceof File))
          throw new GraphQLError(`multipart field ${field} named in map holds no file`);
        for (const path of paths) {
          const keys = path.split('.');
          if (keys[0] !== 'variables') throw new GraphQLError(`map path ${path} must start with variables.`);
          let node = operations.variables as Record<string, unknown>;
          for (const k of keys.slice(1, -1)) node = node[k] as Record<string, unknown>;
          if (node[keys[keys.length - 1]] !== null)
            throw new GraphQLError(`map path ${path} is not null in operations`);
          node[keys[keys.length - 1]] = file;
        }
      }
      return { ...operations, multipart: true };
    }
    const body = (await c.req.json()) as { query: string; variables?: Record<string, unknown> };
    return { query: body.query, variables: body.variables ?? {}, multipart: false };
  }

  const app = new Hono();
  app.use('*', async (c, next) => {
    received.push(await requestText(c.req.raw, c.req.path));
    await next();
  });
  app.get('/graphql/', (c) => {
    ensureCsrfCookie(c);
    return c.text('GraphQL endpoint: POST queries here', 400);
  });
  app.post('/firebase-auth/', async (c) => {
    if (!csrfOk(c)) return c.text('CSRF verification failed', 403);
    const { token } = (await c.req.json()) as { token?: string };
    const user = token ? firebase[token] : undefined;
    if (!user) return c.json({ error: 'invalid token' }, 401);
    newSession(c, user);
    return c.json({ ok: true });
  });
  app.post('/graphql/', async (c) => {
    if (!csrfOk(c)) return c.text('CSRF verification failed. Request aborted.', 403);
    let op: Awaited<ReturnType<typeof readOperation>>;
    try {
      op = await readOperation(c);
    } catch (err) {
      return c.json({ errors: [{ message: (err as Error).message }] }, 400);
    }
    const record: StandInCall = {
      operation: /(?:mutation|query)\s+(\w+)/.exec(op.query)?.[1] ?? '?',
      variables: JSON.parse(
        JSON.stringify(op.variables, (_, v) => (v instanceof File ? `<file ${v.name}>` : v)),
      ),
      multipart: op.multipart,
      status: 0,
    };
    calls.push(record);
    let failing: 'before' | 'after' | undefined;
    const f = standIn.failOn;
    if (f && (!f.operation || f.operation === record.operation)) {
      f.seen = (f.seen ?? 0) + 1;
      if (f.seen === f.call) failing = f.mode;
    }
    if (failing === 'before') {
      record.status = 502;
      return c.text('Bad Gateway', 502);
    }
    let document: DocumentNode;
    try {
      document = parse(op.query);
    } catch (err) {
      record.status = 400;
      return c.json({ errors: [{ message: (err as Error).message }] }, 400);
    }
    const invalid = validate(SCHEMA, document);
    if (invalid.length > 0) {
      record.status = 400;
      return c.json({ errors: invalid.map((e) => ({ message: e.message })) }, 400);
    }
    const sid = getCookie(c, 'sessionid');
    let user = sid ? sessions.get(sid) : undefined;
    const result = await execute({
      schema: SCHEMA,
      document,
      rootValue: root(user),
      variableValues: op.variables,
      contextValue: { c, set: (u: string) => (user = u) },
    });
    if (failing === 'after') {
      record.status = 502;
      return c.text('Bad Gateway', 502);
    }
    record.status = 200;
    return c.json(result);
  });

  const server = await serveOnLoopback(app.fetch);
  const standIn: MapswipeStandIn = {
    url: server.base,
    projects,
    assets,
    calls,
    received,
    async settled() {
      await Promise.all(processing);
    },
    close: server.close,
  };
  return standIn;
}
