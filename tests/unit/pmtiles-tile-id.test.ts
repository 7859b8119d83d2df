import { tileIdToZxy as refTileIdToZxy, zxyToTileId as refZxyToTileId } from 'pmtiles';
import { describe, expect, it } from 'vitest';
import { tileIdToZxy, zxyToTileId } from '../../server/lib/pmtiles/tile-id.ts';

describe('tile ids', () => {
  it('agree with the pmtiles package on every tile of low zooms and on deep tiles', () => {
    for (let z = 0; z <= 5; z++) {
      for (let x = 0; x < 2 ** z; x++) {
        for (let y = 0; y < 2 ** z; y++) {
          const id = zxyToTileId(z, x, y);
          expect(id).toBe(refZxyToTileId(z, x, y));
          expect(tileIdToZxy(id)).toEqual([z, x, y]);
        }
      }
    }
    for (const [z, x, y] of [
      [18, 155669, 141339],
      [18, 262143, 0],
      [22, 2491000, 2261000],
      [26, 2 ** 26 - 1, 2 ** 26 - 1],
    ]) {
      const id = zxyToTileId(z, x, y);
      expect(id).toBe(refZxyToTileId(z, x, y));
      expect(tileIdToZxy(id)).toEqual(refTileIdToZxy(id));
      expect(tileIdToZxy(id)).toEqual([z, x, y]);
    }
    expect(() => zxyToTileId(3, 8, 0)).toThrow(/outside the zoom-3 grid/);
  });
});
