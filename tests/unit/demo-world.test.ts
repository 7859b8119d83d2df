import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld, type TileRecord, type WorldSummary } from '../../scripts/demo-world/generate.ts';
import { planWorld } from '../../scripts/demo-world/layout.ts';
import { ObjectCache, renderTile } from '../../scripts/demo-world/paint.ts';
import { exportTrainingArrays } from '../../scripts/export-training-arrays.ts';
import { FootprintIndex } from '../../server/lib/geo/rasterize.ts';
import { decodeTileImage } from '../../server/lib/imagery/decode.ts';
import { openPMTiles } from '../../server/lib/pmtiles/file-source.ts';

const root = mkdtempSync(join(tmpdir(), 'tilelens-world-'));
const dirA = join(root, 'a');
let summary: WorldSummary;
let records: TileRecord[];

beforeAll(async () => {
  summary = await generateDemoWorld({ seed: 7, outDir: dirA, scale: 'small' });
  records = readFileSync(join(dirA, 'tiles.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
});

describe('demo world (small scale)', () => {
  it('builds both regions with every district and phenomenon, at least twice each', () => {
    expect(summary.regions.train.tileCount).toBe(144);
    expect(summary.regions.new.tileCount).toBe(36);
    expect(records).toHaveLength(180);
    for (const d of ['dense_town', 'suburb', 'farmland', 'forest', 'bare', 'sahel_village', 'sahel_bush']) {
      expect(summary.districts[d], d).toBeGreaterThanOrEqual(2);
    }
    for (const p of ['parking_lot', 'cemetery', 'construction_site', 'no_buildings'] as const) {
      expect(records.filter((r) => r.phenomena.includes(p)).length, p).toBeGreaterThanOrEqual(2);
    }
    const train = records.filter((r) => r.region === 'train');
    expect(train.filter((r) => r.split === 'train')).toHaveLength(108);
    expect(train.filter((r) => r.split === 'val')).toHaveLength(18);
    const screen = records.filter((r) => r.region === 'new');
    expect(screen.length).toBeGreaterThan(0);
    expect(screen.every((r) => r.split === 'screen')).toBe(true);
    expect(records[0]).toMatchObject({ z: 18, taskId: `18-${records[0].x}-${records[0].y}` });
  });

  it('is byte-identical for the same seed and differs for another', async () => {
    const dirB = join(root, 'b');
    await generateDemoWorld({ seed: 7, outDir: dirB, scale: 'small' });
    for (const f of ['imagery.pmtiles', 'footprints.geojson', 'tiles.ndjson', 'world.json']) {
      expect(readFileSync(join(dirB, f)).equals(readFileSync(join(dirA, f))), f).toBe(true);
    }
    const other = planWorld(8, 'small');
    const mine = planWorld(7, 'small');
    const differ = [...mine.tiles.values()].filter(
      (t) => other.tiles.get(t.x * 262144 + t.y)?.district !== t.district,
    );
    expect(differ.length).toBeGreaterThan(0);
  });

  it('writes footprints that rasterise onto the painted buildings', async () => {
    const index = FootprintIndex.fromFile(join(dirA, 'footprints.geojson'));
    expect(index.size).toBe(summary.buildings);
    const plan = planWorld(7, 'small');
    const cache = new ObjectCache(plan);
    const archive = await openPMTiles(join(dirA, 'imagery.pmtiles'));
    expect(archive.metadata.attribution).toBe('tilelens synthetic demo world');
    let checked = 0;
    try {
      for (const r of records
        .filter((t) => t.visibleBuildingFraction > 0.02 && !t.phenomena.includes('construction_site'))
        .slice(0, 12)) {
        const mask = index.maskForTile(r.z, r.x, r.y);
        const painted = renderTile(plan, cache, plan.tiles.get(r.x * 262144 + r.y)!);
        let both = 0;
        let either = 0;
        let gt = 0;
        for (let i = 0; i < mask.length; i++) {
          both += mask[i] & painted.visible[i];
          either += mask[i] | painted.visible[i];
          gt += mask[i];
        }
        // Trees may hide a few roof pixels; otherwise the labels sit exactly on the roofs.
        expect(both / either, r.taskId).toBeGreaterThan(0.9);
        expect(gt / mask.length).toBeCloseTo(r.gtFraction, 3);
        // The archive holds the painted pixels (up to JPEG loss).
        const img = await decodeTileImage((await archive.getTile(r.z, r.x, r.y))!);
        let err = 0;
        for (let i = 0; i < img.data.length; i++) err += Math.abs(img.data[i] - painted.rgb[i]);
        expect(err / img.data.length).toBeLessThan(12);
        checked++;
      }
    } finally {
      await archive.close();
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it('plants construction sites with footprints the imagery does not show', () => {
    const sites = records.filter((r) => r.phenomena.includes('construction_site'));
    expect(sites.length).toBeGreaterThanOrEqual(2);
    for (const s of sites) {
      expect(s.gtFraction, s.taskId).toBeGreaterThan(0.01);
      expect(s.visibleBuildingFraction, s.taskId).toBe(0);
    }
    const fc = JSON.parse(readFileSync(join(dirA, 'footprints.geojson'), 'utf8'));
    const planted = fc.features.filter(
      (f: { properties: { planted_error: boolean } }) => f.properties.planted_error,
    );
    expect(planted.length).toBe(summary.plantedErrors);
    expect(planted.length).toBeGreaterThanOrEqual(sites.length);
    for (const p of records.filter(
      (r) => r.phenomena.includes('parking_lot') || r.phenomena.includes('cemetery'),
    )) {
      expect(p.gtFraction, `${p.taskId} holds cars or graves, not buildings`).toBe(0);
    }
  });

  it('exports training arrays that line up with the tile records', async () => {
    const out = join(root, 'arrays');
    const e = await exportTrainingArrays(dirA, out);
    expect(e.count).toBe(144);
    const masks = readFileSync(e.masks);
    const images = readFileSync(e.images);
    expect(images.length).toBe(144 * 256 * 256 * 3);
    expect(masks.length).toBe(144 * 256 * 256);
    const index = JSON.parse(readFileSync(e.index, 'utf8'));
    const train = records.filter((r) => r.region === 'train');
    expect(index.map((t: { taskId: string }) => t.taskId)).toEqual(train.map((r) => r.taskId));
    train.forEach((r, i) => {
      let s = 0;
      for (let k = i * 65536; k < (i + 1) * 65536; k++) s += masks[k];
      expect(s / 65536).toBeCloseTo(r.gtFraction, 3);
    });
  });
});
