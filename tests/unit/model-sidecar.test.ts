import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../server/lib/model/errors.ts';
import { readSidecar } from '../../server/lib/model/sidecar.ts';

describe('readSidecar', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tilelens-sidecar-'));

  it('says which file is missing and what goes in it', async () => {
    await expect(readSidecar(join(dir, 'none.onnx'))).rejects.toThrow(
      /no sidecar .*none\.onnx\.tilelens\.json/,
    );
  });

  it('names the invalid fields', async () => {
    writeFileSync(join(dir, 'bad.onnx.tilelens.json'), JSON.stringify({ name: 'bad', inputSize: [256] }));
    const err = await readSidecar(join(dir, 'bad.onnx')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(/inputSize.*normalization|normalization.*inputSize/s);
  });

  it('wants the target class of a softmax model', async () => {
    const base = {
      name: 's',
      inputSize: [8, 8],
      normalization: { mean: [0, 0, 0], std: [1, 1, 1], scale: 255 },
      outputActivation: 'softmax',
      bottleneck: 'b',
    };
    writeFileSync(join(dir, 's.onnx.tilelens.json'), JSON.stringify(base));
    await expect(readSidecar(join(dir, 's.onnx'))).rejects.toThrow(/no targetClass/);
    writeFileSync(join(dir, 's.onnx.tilelens.json'), JSON.stringify({ ...base, targetClass: 1 }));
    await expect(readSidecar(join(dir, 's.onnx'))).resolves.toMatchObject({ targetClass: 1, bands: 3 });
  });
});
