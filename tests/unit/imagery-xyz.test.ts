import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import { ImageryError, type TileFetch } from '../../server/lib/imagery/source.ts';
import {
  createXyzSource,
  expandUrlTemplate,
  parseUrlTemplate,
  XyzSource,
} from '../../server/lib/imagery/xyz-source.ts';
import { TileCache } from '../../server/lib/imagery/tile-cache.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';

/** The test server listens on loopback, which only an allow-list opens. */
const loopback = OutboundPolicy.fromSetting('127.0.0.1');

let server: Server;
let base: string;
let jpeg: Buffer;
let png: Buffer;
let noisy: Buffer;
let cacheRoot: string;
const hits = new Map<string, number>();
let inFlight = 0;
let maxInFlight = 0;

function answer(path: string, res: import('node:http').ServerResponse): void {
  const n = hits.get(path) ?? 0;
  const kind = path.split('/')[1];
  switch (kind) {
    case 'ok':
    case 'tms':
    case 'bing':
    case 'sub':
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
      return;
    case 'octet':
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(png);
      return;
    case 'missing':
      res.writeHead(404).end('not found');
      return;
    case 'forbidden':
      res.writeHead(403).end('no key');
      return;
    case 'flaky':
      if (n === 1) res.writeHead(500).end('oops');
      else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
      return;
    case 'down':
      res.writeHead(503).end('maintenance');
      return;
    case 'html':
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(
          '<!DOCTYPE html>\n<html><body><h1>Rate limit exceeded</h1><p>Please get an API key at https://example.org/keys to continue using this service.</p></body></html>',
        );
      return;
    case 'garbage':
      res
        .writeHead(200, { 'content-type': 'image/jpeg' })
        .end(Buffer.from([0x00, 0x13, 0x37, 0x42, 0x99, 0x01, 0x02, 0x03, 0x04]));
      return;
    case 'cut':
      // A JPEG cut short: it still starts FF D8 FF. The second answer is whole.
      if (n === 1)
        res.writeHead(200, { 'content-type': 'image/jpeg' }).end(noisy.subarray(0, noisy.length >> 1));
      else res.writeHead(200, { 'content-type': 'image/jpeg' }).end(noisy);
      return;
    case 'slow':
      setTimeout(() => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg), 400).unref();
      return;
    case 'busy':
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
      }, 30);
      return;
    default:
      res.writeHead(400).end();
  }
}

beforeAll(async () => {
  jpeg = await sharp({
    create: { width: 256, height: 256, channels: 3, background: { r: 10, g: 120, b: 30 } },
  })
    .jpeg()
    .toBuffer();
  png = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 200, g: 0, b: 0 } } })
    .png()
    .toBuffer();
  noisy = await sharp(Buffer.from(Array.from({ length: 256 * 256 * 3 }, (_, i) => (i * 7919) % 251)), {
    raw: { width: 256, height: 256, channels: 3 },
  })
    .jpeg()
    .toBuffer();
  cacheRoot = await mkdtemp(join(tmpdir(), 'tilelens-xyz-'));
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    answer(path, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(cacheRoot, { recursive: true, force: true });
});

beforeEach(() => hits.clear());

const fast = { timeoutMs: 100, retries: 2, retryBaseMs: 1 };

async function source(path: string, extra: Record<string, unknown> = {}): Promise<XyzSource> {
  return (await createImagerySource(
    { kind: 'xyz', url: `${base}/${path}`, ...fast, ...extra },
    { outbound: loopback },
  )) as XyzSource;
}

function expectStatus(r: TileFetch, status: TileFetch['status']): void {
  expect(r.status, r.status === 'ok' ? 'ok' : r.reason).toBe(status);
}

describe('URL templates', () => {
  it('expands z/x/y, TMS {-y}, Bing {quadkey} and a stable {s}', () => {
    expect(expandUrlTemplate('https://t/{z}/{x}/{y}.png', 18, 155668, 139360)).toBe(
      'https://t/18/155668/139360.png',
    );
    expect(expandUrlTemplate('https://t/{z}/{x}/{-y}.png', 3, 1, 2)).toBe('https://t/3/1/5.png');
    expect(expandUrlTemplate('https://t/a{quadkey}.jpeg', 3, 3, 5)).toBe('https://t/a213.jpeg');
    const s = ['a', 'b'];
    expect(expandUrlTemplate('https://{s}.t/{z}/{x}/{y}', 1, 0, 1, s)).toBe('https://b.t/1/0/1');
    expect(expandUrlTemplate('https://{s}.t/{z}/{x}/{y}', 1, 0, 1, s)).toBe(
      expandUrlTemplate('https://{s}.t/{z}/{x}/{y}', 1, 0, 1, s),
    );
  });

  it('rejects non-http schemes, unknown placeholders and templates that address no tile', () => {
    expect(() => parseUrlTemplate('file:///etc/{z}/{x}/{y}')).toThrow(/only http and https/);
    expect(() => parseUrlTemplate('ftp://h/{z}/{x}/{y}')).toThrow(ImageryError);
    expect(() => parseUrlTemplate('https://h/{z}/{x}/{y}?k={key}')).toThrow(/unknown placeholder \{key\}/);
    expect(() => parseUrlTemplate('https://h/{z}/{x}.png')).toThrow(/does not address a tile/);
    expect(() => parseUrlTemplate('/relative/{z}/{x}/{y}')).toThrow(/not a valid URL/);
  });

  it('a bad template fails at creation, not per tile', async () => {
    await expect(createImagerySource({ kind: 'xyz', url: 'file:///tmp/{z}/{x}/{y}.png' })).rejects.toThrow(
      ImageryError,
    );
  });

  it('sends the substituted TMS and quadkey paths to the server', async () => {
    expectStatus(await (await source('tms/{z}/{x}/{-y}.jpg')).getTile(3, 1, 2), 'ok');
    expectStatus(await (await source('bing/{quadkey}.jpg')).getTile(3, 3, 5), 'ok');
    expect([...hits.keys()].sort()).toEqual(['/bing/213.jpg', '/tms/3/1/5.jpg']);
  });
});

describe('fetch results', () => {
  it('a JPEG is ok with its bytes and type', async () => {
    const r = await (await source('ok/{z}/{x}/{y}.jpg')).getTile(18, 10, 20);
    expectStatus(r, 'ok');
    if (r.status === 'ok') {
      expect(r.contentType).toBe('image/jpeg');
      expect(Buffer.from(r.bytes).equals(jpeg)).toBe(true);
    }
  });

  it('an application/octet-stream answer is judged by its bytes', async () => {
    const r = await (await source('octet/{z}/{x}/{y}')).getTile(1, 0, 0);
    expect(r.status === 'ok' && r.contentType).toBe('image/png');
  });

  it('404 is missing and is not retried', async () => {
    const src = await source('missing/{z}/{x}/{y}');
    expectStatus(await src.getTile(5, 1, 1), 'missing');
    expect(hits.get('/missing/5/1/1')).toBe(1);
    expect(src.stats.retries).toBe(0);
  });

  it('500 then 200 succeeds on the retry', async () => {
    const src = await source('flaky/{z}/{x}/{y}');
    expectStatus(await src.getTile(4, 2, 2), 'ok');
    expect(hits.get('/flaky/4/2/2')).toBe(2);
    expect(src.stats).toMatchObject({ requests: 2, retries: 1 });
  });

  it('a server that stays down gives error after retries+1 attempts', async () => {
    const src = await source('down/{z}/{x}/{y}');
    const r = await src.getTile(4, 2, 2);
    expectStatus(r, 'error');
    expect(hits.get('/down/4/2/2')).toBe(3);
    expect(r.status !== 'ok' && r.reason).toMatch(/503.*gave up after 3 attempts/);
  });

  it('403 is an error without retries, pointing at the key', async () => {
    const src = await source('forbidden/{z}/{x}/{y}');
    const r = await src.getTile(4, 2, 2);
    expect(r.status !== 'ok' && r.reason).toMatch(/403.*API key/);
    expect(hits.get('/forbidden/4/2/2')).toBe(1);
  });

  it('HTML with 200 is retried like a 503, then undecodable, saying what kind of answer it was and no more', async () => {
    const r = await (await source('html/{z}/{x}/{y}')).getTile(2, 1, 1);
    expectStatus(r, 'undecodable');
    const reason = r.status !== 'ok' ? r.reason : '';
    expect(reason).toMatch(
      /answered an HTML page \(\d+ bytes\) instead of an image.*gave up after 3 attempts/,
    );
    // The remote body is the remote server's to say, not ours to hand on.
    expect(reason).not.toMatch(/Rate limit|DOCTYPE|example\.org/);
    expect(hits.get('/html/2/1/1')).toBe(3);
  });

  it('garbage labelled image/jpeg is retried, then undecodable with its leading bytes', async () => {
    const r = await (await source('garbage/{z}/{x}/{y}')).getTile(2, 1, 1);
    expectStatus(r, 'undecodable');
    expect(r.status !== 'ok' && r.reason).toMatch(/not JPEG, PNG or WebP \(9 bytes starting 00 13 37 42/);
    expect(hits.get('/garbage/2/1/1')).toBe(3);
  });

  it('a JPEG cut short is decoded before it is accepted: retried, and the whole one is what comes back', async () => {
    const cacheDir = join(cacheRoot, 'cut');
    const src = await source('cut/{z}/{x}/{y}', { cacheDir });
    const r = await src.getTile(3, 1, 1);
    expectStatus(r, 'ok');
    expect(r.status === 'ok' && Buffer.from(r.bytes).equals(noisy)).toBe(true);
    expect(r.attempts).toBe(2);
    expect(hits.get('/cut/3/1/1')).toBe(2);
  });

  it('an answer slower than the timeout is retried, then reported as a timeout', async () => {
    const src = await source('slow/{z}/{x}/{y}', { retries: 1 });
    const r = await src.getTile(2, 1, 1);
    expectStatus(r, 'error');
    expect(r.status !== 'ok' && r.reason).toMatch(/did not answer tile 2\/1\/1 within 100 ms.*2 attempts/);
    expect(hits.get('/slow/2/1/1')).toBe(2);
  });

  it('an unreachable host is a network error, not a throw', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const src = await createXyzSource(
      { kind: 'xyz', url: `http://127.0.0.1:${port}/{z}/{x}/{y}`, ...fast, retries: 0 },
      { outbound: loopback },
    );
    const r = await src.getTile(1, 0, 0);
    expect(r.status !== 'ok' && r.reason).toMatch(/network error/);
  });

  it('an invalid tile is an error result and an aborted signal rejects', async () => {
    const src = await source('ok/{z}/{x}/{y}');
    expectStatus(await src.getTile(2, 4, 0), 'error');
    const ac = new AbortController();
    ac.abort(new Error('job cancelled'));
    await expect(src.getTile(2, 1, 1, ac.signal)).rejects.toThrow('job cancelled');
  });

  it('zoom range and bounds answer missing without a request', async () => {
    const src = await source('ok/{z}/{x}/{y}', { maxZoom: 10, bounds: [0, 0, 10, 10] });
    expectStatus(await src.getTile(12, 0, 0), 'missing');
    expectStatus(await src.getTile(4, 0, 0), 'missing');
    expect(hits.size).toBe(0);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    maxInFlight = 0;
    const src = await source('busy/{z}/{x}/{y}', { concurrency: 2 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => src.getTile(5, i, 0)));
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(maxInFlight).toBe(2);
  });
});

describe("the host's rate limit", () => {
  /** A pacer that records each take and holds the request until the test lets it go. */
  function recordingPacer() {
    const takes: string[] = [];
    return {
      takes,
      async take(host: string, n = 1, signal?: AbortSignal) {
        signal?.throwIfAborted();
        for (let i = 0; i < n; i++) takes.push(host);
        return 0;
      },
    };
  }

  it('every request takes one token of its host, retries included; a cached tile takes none', async () => {
    const pacer = recordingPacer();
    const cacheDir = join(cacheRoot, 'paced');
    const flaky = (await createImagerySource(
      { kind: 'xyz', url: `${base}/flaky/{z}/{x}/{y}`, ...fast, cacheDir },
      { outbound: loopback, pacer },
    )) as XyzSource;
    expectStatus(await flaky.getTile(6, 3, 3), 'ok');
    const host = new URL(base).host;
    expect(pacer.takes).toEqual([host, host]);
    expect(flaky.stats.requests).toBe(2);
    // Served from the cache: no request, no token.
    expectStatus(await flaky.getTile(6, 3, 3), 'ok');
    expect(pacer.takes).toHaveLength(2);
  });

  it('a request waits for its token, and a cancelled wait sends nothing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pacer = {
      take: async (_host: string, _n?: number, signal?: AbortSignal) => {
        await Promise.race([
          gate,
          new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
        ]);
        return 0;
      },
    };
    const src = (await createImagerySource(
      { kind: 'xyz', url: `${base}/ok/{z}/{x}/{y}.jpg`, ...fast },
      { outbound: loopback, pacer },
    )) as XyzSource;
    const cancel = new AbortController();
    const cancelled = src.getTile(7, 1, 2, cancel.signal);
    cancel.abort(new Error('job cancelled'));
    await expect(cancelled).rejects.toThrow('job cancelled');
    const waiting = src.getTile(7, 1, 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(hits.get('/ok/7/1/1.jpg')).toBeUndefined();
    release();
    expectStatus(await waiting, 'ok');
    expect(hits.get('/ok/7/1/1.jpg')).toBe(1);
    expect(hits.get('/ok/7/1/2.jpg')).toBeUndefined();
  });
});

describe('disk cache', () => {
  it('a resumed job reads the cache and sends no request', async () => {
    const cacheDir = join(cacheRoot, 'resume');
    const first = await source('ok/{z}/{x}/{y}.jpg', { cacheDir });
    expectStatus(await first.getTile(18, 1, 1), 'ok');
    expect(hits.get('/ok/18/1/1.jpg')).toBe(1);

    const resumed = await source('ok/{z}/{x}/{y}.jpg', { cacheDir });
    const r = await resumed.getTile(18, 1, 1);
    expect(r.status === 'ok' && Buffer.from(r.bytes).equals(jpeg)).toBe(true);
    expect(hits.get('/ok/18/1/1.jpg')).toBe(1);
    expect(resumed.stats).toMatchObject({ requests: 0, cacheHits: 1 });
  });

  it('does not cache failures', async () => {
    const cacheDir = join(cacheRoot, 'failures');
    const src = await source('html/{z}/{x}/{y}', { cacheDir });
    await src.getTile(3, 3, 3);
    await src.getTile(3, 3, 3);
    expect(hits.get('/html/3/3/3')).toBe(6);
    expect((await TileCache.open(cacheDir)).stats().entries).toBe(0);
  });

  it('a cached tile that no longer decodes is dropped and fetched again', async () => {
    const cacheDir = join(cacheRoot, 'damaged');
    const url = `${base}/ok/{z}/{x}/{y}.jpg`;
    // What an earlier version cached: a JPEG cut short.
    const cache = await TileCache.open(cacheDir);
    await cache.put(expandUrlTemplate(url, 18, 2, 2), jpeg.subarray(0, jpeg.length >> 1));
    const src = await source('ok/{z}/{x}/{y}.jpg', { cacheDir });
    const r = await src.getTile(18, 2, 2);
    expect(r.status === 'ok' && Buffer.from(r.bytes).equals(jpeg)).toBe(true);
    expect(src.stats).toMatchObject({ cacheHits: 0, cacheRejected: 1, requests: 1 });
    const again = await source('ok/{z}/{x}/{y}.jpg', { cacheDir });
    await again.getTile(18, 2, 2);
    expect(again.stats).toMatchObject({ cacheHits: 1, requests: 0 });
  });
});
