/**
 * A session with MapSwipe's backend: Django's CSRF cookie, then a login (the `login` mutation, or a
 * Firebase ID token exchanged at `/firebase-auth/`) that leaves a session cookie, then GraphQL requests
 * carrying both cookies and the `X-CSRFToken` header. File uploads follow the GraphQL multipart request
 * spec (`operations`, `map`, then the files).
 *
 * Credentials live in this object's memory for the length of one publishing and nowhere else: they are
 * not stored, not logged, and no error message repeats them.
 */
import { PublishError } from '../errors.ts';
import { joinUrl, outbound, type FetchLike } from '../http.ts';
import { LOGIN } from './documents.ts';

export type MapswipeCredentials = { username: string; password: string } | { firebaseToken: string };

const TOOL = "MapSwipe's backend";

export interface Upload {
  /** Where the file goes in the variables, e.g. `variables.data.file`. */
  path: string;
  filename: string;
  contentType: string;
  bytes: Uint8Array;
}

export interface MutationPayload<R> {
  __typename?: string;
  ok?: boolean;
  errors?: unknown;
  result?: R | null;
  messages?: Array<{ kind: string; field?: string | null; message: string; code?: string | null }>;
}

export class MapswipeClient {
  private readonly cookies = new Map<string, string>();
  private readonly graphqlUrl: string;

  constructor(
    readonly baseUrl: string,
    private readonly fetchImpl: FetchLike = fetch,
    private readonly timeoutMs?: number,
  ) {
    this.graphqlUrl = joinUrl(baseUrl, '/graphql/');
  }

  /** CSRF cookie first (Django refuses any POST without it), then the login that makes the session. */
  async signIn(credentials: MapswipeCredentials): Promise<void> {
    await this.send('GET', this.graphqlUrl);
    if (!this.cookies.get('csrftoken')) {
      throw new PublishError(
        'remote-refused',
        `${TOOL} at ${new URL(this.baseUrl).origin} set no CSRF cookie; is this MapSwipe's backend (its /graphql/ endpoint)?`,
      );
    }
    if ('firebaseToken' in credentials) {
      const res = await this.send('POST', joinUrl(this.baseUrl, '/firebase-auth/'), {
        'Content-Type': 'application/json',
        body: JSON.stringify({ token: credentials.firebaseToken }),
      });
      if (!res.ok) throw authError(`the Firebase token was refused (HTTP ${res.status})`);
    } else {
      try {
        await this.request(LOGIN, { username: credentials.username, password: credentials.password });
      } catch (err) {
        if (err instanceof PublishError && err.code === 'remote-refused')
          throw authError('the login was refused');
        throw err;
      }
    }
    if (!this.cookies.get('sessionid')) throw authError('the login gave no session');
  }

  /** One GraphQL operation; GraphQL errors throw, the data comes back. */
  async request<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown>,
    upload?: Upload,
  ): Promise<T> {
    let res: Response;
    if (upload) {
      // GraphQL multipart request: the variable holds null, `map` says which file fills it.
      const form = new FormData();
      form.append('operations', JSON.stringify({ query, variables: nullAt(variables, upload.path) }));
      form.append('map', JSON.stringify({ 0: [upload.path] }));
      form.append(
        '0',
        new Blob([upload.bytes as Uint8Array<ArrayBuffer>], { type: upload.contentType }),
        upload.filename,
      );
      res = await this.send('POST', this.graphqlUrl, { body: form });
    } else {
      res = await this.send('POST', this.graphqlUrl, {
        'Content-Type': 'application/json',
        body: JSON.stringify({ query, variables }),
      });
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw authError(`HTTP ${res.status}${text.includes('CSRF') ? ' (CSRF check failed)' : ''}`);
    }
    let body: { data?: T; errors?: Array<{ message: string }> };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new PublishError(
        res.status >= 500 ? 'remote-unreachable' : 'remote-refused',
        `${TOOL} answered HTTP ${res.status} with no GraphQL response`,
        res.status >= 500 ? 'the backend failed; publishing again resumes where this stopped' : undefined,
      );
    }
    if (body.errors?.length) {
      throw new PublishError(
        'remote-refused',
        `${TOOL} refused ${operationName(query)}: ${body.errors.map((e) => e.message).join('; ')}`,
      );
    }
    if (!res.ok || !body.data) {
      throw new PublishError(
        'remote-unreachable',
        `${TOOL} answered HTTP ${res.status} to ${operationName(query)}`,
      );
    }
    return body.data;
  }

  private async send(
    method: 'GET' | 'POST',
    url: string,
    o: { 'Content-Type'?: string; body?: string | FormData } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      // Django checks the Referer of HTTPS POSTs against the host it serves.
      Referer: joinUrl(this.baseUrl, '/'),
      Origin: new URL(this.baseUrl).origin,
    };
    if (o['Content-Type']) headers['Content-Type'] = o['Content-Type'];
    const csrf = this.cookies.get('csrftoken');
    if (csrf) headers['X-CSRFToken'] = csrf;
    if (this.cookies.size > 0) {
      headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const res = await outbound(this.fetchImpl, TOOL, url, { method, headers, body: o.body }, this.timeoutMs);
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    return res;
  }
}

function authError(what: string): PublishError {
  return new PublishError(
    'remote-auth',
    `${TOOL} did not accept the credentials: ${what}`,
    'check the user name and password (or the Firebase token) and that the account may create projects',
  );
}

function operationName(query: string): string {
  return /(?:mutation|query)\s+(\w+)/.exec(query)?.[1] ?? 'the request';
}

/** A copy of `variables` with the value at `variables.a.b` (the upload's path) set to null. */
function nullAt(variables: Record<string, unknown>, path: string): Record<string, unknown> {
  const keys = path.split('.');
  if (keys[0] !== 'variables') throw new Error(`upload path ${path} must start with "variables."`);
  const copy = structuredClone(variables);
  let node = copy as Record<string, unknown>;
  for (const k of keys.slice(1, -1)) node = node[k] as Record<string, unknown>;
  node[keys[keys.length - 1]] = null;
  return copy;
}

/** The result of a mutation, or a PublishError with the backend's own messages. */
export function mutationResult<R>(payload: MutationPayload<R> | undefined, what: string): R {
  if (!payload) throw new PublishError('remote-refused', `${TOOL} gave no answer to ${what}`);
  if (payload.messages) {
    const text = payload.messages.map((m) => `${m.field ? `${m.field}: ` : ''}${m.message}`).join('; ');
    const permission = payload.messages.some((m) => m.kind === 'PERMISSION');
    throw new PublishError(
      permission ? 'remote-auth' : 'remote-refused',
      `${TOOL} refused ${what}: ${text}`,
      permission ? 'the account may not do this; ask a MapSwipe admin for manager rights' : undefined,
    );
  }
  if (!payload.ok || !payload.result) {
    throw new PublishError(
      'remote-refused',
      `${TOOL} refused ${what}: ${JSON.stringify(payload.errors ?? 'no result')}`,
    );
  }
  return payload.result;
}
