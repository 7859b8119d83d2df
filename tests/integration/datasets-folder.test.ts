import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, gradient, palettePng, png, rectMask, tiff, useTempDir } from '../fixtures/dataset-files.ts';
import { openFolderDataset } from '../../server/lib/datasets/folder.ts';

let dir: string;
useTempDir((d) => (dir = d));

describe('folder pairs', () => {
  let root: string;
  beforeAll(async () => {
    root = join(dir, 'inria');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'gt'), { recursive: true });
    // 300×200 JPEG with a PNG mask of another extension; 0/255 mask.
    await sharp(gradient(300, 200), { raw: { width: 300, height: 200, channels: 3 } })
      .jpeg({ quality: 95 })
      .toFile(join(root, 'images/a.jpg'));
    await png(join(root, 'gt/a.png'), rectMask(300, 200, 255, [10, 10, 50, 40]), 300, 200, 1);
    // RGBA image with a 0/1 mask.
    await png(join(root, 'images/b.png'), gradient(128, 128, 4), 128, 128, 4);
    await png(join(root, 'gt/b.png'), rectMask(128, 128, 1, [0, 0, 64, 128]), 128, 128, 1);
  });

  it('matches by name across extensions, cuts windows and pads the edge', async () => {
    const source = await openFolderDataset(join(root, 'images'), join(root, 'gt'), { patchSize: 128 });
    // a: 3×2 windows (300 → 0,128,256; 200 → 0,128); b: 1.
    expect(source.size).toBe(7);
    const patches = await collect(source);
    expect(patches.map((p) => p.key)).toContain('images/a.jpg#256,128,44,72');
    const edge = patches.find((p) => p.key === 'images/a.jpg#256,128,44,72')!;
    expect(edge.width).toBe(128);
    // Past the image: black and background.
    expect(edge.image[(100 * 128 + 100) * 3]).toBe(0);
    const first = patches.find((p) => p.key === 'images/a.jpg#0,0,128,128')!;
    expect(first.mask[20 * 128 + 20]).toBe(1);
    expect(first.mask[60 * 128 + 60]).toBe(0);
    expect(Math.abs(first.image[(5 * 128 + 100) * 3] - 100)).toBeLessThan(6);
    const b = patches.find((p) => p.key.startsWith('images/b.png'))!;
    // Alpha dropped: RGB only, blue band is the image's, not the alpha.
    expect(b.image.length).toBe(128 * 128 * 3);
    expect(b.image[2]).toBe(50);
    expect(b.mask[10]).toBe(1);
    expect(b.mask[100]).toBe(0);
    expect(patches.every((p) => p.group === 'inria')).toBe(true);
  });

  it('drops the ragged edge, or resizes whole images to one size', async () => {
    const dropped = await openFolderDataset(join(root, 'images'), join(root, 'gt'), {
      patchSize: 128,
      edge: 'drop',
    });
    expect(dropped.size).toBe(3);
    const resized = await collect(
      await openFolderDataset(join(root, 'images'), join(root, 'gt'), { patchSize: 64, mode: 'resize' }),
    );
    expect(resized.map((p) => [p.key, p.width, p.height])).toEqual([
      ['images/a.jpg', 64, 64],
      ['images/b.png', 64, 64],
    ]);
  });

  it('names unmatched images, empty folders and size mismatches', async () => {
    const bad = join(dir, 'bad');
    await mkdir(join(bad, 'images'), { recursive: true });
    await mkdir(join(bad, 'masks'), { recursive: true });
    await expect(openFolderDataset(join(bad, 'images'), join(bad, 'masks'))).rejects.toThrow(
      /images folder .*bad\/images holds no/,
    );
    await png(join(bad, 'images/x.png'), gradient(64, 64), 64, 64, 3);
    await png(join(bad, 'images/lonely.png'), gradient(64, 64), 64, 64, 3);
    await png(join(bad, 'masks/x.png'), rectMask(32, 64, 255, [0, 0, 4, 4]), 32, 64, 1);
    await expect(openFolderDataset(join(bad, 'images'), join(bad, 'masks'))).rejects.toThrow(
      /1 of 2 images .* have no mask of the same name .*\(e\.g\. lonely\.png\)/,
    );
    await rm(join(bad, 'images/lonely.png'));
    await expect(openFolderDataset(join(bad, 'images'), join(bad, 'masks'))).rejects.toThrow(
      /image .*x\.png is 64×64 but its mask .*x\.png is 32×64/,
    );
  });
});

describe('masks and band depths', () => {
  it('multi-class masks need --target-class; palette masks list their indices', async () => {
    const root = join(dir, 'classes');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'masks'), { recursive: true });
    await png(join(root, 'images/m.png'), gradient(64, 64), 64, 64, 3);
    const classes = rectMask(64, 64, 1, [0, 0, 32, 64]);
    for (let i = 0; i < 64; i++) classes[i] = 3; // first row: road
    await png(join(root, 'masks/m.png'), classes, 64, 64, 1);
    const open = (targetClass?: number) =>
      openFolderDataset(join(root, 'images'), join(root, 'masks'), {
        patchSize: 64,
        ...(targetClass !== undefined ? { targetClass } : {}),
      });
    await expect(collect(await open())).rejects.toThrow(/m\.png holds the values 0, 1, 3.*--target-class N/);
    const [p] = await collect(await open(1));
    expect(p.mask[64 + 5]).toBe(1);
    expect(p.mask[5]).toBe(0); // road row is not building
    expect(p.mask[64 + 40]).toBe(0);

    const idx = new Uint8Array(64 * 64).fill(0);
    idx.fill(2, 0, 64 * 10);
    await writeFile(
      join(root, 'masks/m.png'),
      palettePng(64, 64, idx, [
        [0, 0, 0],
        [10, 10, 10],
        [200, 30, 30],
      ]),
    );
    await expect(collect(await open())).rejects.toThrow(
      /palette PNG whose pixels use palette indices 0, 2; pass --target-class/,
    );
    const [q] = await collect(await open(2));
    expect(q.mask[5]).toBe(1);
    expect(q.mask[64 * 20]).toBe(0);
  });

  it('16-bit and 4-band GeoTIFF imagery arrives as stretched RGB', async () => {
    const root = join(dir, 'deep');
    await mkdir(join(root, 'images'), { recursive: true });
    await mkdir(join(root, 'masks'), { recursive: true });
    const w = 64;
    const h = 64;
    const values = new Uint16Array(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      values[i * 4] = 300 + (i % w) * 40; // red rises with the column
      values[i * 4 + 1] = 2000;
      values[i * 4 + 2] = 1000 + Math.floor(i / w) * 10;
      values[i * 4 + 3] = 9999; // NIR, dropped
    }
    await tiff(join(root, 'images/d.tif'), values, {
      width: w,
      height: h,
      SamplesPerPixel: 4,
      BitsPerSample: [16, 16, 16, 16],
    });
    await png(join(root, 'masks/d.png'), rectMask(w, h, 255, [0, 0, 8, 8]), w, h, 1);
    const [p] = await collect(
      await openFolderDataset(join(root, 'images'), join(root, 'masks'), { patchSize: 64 }),
    );
    expect(p.image[0]).toBe(0);
    expect(p.image[(w - 1) * 3]).toBe(255);
    expect(p.image[(10 * w + 32) * 3]).toBeGreaterThan(100);
    expect(p.image[(10 * w + 32) * 3]).toBeLessThan(160);
    expect(p.mask[0]).toBe(1);
  });
});
