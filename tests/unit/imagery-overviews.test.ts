/**
 * Overviews built from native tiles: a source with z18 tiles only, each a flat colour known here, so
 * every overview pixel has a value to check — the mean of the native tiles under it. Edges keep their
 * transparency, tiles below the offered range are refused as missing, native zooms pass straight
 * through, and a built tile is served from the cache without reading the native tiles again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { OVERVIEW_LEVELS, OverviewSource, overviewMinZoom } from '../../server/lib/imagery/overviews.ts';
import type { ImagerySource, TileFetch } from '../../server/lib/imagery/source.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilelens-overviews-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const X0 = 1000 * 4;
const Y0 = 2000 * 4;

/** Native z18 tiles over a 8 × 8 block (two z16 tiles wide), the last column missing; colour from x, y. */
function colour(x: number, y: number): [number, number, number] {
  return [((x - X0) * 30) % 256, ((y - Y0) * 30) % 256, 200];
}

class FlatSource implements ImagerySource {
  readonly id = 'flat';
  readonly kind = 'pmtiles' as const;
  readonly minZoom = 18;
  readonly maxZoom = 18;
  reads = 0;
  async getTile(z: number, x: number, y: number): Promise<TileFetch> {
    this.reads++;
    if (z !== 18 || x < X0 || y < Y0 || x >= X0 + 7 || y >= Y0 + 8)
      return { status: 'missing', reason: 'none' };
    const [r, g, b] = colour(x, y);
    const bytes = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r, g, b } } })
      .png()
      .toBuffer();
    return { status: 'ok', bytes, contentType: 'image/png' };
  }
  async close() {}
}

async function pixels(t: TileFetch) {
  if (t.status !== 'ok') throw new Error(`tile ${t.status}`);
  const { data, info } = await sharp(t.bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, info, contentType: t.contentType };
}

describe('overviews', () => {
  const inner = new FlatSource();
  const source = new OverviewSource(inner, { cacheDir: dir });

  it('offers six levels below the native zoom', () => {
    expect(OVERVIEW_LEVELS).toBe(6);
    expect(overviewMinZoom(18)).toBe(12);
    expect(overviewMinZoom(3)).toBe(0);
    expect(source.overviewMinZoom).toBe(12);
  });

  it('keeps what the source says of itself: where its parts lie and what it skipped at opening', () => {
    const patchy = Object.assign(new FlatSource(), {
      bounds: [0, 0, 2, 1] as [number, number, number, number],
      extents: [
        [0, 0, 0.5, 1] as [number, number, number, number],
        [1.5, 0, 2, 1] as [number, number, number, number],
      ],
      warnings: ['chip-3.tif: no georeference'],
    });
    const wrapped = new OverviewSource(patchy);
    expect(wrapped.bounds).toEqual([0, 0, 2, 1]);
    expect(wrapped.extents).toEqual([
      [0, 0, 0.5, 1],
      [1.5, 0, 2, 1],
    ]);
    expect(wrapped.warnings).toEqual(['chip-3.tif: no georeference']);
    expect(new OverviewSource(new FlatSource()).extents).toBeUndefined();
  });

  it('makes a z17 tile of its four children, each shrunk into its quarter', async () => {
    const { data, info, contentType } = await pixels(await source.getTile(17, X0 / 2, Y0 / 2));
    expect(contentType).toBe('image/jpeg');
    expect([info.width, info.height]).toEqual([256, 256]);
    for (const [dx, dy] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ]) {
      // The middle of each quarter (JPEG: within a few levels).
      const i = ((dy * 128 + 64) * 256 + dx * 128 + 64) * 4;
      const want = colour(X0 + dx, Y0 + dy);
      for (let c = 0; c < 3; c++) expect(Math.abs(data[i + c] - want[c])).toBeLessThanOrEqual(3);
    }
  });

  it('keeps the imagery edge see-through where children are missing, at any depth', async () => {
    // The z16 tile right of the first holds native columns X0+4..X0+7, the last of which is missing.
    const { data, contentType } = await pixels(await source.getTile(16, X0 / 4 + 1, Y0 / 4));
    expect(contentType).toBe('image/png');
    const alphaAt = (px: number, py: number) => data[(py * 256 + px) * 4 + 3];
    expect(alphaAt(10, 10)).toBe(255);
    expect(alphaAt(250, 10)).toBe(0);
    // Its colour is the mean of the native tiles under a 2 × 2 block of pixels.
    const i = (32 * 256 + 32) * 4;
    const want = colour(X0 + 4, Y0);
    for (let c = 0; c < 3; c++) expect(Math.abs(data[i + c] - want[c])).toBeLessThanOrEqual(1);
  });

  it('answers missing below its range, see-through where there is no imagery, and passes native zooms through', async () => {
    expect((await source.getTile(11, X0 >> 7, Y0 >> 7)).status).toBe('missing');
    const { data } = await pixels(await source.getTile(14, 0, 0));
    expect(data.every((v, i) => i % 4 !== 3 || v === 0)).toBe(true);
    const native = await source.getTile(18, X0, Y0);
    expect(native).toMatchObject({ status: 'ok', contentType: 'image/png' });
  });

  it('serves a built tile from its cache without reading the native tiles again', async () => {
    const fresh = new FlatSource();
    const cached = new OverviewSource(fresh, { cacheDir: dir });
    const before = fresh.reads;
    const t = await cached.getTile(16, X0 / 4 + 1, Y0 / 4);
    expect(t.status).toBe('ok');
    expect(fresh.reads).toBe(before);
  });
});
