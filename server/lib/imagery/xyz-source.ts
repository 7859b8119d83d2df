/**
 * Tiles from an XYZ / TMS / Bing-quadkey tile server, fetched with a cap on requests in flight,
 * a per-request timeout, retries with backoff on transient failures, and an optional disk cache.
 *
 * What a server answers is checked, not trusted: many answer an error page or a placeholder with
 * status 200, which would otherwise be scored as if it were imagery, and a tile cut short still starts
 * like a JPEG. Every tile is decoded to its last pixel before it is cached or handed on. Requests go
 * only where the outbound policy allows (server/lib/imagery/outbound.ts).
 */
import { tileBounds, tileToQuadkey, type BBox } from '../geo/tiles.ts';
import { imageProblem } from './decode.ts';
import { OutboundPolicy, OutboundRefusedError, outboundGet, type OutboundResponse } from './outbound.ts';
import { retry, Semaphore } from './retry.ts';
import {
  DEFAULT_HOST_CONCURRENCY,
  describeLeadingBytes,
  ImageryError,
  invalidTile,
  isValidTile,
  sniffImageType,
  throwIfAborted,
  type ImagerySource,
  type RequestPacer,
  type TileFetch,
  type XyzSpec,
} from './source.ts';
import { TileCache } from './tile-cache.ts';

export const XYZ_DEFAULTS = {
  concurrency: DEFAULT_HOST_CONCURRENCY,
  retries: 3,
  timeoutMs: 15_000,
  retryBaseMs: 250,
  retryMaxMs: 10_000,
  subdomains: ['a', 'b', 'c'],
  minZoom: 0,
  maxZoom: 22,
  /** A 256-px tile is rarely over 200 KB; anything past this is not a tile. */
  maxBodyBytes: 16 * 1024 * 1024,
} as const;

const PLACEHOLDER = /\{([^}]*)\}/g;
const KNOWN = new Set(['z', 'x', 'y', '-y', 'quadkey', 's']);

/**
 * Checks a URL template and returns it: http(s) only (a URL must never make us read a local
 * file), only known placeholders, and enough of them to address a tile.
 */
export function parseUrlTemplate(template: string): string {
  const found = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!KNOWN.has(m[1])) {
      throw new ImageryError(
        `URL template ${template} has an unknown placeholder {${m[1]}}; use {z} {x} {y}, {-y} (TMS), {quadkey} (Bing) or {s} (subdomain)`,
      );
    }
    found.add(m[1]);
  }
  const xyz = found.has('z') && found.has('x') && (found.has('y') || found.has('-y'));
  if (!xyz && !found.has('quadkey')) {
    throw new ImageryError(
      `URL template ${template} does not address a tile; it needs {z}, {x} and {y} (or {-y} for TMS), or {quadkey}`,
    );
  }
  let url: URL;
  try {
    url = new URL(template.replace(PLACEHOLDER, (_, name: string) => (name === 's' ? 'a' : '0')));
  } catch {
    throw new ImageryError(
      `URL template ${template} is not a valid URL; give an absolute http(s) URL such as https://tile.example.org/{z}/{x}/{y}.png`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ImageryError(
      `URL template ${template} uses ${url.protocol}; only http and https tile servers are allowed (serve local tiles as a PMTiles archive)`,
    );
  }
  return template;
}

/**
 * The URL of one tile. The subdomain is a function of the tile, not a rotation, so the same tile
 * always has the same URL and the cache finds it again.
 */
export function expandUrlTemplate(
  template: string,
  z: number,
  x: number,
  y: number,
  subdomains: readonly string[] = XYZ_DEFAULTS.subdomains,
): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    switch (name) {
      case 'z':
        return String(z);
      case 'x':
        return String(x);
      case 'y':
        return String(y);
      case '-y':
        return String(2 ** z - 1 - y);
      case 'quadkey':
        return tileToQuadkey(z, x, y);
      case 's':
        return subdomains[(x + y) % subdomains.length];
      default:
        return `{${name}}`;
    }
  });
}

/** What one HTTP attempt came to, and whether another attempt could change it. */
interface Attempt {
  fetch: TileFetch;
  retryable: boolean;
}

export interface XyzStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  retries: number;
  cacheHits: number;
  /** Cached tiles that no longer decoded, dropped and fetched again. */
  cacheRejected: number;
}

export interface XyzOptions {
  /** Where requests may go; the default refuses every address that is not public. */
  outbound?: OutboundPolicy;
  /** Requests in flight to this source's host when the spec does not say (`spec.concurrency`). */
  concurrency?: number;
  /** Injectable so that tests can make backoff deterministic. */
  random?: () => number;
  /** Takes a token of this source's host before every request, retries included (the host's rate limit). */
  pacer?: RequestPacer;
}

/** One policy for sources opened without one: nothing but public addresses. */
let strictPolicy: OutboundPolicy | undefined;
const defaultPolicy = () => (strictPolicy ??= new OutboundPolicy());

export class XyzSource implements ImagerySource {
  readonly kind = 'xyz' as const;
  readonly id: string;
  readonly attribution?: string;
  readonly bounds?: BBox;
  readonly minZoom: number;
  readonly maxZoom: number;
  readonly stats: XyzStats = { requests: 0, retries: 0, cacheHits: 0, cacheRejected: 0 };
  private readonly template: string;
  private readonly host: string;
  private readonly slots: Semaphore;
  private readonly outbound: OutboundPolicy;
  private readonly random: () => number;
  private readonly pacer: RequestPacer | undefined;

  constructor(
    private readonly spec: XyzSpec,
    private readonly cache: TileCache | undefined,
    options: XyzOptions = {},
  ) {
    this.template = parseUrlTemplate(spec.url);
    this.outbound = options.outbound ?? defaultPolicy();
    this.random = options.random ?? Math.random;
    this.pacer = options.pacer;
    const first = new URL(expandUrlTemplate(this.template, 0, 0, 0, spec.subdomains));
    this.host = first.host;
    try {
      // Refused at once when the template itself names a local address; names are checked per request.
      this.outbound.checkUrl(first);
    } catch (err) {
      if (err instanceof OutboundRefusedError) throw new ImageryError(err.message);
      throw err;
    }
    this.id = spec.id ?? `xyz:${this.host}`;
    this.attribution = spec.attribution;
    this.bounds = spec.bounds as BBox | undefined;
    this.minZoom = spec.minZoom ?? XYZ_DEFAULTS.minZoom;
    this.maxZoom = spec.maxZoom ?? XYZ_DEFAULTS.maxZoom;
    if (this.minZoom > this.maxZoom) {
      throw new ImageryError(
        `XYZ source ${this.id} has minZoom ${this.minZoom} above maxZoom ${this.maxZoom}; swap them`,
      );
    }
    this.slots = new Semaphore(spec.concurrency ?? options.concurrency ?? XYZ_DEFAULTS.concurrency);
  }

  urlFor(z: number, x: number, y: number): string {
    return expandUrlTemplate(this.template, z, x, y, this.spec.subdomains);
  }

  async getTile(z: number, x: number, y: number, signal?: AbortSignal): Promise<TileFetch> {
    if (!isValidTile(z, x, y)) return invalidTile(z, x, y);
    throwIfAborted(signal);
    if (z < this.minZoom || z > this.maxZoom) {
      return {
        status: 'missing',
        reason: `zoom ${z} is outside ${this.id}'s zoom range ${this.minZoom}..${this.maxZoom}`,
      };
    }
    if (this.bounds && !intersects(this.bounds, tileBounds(z, x, y))) {
      return { status: 'missing', reason: `tile ${z}/${x}/${y} lies outside ${this.id}'s bounds` };
    }
    const url = this.urlFor(z, x, y);
    const cached = await this.cachedTile(url);
    if (cached) return cached;
    const { value, attempts } = await retry(
      () => this.slots.run(() => this.fetchOnce(url, z, x, y, signal), signal),
      (a) => a.retryable,
      {
        retries: this.spec.retries ?? XYZ_DEFAULTS.retries,
        baseMs: this.spec.retryBaseMs ?? XYZ_DEFAULTS.retryBaseMs,
        maxMs: XYZ_DEFAULTS.retryMaxMs,
        random: this.random,
        signal,
        onRetry: () => this.stats.retries++,
      },
    );
    const result = value.fetch;
    if (result.status === 'ok') {
      // Only a tile that decoded to its last pixel reaches the cache (fetchOnce checked it).
      await this.cache?.put(url, result.bytes);
      return { ...result, attempts };
    }
    if (value.retryable && attempts > 1)
      return { ...result, attempts, reason: `${result.reason} (gave up after ${attempts} attempts)` };
    return { ...result, attempts };
  }

  async close(): Promise<void> {
    // Nothing held open: connections belong to the outbound policy's agents, and the cache is files.
  }

  /** A cached tile that still decodes; one that does not (a cache written before tiles were checked) is dropped. */
  private async cachedTile(url: string): Promise<TileFetch | undefined> {
    const cached = await this.cache?.get(url);
    if (!cached) return undefined;
    const type = sniffImageType(cached);
    if (type && (await imageProblem(cached)) === undefined) {
      this.stats.cacheHits++;
      return { status: 'ok', bytes: cached, contentType: type, attempts: 0 };
    }
    this.stats.cacheRejected++;
    await this.cache?.delete(url);
    return undefined;
  }

  private async fetchOnce(
    url: string,
    z: number,
    x: number,
    y: number,
    signal?: AbortSignal,
  ): Promise<Attempt> {
    throwIfAborted(signal);
    // Taken inside the request's slot and before its timeout starts: a request waiting for the host's token is
    // not late, and no more are granted and not yet sent than there are slots.
    await this.pacer?.take(this.host, 1, signal);
    const timeoutMs = this.spec.timeoutMs ?? XYZ_DEFAULTS.timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    const tile = `tile ${z}/${x}/${y}`;
    this.stats.requests++;
    try {
      // The body is read under the same timeout: a server may send headers quickly and stall.
      const res = await outboundGet(this.outbound, url, {
        headers: this.spec.headers,
        signal: combined,
        maxBytes: XYZ_DEFAULTS.maxBodyBytes,
      });
      if (res.tooLarge) {
        return {
          retryable: false,
          fetch: {
            status: 'undecodable',
            reason: `${this.host} answered more than ${XYZ_DEFAULTS.maxBodyBytes} bytes for ${tile}; that is not a map tile`,
          },
        };
      }
      return await classify(res, `${this.host} for ${tile}`);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.signal.aborted) {
        return {
          retryable: true,
          fetch: { status: 'error', reason: `${this.host} did not answer ${tile} within ${timeoutMs} ms` },
        };
      }
      if (err instanceof OutboundRefusedError) {
        return { retryable: false, fetch: { status: 'error', reason: `${tile}: ${err.message}` } };
      }
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      return {
        retryable: true,
        fetch: { status: 'error', reason: `network error fetching ${tile} from ${this.host}: ${cause}` },
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Words for a content type a person recognises; never the body itself, which is the remote server's to say. */
function answerKind(declared: string): string {
  if (declared === 'text/html' || declared === 'application/xhtml+xml') return 'an HTML page';
  if (declared === 'application/json' || declared.endsWith('+json')) return 'JSON';
  if (declared === 'text/xml' || declared === 'application/xml' || declared.endsWith('+xml')) return 'XML';
  if (declared.startsWith('text/')) return 'text';
  return declared;
}

/**
 * What an answer is worth. Anything that is not a whole image (an error page with status 200, a rate
 * limit notice, bytes cut short) is transient as far as we can tell, so it is retried like a 503.
 */
async function classify(res: OutboundResponse, where: string): Promise<Attempt> {
  const status = res.status;
  const statusText = res.statusText;
  if (status === 404 || status === 410 || status === 204) {
    return {
      retryable: false,
      fetch: { status: 'missing', reason: `${where}: ${status} ${statusText}`.trim() },
    };
  }
  if (status === 408 || status === 429 || status >= 500) {
    return {
      retryable: true,
      fetch: { status: 'error', reason: `${where}: ${status} ${statusText}`.trim() },
    };
  }
  if (status < 200 || status >= 300) {
    return {
      retryable: false,
      fetch: {
        status: 'error',
        reason: `${where}: ${status} ${statusText}; check the URL template and the headers (an API key?)`,
      },
    };
  }
  const body = res.body;
  const declared = String(res.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  // Object stores often label tiles application/octet-stream; the bytes decide in that case.
  const mayBeImage =
    declared === '' || declared.startsWith('image/') || declared === 'application/octet-stream';
  if (!mayBeImage) {
    return {
      retryable: true,
      fetch: {
        status: 'undecodable',
        reason: `${where}: the server answered ${answerKind(declared)} (${body.length} bytes) instead of an image`,
      },
    };
  }
  const sniffed = sniffImageType(body);
  if (!sniffed) {
    return {
      retryable: true,
      fetch: {
        status: 'undecodable',
        reason: `${where}: bytes are not JPEG, PNG or WebP (${describeLeadingBytes(body)}, labelled ${declared || 'without a content type'})`,
      },
    };
  }
  const problem = await imageProblem(body);
  if (problem) {
    return {
      retryable: true,
      fetch: {
        status: 'undecodable',
        reason: `${where}: the ${sniffed.slice(6).toUpperCase()} answered (${body.length} bytes) is damaged or cut short: ${problem}`,
      },
    };
  }
  return { retryable: false, fetch: { status: 'ok', bytes: body, contentType: sniffed } };
}

function intersects(a: BBox, b: BBox): boolean {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

export async function createXyzSource(spec: XyzSpec, options: XyzOptions = {}): Promise<XyzSource> {
  // Checked before the cache folder is made, so a refused source leaves nothing behind.
  const probe = new XyzSource(spec, undefined, options);
  if (!spec.cacheDir) return probe;
  return new XyzSource(spec, await TileCache.open(spec.cacheDir, { maxBytes: spec.cacheMaxBytes }), options);
}
