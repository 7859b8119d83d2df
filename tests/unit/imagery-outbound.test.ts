/**
 * Where imagery requests may go: every spelling of a local address refused, checked again after DNS and
 * on every redirect, with the address connected to being the address checked. Test servers listen on
 * 127.0.0.2 (standing in for a public tile server, allowed by the allow-list) and 127.0.0.1 (standing in
 * for the machine's own services, never allowed).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  addressKind,
  AllowList,
  AllowListError,
  OutboundPolicy,
  OutboundRefusedError,
  outboundGet,
  type Resolver,
} from '../../server/lib/imagery/outbound.ts';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import { ImageryError } from '../../server/lib/imagery/source.ts';
import type { XyzSource } from '../../server/lib/imagery/xyz-source.ts';

let tiles: Server;
let internal: Server;
let port: number;
let jpeg: Buffer;
const internalHits: string[] = [];
const tileHits: string[] = [];

function listen(server: Server, host: string, p = 0): Promise<number> {
  return new Promise((resolve) =>
    server.listen(p, host, () => resolve((server.address() as AddressInfo).port)),
  );
}

beforeAll(async () => {
  jpeg = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#3a7' } })
    .jpeg()
    .toBuffer();
  tiles = createServer((req, res: ServerResponse) => {
    tileHits.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    if (url.pathname.startsWith('/redirect') && to) return void res.writeHead(302, { location: to }).end();
    if (url.pathname.startsWith('/loop')) return void res.writeHead(302, { location: '/loop' }).end();
    // Every answer closes its connection, so every request resolves the name again.
    res.writeHead(200, { 'content-type': 'image/jpeg', connection: 'close' }).end(jpeg);
  });
  internal = createServer((req, res) => {
    internalHits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
  });
  // The same port on two loopback addresses: only the address tells them apart.
  port = await listen(tiles, '127.0.0.2');
  await listen(internal, '127.0.0.1', port);
});

afterAll(async () => {
  for (const s of [tiles, internal]) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

beforeEach(() => {
  internalHits.length = 0;
  tileHits.length = 0;
});

const allowTiles = (resolver?: Resolver) => new OutboundPolicy(AllowList.parse('127.0.0.2'), resolver);
const fixed =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('address kinds', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd00::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    // NAT64 and 6to4 reach the IPv4 address inside them.
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:a00:1::', 'private'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['2606:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
  ])('%s is %s', (address, kind) => {
    expect(addressKind(address)).toBe(kind);
  });
});

describe('URLs refused before any request', () => {
  const strict = new OutboundPolicy();
  it.each([
    ['http://127.0.0.1/{z}/{x}/{y}.png', 'loopback'],
    ['http://2130706433/{z}/{x}/{y}.png', 'loopback'],
    ['http://0x7f.1/{z}/{x}/{y}.png', 'loopback'],
    ['http://0177.0.0.1/{z}/{x}/{y}.png', 'loopback'],
    ['http://127.1/{z}/{x}/{y}.png', 'loopback'],
    ['http://[::1]/{z}/{x}/{y}.png', 'loopback'],
    ['http://[::ffff:127.0.0.1]/{z}/{x}/{y}.png', 'loopback'],
    ['http://0.0.0.0:8700/{z}/{x}/{y}.png', 'unspecified'],
    ['http://0/{z}/{x}/{y}.png', 'unspecified'],
    ['http://[::]/{z}/{x}/{y}.png', 'unspecified'],
    ['http://169.254.169.254/latest/{z}/{x}/{y}', 'link-local'],
    ['http://10.0.0.8/{z}/{x}/{y}.png', 'private'],
    ['http://192.168.0.1/{z}/{x}/{y}.png', 'private'],
    ['http://localhost:8700/{z}/{x}/{y}.png', 'names this machine'],
    ['http://tiles.localhost/{z}/{x}/{y}.png', 'names this machine'],
    ['http://LOCALHOST./{z}/{x}/{y}.png', 'names this machine'],
  ])('%s (%s)', async (url, why) => {
    const err = await createImagerySource({ kind: 'xyz', url }, { outbound: strict }).catch((e) => e);
    expect(err).toBeInstanceOf(ImageryError);
    expect(err.message).toContain(why);
    expect(err.message).toMatch(/imagery-allow-hosts/);
  });

  it('the allow-list opens exactly what it names', async () => {
    const policy = new OutboundPolicy(AllowList.parse('127.0.0.2, 10.0.0.0/8, tiles.lan, [::1]'));
    for (const url of ['http://127.0.0.2/', 'http://10.9.8.7/', 'http://[::1]/'])
      expect(() => policy.checkUrl(new URL(url))).not.toThrow();
    for (const url of ['http://127.0.0.1/', 'http://192.168.1.1/', 'http://localhost/'])
      expect(() => policy.checkUrl(new URL(url)), url).toThrow(OutboundRefusedError);
    expect(policy.allow.allows('tiles.lan', '192.168.1.5')).toBe(true);
    expect(policy.allow.allows('other.lan', '192.168.1.5')).toBe(false);
  });

  it('an allow-list entry that is none of name, address or range is refused', () => {
    expect(() => AllowList.parse('127.0.0.1, not a host!')).toThrow(AllowListError);
    expect(() => AllowList.parse('10.0.0.0/33')).toThrow(AllowListError);
    expect(AllowList.parse(' , ').empty).toBe(true);
  });
});

describe('requests, after DNS and on every redirect', () => {
  it('fetches from an allowed address', async () => {
    const res = await outboundGet(allowTiles(), `http://127.0.0.2:${port}/ok`, { maxBytes: 1 << 20 });
    expect(res.status).toBe(200);
    expect(Buffer.from(res.body).equals(jpeg)).toBe(true);
  });

  it('a name resolving to a refused address is refused, and nothing is connected to', async () => {
    const policy = allowTiles(fixed('127.0.0.1'));
    await expect(
      outboundGet(policy, `http://tiles.example.test:${port}/x`, { maxBytes: 1 << 20 }),
    ).rejects.toThrow(/tiles\.example\.test is a loopback address/);
    // One public answer among the addresses does not help: every address is checked.
    const mixed = allowTiles(fixed('127.0.0.2', '127.0.0.1'));
    await expect(
      outboundGet(mixed, `http://tiles.example.test:${port}/y`, { maxBytes: 1 << 20 }),
    ).rejects.toThrow(OutboundRefusedError);
    expect(internalHits).toEqual([]);
  });

  it('connects to the address that was checked: a name that rebinds to loopback cannot swap it', async () => {
    // Public first, loopback on every later lookup: the classic rebinding answer.
    let lookups = 0;
    const rebinding: Resolver = async () => [
      { address: lookups++ === 0 ? '127.0.0.2' : '127.0.0.1', family: 4 },
    ];
    const source = (await createImagerySource(
      { kind: 'xyz', url: `http://tiles.example.test:${port}/{z}/{x}/{y}.jpg`, retries: 0, timeoutMs: 2000 },
      { outbound: allowTiles(rebinding) },
    )) as XyzSource;
    const first = await source.getTile(3, 1, 1);
    const second = await source.getTile(3, 1, 2);
    expect(first.status).toBe('ok');
    expect(second.status).toBe('error');
    expect(second.status !== 'ok' && second.reason).toMatch(/tiles\.example\.test is a loopback address/);
    expect(lookups).toBe(2);
    expect(tileHits).toEqual(['/3/1/1.jpg']);
    expect(internalHits).toEqual([]);
  });

  it.each([
    ['loopback by address', (p: number) => `http://127.0.0.1:${p}/secret`],
    ['loopback by integer', (p: number) => `http://2130706433:${p}/secret`],
    ['loopback by name', (p: number) => `http://localhost:${p}/secret`],
    ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a file', () => 'file:///etc/passwd'],
  ])('a redirect to %s is refused', async (_what, target) => {
    const url = `http://127.0.0.2:${port}/redirect?to=${encodeURIComponent(target(port))}`;
    await expect(outboundGet(allowTiles(), url, { maxBytes: 1 << 20 })).rejects.toThrow(OutboundRefusedError);
    expect(internalHits).toEqual([]);
  });

  it('an allowed redirect is followed; a loop ends after the redirect limit', async () => {
    const ok = await outboundGet(
      allowTiles(),
      `http://127.0.0.2:${port}/redirect?to=${encodeURIComponent(`http://127.0.0.2:${port}/tile`)}`,
      { maxBytes: 1 << 20 },
    );
    expect(ok).toMatchObject({ status: 200, url: `http://127.0.0.2:${port}/tile` });
    const loop = await outboundGet(allowTiles(), `http://127.0.0.2:${port}/loop`, { maxBytes: 1 << 20 });
    expect(loop.status).toBe(508);
    expect(tileHits.filter((h) => h === '/loop')).toHaveLength(6);
  });

  it('headers go to the first origin only, not to where a redirect points', async () => {
    const seen: Array<string | undefined> = [];
    const other = createServer((req, res) => {
      seen.push(req.headers['x-api-key'] as string | undefined);
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    });
    const otherPort = await listen(other, '127.0.0.2');
    try {
      const target = `http://127.0.0.2:${otherPort}/tile`;
      await outboundGet(allowTiles(), `http://127.0.0.2:${port}/redirect?to=${encodeURIComponent(target)}`, {
        headers: { 'x-api-key': 'k-123' },
        maxBytes: 1 << 20,
      });
      await outboundGet(allowTiles(), target, { headers: { 'x-api-key': 'k-123' }, maxBytes: 1 << 20 });
      expect(seen).toEqual([undefined, 'k-123']);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
