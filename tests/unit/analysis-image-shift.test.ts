import { describe, expect, it } from 'vitest';
import { IMAGE_STATISTIC_COUNT, ImageShift, imageStatistics } from '../../server/lib/analysis/image-shift.ts';
import { createRng } from '../../server/lib/analysis/random.ts';

const SIDE = 64;

/** A textured RGB tile: blocks of random brightness (1–3 px) over a random base colour. */
function tile(seed: number): Uint8Array {
  const rng = createRng(seed);
  const base = [90 + 60 * rng.next(), 90 + 60 * rng.next(), 80 + 60 * rng.next()];
  const block = 1 + Math.floor(rng.next() * 3);
  const out = new Uint8Array(SIDE * SIDE * 3);
  const shade: number[] = [];
  for (let i = 0; i < (SIDE / block + 1) ** 2; i++) shade.push(rng.next() * 80 - 40);
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++) {
      const s = shade[Math.floor(y / block) * Math.ceil(SIDE / block + 1) + Math.floor(x / block)];
      for (let c = 0; c < 3; c++) out[3 * (y * SIDE + x) + c] = Math.max(0, Math.min(255, base[c] + s));
    }
  return out;
}

/** The tile at a quarter of its resolution, brought back to its size (nearest-neighbour box average). */
function coarser(rgb: Uint8Array, f = 4): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < SIDE; y += f)
    for (let x = 0; x < SIDE; x += f)
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = 0; dy < f; dy++)
          for (let dx = 0; dx < f; dx++) sum += rgb[3 * ((y + dy) * SIDE + x + dx) + c];
        for (let dy = 0; dy < f; dy++)
          for (let dx = 0; dx < f; dx++) out[3 * ((y + dy) * SIDE + x + dx) + c] = sum / (f * f);
      }
  return out;
}

const hazy = (rgb: Uint8Array) => rgb.map((v) => Math.round(0.5 * v + 0.5 * 205));

function statsOf(tiles: Uint8Array[]): Float32Array {
  const out = new Float32Array(tiles.length * IMAGE_STATISTIC_COUNT);
  tiles.forEach((t, i) => imageStatistics(t, SIDE, SIDE, out, i * IMAGE_STATISTIC_COUNT));
  return out;
}

describe('ImageShift', () => {
  const reference = Array.from({ length: 400 }, (_, i) => tile(i + 1));
  const model = ImageShift.fit(statsOf(reference), reference.length, { seed: 3 });
  const familiar = Array.from({ length: 100 }, (_, i) => tile(10_000 + i));

  it('reads tiles like the reference as covered', () => {
    const r = model.ratio(statsOf(familiar), familiar.length);
    const over = r.filter((v) => v > 1).length / r.length;
    expect(over).toBeLessThan(0.06);
  });

  it('notices coarser imagery and haze that keep the same scene', () => {
    for (const shift of [coarser, hazy]) {
      const r = model.ratio(statsOf(familiar.map((t) => shift(t))), familiar.length);
      expect(r.filter((v) => v > 1).length / r.length, shift.name).toBeGreaterThan(0.9);
    }
  });

  it('round-trips through JSON and refuses a foreign one', () => {
    const again = ImageShift.fromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    const s = statsOf(familiar.slice(0, 5));
    expect(Array.from(again.ratio(s, 5))).toEqual(Array.from(model.ratio(s, 5)));
    expect(() => ImageShift.fromJSON({ ...model.toJSON(), mean: [1] })).toThrow(/expected 16 means/);
    expect(() => ImageShift.fromJSON({ ...model.toJSON(), points: 'AAAA' })).toThrow(/reference points/);
    expect(() => ImageShift.fromJSON({ kind: 'Other' } as never)).toThrow(/expected kind "ImageShift"/);
  });

  it('notices a colour cast that lands between two kinds of reference imagery', () => {
    // Two kinds of imagery, reddish and bluish; their mean colour is a tile of neither kind.
    const tint = (rgb: Uint8Array, gain: number[]) =>
      rgb.map((v, i) => Math.min(255, Math.round(v * gain[i % 3])));
    const kinds = [
      [1.6, 1, 0.5],
      [0.5, 1, 1.6],
    ];
    const mixed = reference.map((t, i) => tint(t, kinds[i % 2]));
    const twoKinds = ImageShift.fit(statsOf(mixed), mixed.length, { seed: 3 });
    const own = familiar.map((t, i) => tint(t, kinds[i % 2]));
    const between = familiar.map((t) => tint(t, [1, 1, 1]));
    const over = (tiles: Uint8Array[]) =>
      twoKinds.ratio(statsOf(tiles), tiles.length).filter((v) => v > 1).length / tiles.length;
    expect(over(own)).toBeLessThan(0.06);
    expect(over(between)).toBeGreaterThan(0.9);
  });

  it('still reads a reference fitted as one Gaussian over the first eight statistics', () => {
    const k = IMAGE_STATISTIC_COUNT;
    const stats = statsOf(reference);
    const mean = Array.from(
      { length: 8 },
      (_, j) => reference.reduce((s, _t, i) => s + stats[i * k + j], 0) / reference.length,
    );
    // A diagonal precision from each statistic's own variance: distance² = Σ z².
    const precision = new Array<number>(64).fill(0);
    for (let j = 0; j < 8; j++) {
      const v = reference.reduce((s, _t, i) => s + (stats[i * k + j] - mean[j]) ** 2, 0) / reference.length;
      precision[j * 9] = 1 / v;
    }
    const legacy = ImageShift.fromJSON({
      kind: 'ImageShift',
      mean,
      precision,
      unit: 2,
      calibration: 'held-out',
    });
    const one = statsOf([familiar[0]]);
    const expected = Math.sqrt(mean.reduce((s, m, j) => s + (one[j] - m) ** 2 * precision[j * 9], 0)) / 2;
    expect(legacy.ratio(one, 1)[0]).toBeCloseTo(expected, 4);
  });

  it('says what is wrong with a short image', () => {
    expect(() => imageStatistics(new Uint8Array(10), SIDE, SIDE)).toThrow(/10 bytes for a 64×64 RGB image/);
  });
});
