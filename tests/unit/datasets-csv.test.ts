import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../server/lib/datasets/manifest.ts';

describe('parseCsv', () => {
  it('keeps quoted commas and doubled quotes', () => {
    expect(parseCsv('a,b,c\n1,"x, ""y""",3\r\n\n')).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x, "y"', '3'],
    ]);
  });
});
