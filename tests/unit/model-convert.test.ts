import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert } from '../../scripts/model/convert-to-tfjs.ts';
import { loadModel } from '../../server/lib/model/runtime.ts';

const FIXTURE = 'tests/fixtures/tiny-unet';

describe('convert-to-tfjs', () => {
  it('rebuilds the weights dump as a TF.js model that matches the ONNX export of the same network', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tilelens-convert-'));
    for (const f of ['tiny.weights.json', 'tiny.weights.bin', 'tiny.onnx.tilelens.json'])
      copyFileSync(join(FIXTURE, f), join(dir, f));
    await convert(join(dir, 'tiny.weights.json'), join(dir, 'tiny.onnx.tilelens.json'), join(dir, 'tfjs'));

    const sidecar = JSON.parse(readFileSync(join(dir, 'tfjs/model.json.tilelens.json'), 'utf8'));
    expect(sidecar).toMatchObject({ name: 'tiny-unet', output: 'prob', bottleneck: 'bottleneck' });
    expect(sidecar.provenance.convertedFrom).toBe('tiny.weights.json');

    const tiles = Uint8Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => (i * 37) % 256);
    const tfjs = await loadModel(join(dir, 'tfjs/model.json'));
    const onnx = await loadModel(join(FIXTURE, 'tiny.onnx'));
    const [a, b] = [await tfjs.predict(tiles, 2), await onnx.predict(tiles, 2)];
    let worst = 0;
    for (let i = 0; i < a.probs.length; i++) worst = Math.max(worst, Math.abs(a.probs[i] - b.probs[i]));
    expect(worst).toBeLessThan(1e-4);
    await Promise.all([tfjs.dispose(), onnx.dispose()]);
  });
});
