/**
 * Requests to imagery servers, only where the manager meant them to go.
 *
 * A URL template is data a client sends; without a guard it can point the server at itself, at the
 * machine's metadata service or at anything on the private network, and the tile route would hand back
 * what it answered. So every address is checked after DNS resolution and on every redirect: loopback,
 * private, link-local, unspecified, multicast and reserved addresses are refused unless the allow-list
 * (the `imagery-allow-hosts` setting) names the host or a range holding the address.
 *
 * The address that was checked is the address connected to: the check runs inside the socket's own
 * `lookup`, so a name that resolves to a public address for the check and to 127.0.0.1 a moment later
 * (DNS rebinding) cannot swap it. Literal addresses skip DNS and are checked before connecting; the URL
 * parser has already turned `2130706433`, `0x7f.1` and `0177.0.0.1` into `127.0.0.1`.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { TilelensError } from '../errors.ts';

export type AddressKind =
  'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

/** Ranges by kind; IPv4 rules also match IPv4-mapped IPv6 (`::ffff:127.0.0.1`), as BlockList does. */
const RANGES: Array<[Exclude<AddressKind, 'public'>, string, number, 'ipv4' | 'ipv6']> = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['loopback', '::1', 128, 'ipv6'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['private', '100.64.0.0', 10, 'ipv4'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['multicast', 'ff00::', 8, 'ipv6'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['reserved', '192.0.2.0', 24, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
  ['reserved', '198.51.100.0', 24, 'ipv4'],
  ['reserved', '203.0.113.0', 24, 'ipv4'],
  // IPv4-compatible (deprecated), documentation, discard-only and site-local IPv6.
  ['reserved', '::', 96, 'ipv6'],
  ['reserved', '2001:db8::', 32, 'ipv6'],
  ['reserved', '100::', 64, 'ipv6'],
  ['reserved', 'fec0::', 10, 'ipv6'],
];

const KIND_LISTS = new Map<Exclude<AddressKind, 'public'>, BlockList>();
for (const [kind, net, prefix, family] of RANGES) {
  let list = KIND_LISTS.get(kind);
  if (!list) KIND_LISTS.set(kind, (list = new BlockList()));
  list.addSubnet(net, prefix, family);
}
// Checked in this order: the loopback ::1 is inside the reserved ::/96 too, and is better called loopback.
const KIND_ORDER: Array<Exclude<AddressKind, 'public'>> = [
  'loopback',
  'unspecified',
  'private',
  'link-local',
  'multicast',
  'reserved',
];

/** IPv4 embedded in NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses: they reach that IPv4 address. */
function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  if (!groups) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0))
    return v4(groups[6], groups[7]);
  if (groups[0] === 0x2002) return v4(groups[1], groups[2]);
  return undefined;
}

function expandIpv6(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/** What kind of address `address` (an IP literal, no brackets) is. */
export function addressKind(address: string): AddressKind {
  const family = isIP(address);
  if (family === 0) throw new TypeError(`${address} is not an IP address`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const kind of KIND_ORDER) if (KIND_LISTS.get(kind)!.check(address, type)) return kind;
  const inner = family === 6 ? embeddedIpv4(address) : undefined;
  return inner ? addressKind(inner) : 'public';
}

/** Hosts and ranges imagery may be fetched from although their addresses are not public. */
export class AllowList {
  private readonly names = new Set<string>();
  private readonly ranges = new BlockList();
  readonly entries: string[] = [];

  /** `text`: comma-separated host names, IP addresses and CIDR ranges (`127.0.0.1, 10.0.0.0/8, tiles.lan`). */
  static parse(text: string | undefined): AllowList {
    const list = new AllowList();
    for (const raw of (text ?? '').split(',')) {
      const entry = raw
        .trim()
        .toLowerCase()
        .replace(/^\[(.*)\]$/, '$1');
      if (entry === '') continue;
      list.add(entry);
    }
    return list;
  }

  private add(entry: string): void {
    const cidr = /^([^/]+)\/(\d{1,3})$/.exec(entry);
    if (cidr) {
      const family = isIP(cidr[1]);
      const prefix = Number(cidr[2]);
      if (family === 0 || prefix > (family === 4 ? 32 : 128)) throw new AllowListError(entry);
      this.ranges.addSubnet(cidr[1], prefix, family === 4 ? 'ipv4' : 'ipv6');
    } else if (isIP(entry)) {
      this.ranges.addAddress(entry, isIP(entry) === 4 ? 'ipv4' : 'ipv6');
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
      this.names.add(entry.replace(/\.$/, ''));
    } else {
      throw new AllowListError(entry);
    }
    this.entries.push(entry);
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  allows(hostname: string, address: string): boolean {
    if (this.names.has(hostname.toLowerCase().replace(/\.$/, ''))) return true;
    return this.ranges.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
}

/** A setting's mistake: the server's to fix before it starts. */
export class AllowListError extends TilelensError {
  override name = 'AllowListError';
  constructor(entry: string) {
    super(
      'allow-list-invalid',
      `"${entry}" in the imagery allow-list is neither a host name, an IP address nor a CIDR range (10.0.0.0/8)`,
    );
  }
}

/** Why a request was not sent; says which setting would let it through. */
export class OutboundRefusedError extends TilelensError {
  override name = 'OutboundRefusedError';
  constructor(
    readonly hostname: string,
    readonly kind: AddressKind | 'local-name' | 'scheme',
  ) {
    super(
      'outbound-refused',
      kind === 'scheme'
        ? `imagery may only be fetched over http or https`
        : kind === 'local-name'
          ? `imagery host ${hostname} names this machine; tilelens fetches imagery only from public addresses unless the server's imagery-allow-hosts setting lists the host`
          : `imagery host ${hostname} is a ${kind} address; tilelens fetches imagery only from public addresses unless the server's imagery-allow-hosts setting lists it`,
      { status: 400 },
    );
  }
}

/**
 * Where requests may go, and the connections that go there. Sockets are pooled per policy, never shared
 * with another policy's: a socket opened under a laxer allow-list must not carry a stricter one's request.
 */
export type Resolver = (hostname: string, family: number) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname, family) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { family, all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

export class OutboundPolicy {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  readonly lookup: LookupFunction;

  constructor(
    readonly allow: AllowList = new AllowList(),
    /** Name resolution; the system's (dns.lookup) unless a test stands in for DNS. */
    readonly resolver: Resolver = systemResolver,
  ) {
    this.lookup = guardedLookup(this);
    this.httpAgent = new http.Agent({ keepAlive: true, lookup: this.lookup } as http.AgentOptions);
    this.httpsAgent = new https.Agent({ keepAlive: true, lookup: this.lookup } as https.AgentOptions);
  }

  static fromSetting(text: string | undefined): OutboundPolicy {
    return new OutboundPolicy(AllowList.parse(text));
  }

  /** Throws OutboundRefusedError unless `address` (resolved from `hostname`) may be reached. */
  check(hostname: string, address: string): void {
    if (this.allow.allows(hostname, address)) return;
    const kind = addressKind(address);
    if (kind !== 'public') throw new OutboundRefusedError(hostname === address ? address : hostname, kind);
  }

  /**
   * What can be checked without DNS: the scheme, a literal address and names that always mean this
   * machine. Registration calls it to refuse a URL at once; every request checks again after resolving.
   */
  checkUrl(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new OutboundRefusedError(url.hostname, 'scheme');
    const host = bareHost(url);
    if (isIP(host)) return this.check(host, host);
    const name = host.toLowerCase().replace(/\.$/, '');
    if ((name === 'localhost' || name.endsWith('.localhost')) && !this.allow.allows(name, '::'))
      throw new OutboundRefusedError(host, 'local-name');
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The policy's resolver, then its check on every address returned; what is returned is what is connected to. */
function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return ((hostname: string, options: unknown, callback: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (
      err: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as {
      family?: number;
      all?: boolean;
    };
    const fail = (err: unknown) => cb(err as NodeJS.ErrnoException, opts.all ? [] : '', 0);
    policy.resolver(hostname, opts.family ?? 0).then((addresses) => {
      try {
        if (addresses.length === 0)
          throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
        // Every address, not only the first: a name that also resolves to 127.0.0.1 is refused outright.
        for (const a of addresses) policy.check(hostname, a.address);
      } catch (refused) {
        return fail(refused);
      }
      if (opts.all) cb(null, addresses);
      else cb(null, addresses[0].address, addresses[0].family);
    }, fail);
  }) as LookupFunction;
}

export interface OutboundResponse {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** The final URL, after redirects. */
  url: string;
  body: Uint8Array;
  /** True when the body went past `maxBytes` and was cut off there. */
  tooLarge: boolean;
}

export interface OutboundRequest {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  maxBytes: number;
  /** Redirects followed; each is checked like the first request. */
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 5;

/**
 * GET `url` under `policy`, following redirects itself so that every hop is checked. Headers the manager
 * configured (often an API key) go to the first origin only, as a browser drops them on a cross-origin
 * redirect. Rejects with OutboundRefusedError, the signal's reason, or a network error.
 */
export async function outboundGet(
  policy: OutboundPolicy,
  url: string,
  request: OutboundRequest,
): Promise<OutboundResponse> {
  const origin = new URL(url).origin;
  let current = new URL(url);
  const limit = request.maxRedirects ?? MAX_REDIRECTS;
  for (let hop = 0; ; hop++) {
    policy.checkUrl(current);
    const headers = current.origin === origin ? request.headers : undefined;
    const res = await getOnce(policy, current, headers, request);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.status) || !location) return res;
    if (hop >= limit) {
      return { ...res, status: 508, statusText: `more than ${limit} redirects` };
    }
    current = new URL(location, current);
  }
}

function getOnce(
  policy: OutboundPolicy,
  url: URL,
  headers: Record<string, string> | undefined,
  request: OutboundRequest,
): Promise<OutboundResponse> {
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method: 'GET',
      headers,
      agent: secure ? policy.httpsAgent : policy.httpAgent,
      lookup: policy.lookup,
      signal: request.signal,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      const declared = Number(res.headers['content-length']);
      const finish = () => {
        const body = new Uint8Array(Buffer.concat(chunks, Math.min(size, request.maxBytes)));
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: res.headers,
          url: url.href,
          body,
          tooLarge,
        });
      };
      if (declared > request.maxBytes) {
        tooLarge = true;
        res.destroy();
        return finish();
      }
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxBytes) {
          tooLarge = true;
          res.destroy();
          finish();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (!tooLarge) finish();
      });
      res.on('error', (err) => {
        if (!tooLarge) reject(err);
      });
      // A body that stops arriving: the socket closes without 'end' (the server went away mid-body).
      res.on('close', () => {
        if (!res.complete && !tooLarge) reject(new TruncatedBodyError(size, declared));
      });
    });
    req.end();
  });
}

/** The connection closed before the body the server announced had arrived. */
export class TruncatedBodyError extends TilelensError {
  override name = 'TruncatedBodyError';
  constructor(received: number, declared: number) {
    super(
      'truncated-body',
      Number.isFinite(declared)
        ? `the connection closed after ${received} of ${declared} bytes`
        : `the connection closed after ${received} bytes, before the body ended`,
      { status: 502 },
    );
  }
}
