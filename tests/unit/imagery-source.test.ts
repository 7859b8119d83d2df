/**
 * The contract every ImagerySource keeps, run over each kind: what the scoring job relies on
 * whatever the imagery.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArrayBuffer } from 'geotiff';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tileBounds } from '../../server/lib/geo/tiles.ts';
import { PMTilesWriter } from '../../server/lib/pmtiles/writer.ts';
import { createImagerySource } from '../../server/lib/imagery/source-factory.ts';
import {
  ImageryError,
  parseImagerySpec,
  sniffImageType,
  type ImagerySource,
  type ImagerySpec,
} from '../../server/lib/imagery/source.ts';
import { OutboundPolicy } from '../../server/lib/imagery/outbound.ts';

/** A tile each kind holds, and one it does not. */
const PRESENT = { z: 17, x: 70000, y: 48000 };
const ABSENT = { z: 17, x: 10, y: 10 };

let dir: string;
let server: Server;
const specs: Record<string, ImagerySpec> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tilelens-source-'));
  const jpeg = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#3a6' } })
    .jpeg()
    .toBuffer();

  const pm = join(dir, 'a.pmtiles');
  const w = new PMTilesWriter(pm, { tileType: 'jpeg' });
  await w.addTile(PRESENT.z, PRESENT.x, PRESENT.y, jpeg);
  await w.finish();
  specs.pmtiles = { kind: 'pmtiles', path: pm };

  server = createServer((req, res) => {
    if (req.url === `/${PRESENT.z}/${PRESENT.x}/${PRESENT.y}.jpg`)
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  specs.xyz = {
    kind: 'xyz',
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/{z}/{x}/{y}.jpg`,
    timeoutMs: 500,
    retries: 0,
  };

  const [west, south, east, north] = tileBounds(PRESENT.z, PRESENT.x, PRESENT.y);
  const size = 64;
  const tif = join(dir, 'a.tif');
  await writeFile(
    tif,
    Buffer.from(
      writeArrayBuffer(new Uint8Array(size * size * 3).fill(120), {
        width: size,
        height: size,
        SamplesPerPixel: 3,
        BitsPerSample: [8, 8, 8],
        // Named explicitly: without a geographic key the writer also resets the tie point to -180, 90.
        GTModelTypeGeoKey: 2,
        GeographicTypeGeoKey: 4326,
        ModelPixelScale: [(east - west) / size, (north - south) / size, 0],
        ModelTiepoint: [0, 0, 0, west, north, 0],
      }),
    ),
  );
  specs.geotiff = { kind: 'geotiff', path: tif };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe.each(['pmtiles', 'xyz', 'geotiff'])('%s source', (kind) => {
  let src: ImagerySource;
  beforeAll(async () => {
    // The xyz server listens on loopback, which only an allow-list opens.
    src = await createImagerySource(specs[kind], { outbound: OutboundPolicy.fromSetting('127.0.0.1') });
  });
  afterAll(() => src.close());

  it('describes itself', () => {
    expect(src.kind).toBe(kind);
    expect(src.id).toMatch(new RegExp(`^${kind}:`));
    expect(src.minZoom).toBeLessThanOrEqual(src.maxZoom);
  });

  it('answers a tile it holds with image bytes whose type matches contentType', async () => {
    const t = await src.getTile(PRESENT.z, PRESENT.x, PRESENT.y);
    if (t.status !== 'ok') throw new Error(`${t.status}: ${t.reason}`);
    expect(sniffImageType(t.bytes)).toBe(t.contentType);
  });

  it('answers a tile it lacks with missing and a reason, never a throw', async () => {
    const t = await src.getTile(ABSENT.z, ABSENT.x, ABSENT.y);
    expect(t.status).toBe('missing');
    expect(t.status !== 'ok' && t.reason.length).toBeGreaterThan(10);
  });

  it('answers a tile off the grid with error', async () => {
    expect((await src.getTile(3, 8, 0)).status).toBe('error');
    expect((await src.getTile(1.5, 0, 0)).status).toBe('error');
  });

  it('rejects with the reason when the job aborts', async () => {
    await expect(
      src.getTile(PRESENT.z, PRESENT.x, PRESENT.y, AbortSignal.abort(new Error('cancelled'))),
    ).rejects.toThrow('cancelled');
  });
});

describe('ImagerySpec', () => {
  it('names what is wrong in an invalid spec', () => {
    expect(() => parseImagerySpec({ kind: 'wms', url: 'x' })).toThrow(ImageryError);
    expect(() => parseImagerySpec({ kind: 'xyz', url: 'https://t/{z}/{x}/{y}', concurrency: 0 })).toThrow(
      /concurrency/,
    );
    expect(() => parseImagerySpec({ kind: 'geotiff', path: 'a.tif', bands: [1, 2] })).toThrow(/bands/);
    expect(() =>
      parseImagerySpec({ kind: 'xyz', url: 'https://t/{z}/{x}/{y}', bounds: [10, 0, 5, 1] }),
    ).toThrow(/west < east/);
  });

  it('sniffs JPEG, PNG and WebP by their magic bytes only', () => {
    expect(sniffImageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffImageType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(
      'image/png',
    );
    expect(sniffImageType(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffImageType(new TextEncoder().encode('RIFF\0\0\0\0WAVEfmt '))).toBeUndefined();
    expect(sniffImageType(new TextEncoder().encode('<html>'))).toBeUndefined();
  });
});
