import { describe, expect, it, vi } from 'vitest';
import { createSelectionStore } from '../../map-ui/src/state/selection.ts';
import {
  decodeIds,
  decodeTiles,
  encodeIds,
  encodeTiles,
  fromQuery,
  toQuery,
  DEFAULT_VIEW,
} from '../../map-ui/src/state/url-state.ts';

describe('selection store', () => {
  it('holds patches sorted and unique, tiles sorted, and tells every subscriber with the source', () => {
    const store = createSelectionStore();
    const a = vi.fn();
    const b = vi.fn();
    store.subscribe(a);
    store.subscribe(b);
    store.set({ patches: [5, 1, 5, 3], tiles: ['18-2-1', '18-1-1'], source: 'latent' });
    expect([...store.get().patches]).toEqual([1, 3, 5]);
    expect(store.get().tiles).toEqual(['18-1-1', '18-2-1']);
    expect(store.get().source).toBe('latent');
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
    expect(a.mock.calls[0][1].patches.length).toBe(0);
    expect(store.hasPatch(3)).toBe(true);
    expect(store.hasPatch(4)).toBe(false);
    expect(store.hasTile('18-2-1')).toBe(true);
  });

  it('adds and removes for additive brushes, and drops the brush shape when it combines', () => {
    const store = createSelectionStore({ patches: [1, 2] });
    store.set({ patches: [2, 9], source: 'map', mode: 'add' });
    expect([...store.get().patches]).toEqual([1, 2, 9]);
    store.set({ patches: [1], tiles: [], source: 'map', mode: 'remove' });
    expect([...store.get().patches]).toEqual([2, 9]);
    store.set({ patches: [7], source: 'cluster', brush: { kind: 'cluster', cluster: 3 } });
    expect(store.get().brush).toEqual({ kind: 'cluster', cluster: 3 });
    store.set({ patches: [8], source: 'latent', mode: 'add' });
    expect(store.get().brush).toBeNull();
    const v = store.get().version;
    store.clear();
    expect(store.isEmpty()).toBe(true);
    expect(store.get().version).toBe(v + 1);
  });

  it('keeps telling the others when one listener throws, and stops telling an unsubscribed one', () => {
    const store = createSelectionStore();
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bad = vi.fn(() => {
      throw new Error('boom');
    });
    const good = vi.fn();
    store.subscribe(bad);
    const off = store.subscribe(good);
    store.set({ patches: [1], source: 'latent' });
    expect(good).toHaveBeenCalledTimes(1);
    off();
    store.set({ patches: [2], source: 'latent' });
    expect(good).toHaveBeenCalledTimes(1);
    expect(err).toHaveBeenCalled();
    err.mockRestore();
  });
});

describe('view in the URL', () => {
  it('encodes ids as base-36 gaps and back', () => {
    const ids = [3, 4, 5, 100, 1_000_000];
    expect(decodeIds(encodeIds(ids))).toEqual(ids);
    expect(encodeIds([5, 4, 3])).toBe('3.1.1');
    expect(() => decodeIds('3.!')).toThrow(/base-36/);
    const tiles = ['18-155703-141324', '18-155704-141324', '18-155703-141325'];
    expect(decodeTiles(encodeTiles(tiles)).sort()).toEqual([...tiles].sort());
  });

  it('leaves out a selection too large for a link, without encoding it', () => {
    const many = Array.from({ length: 5000 }, (_, i) => i * 1000);
    const q = new URLSearchParams(toQuery({ ...DEFAULT_VIEW, project: 1, patches: many }));
    expect(q.has('sp')).toBe(false);
    expect(q.get('project')).toBe('1');
  });

  it('round-trips a whole view, and volunteer links default to the confidence overlay', () => {
    const view = {
      ...DEFAULT_VIEW,
      project: 2,
      center: [33.8, -13.95] as [number, number],
      zoom: 16.5,
      colourBy: 'cluster' as const,
      axes: [3, 1] as [number, number],
      surface: 0.3,
      compare: 5,
      patches: [1, 7],
      tiles: ['18-10-20'],
    };
    const back = fromQuery(toQuery(view));
    expect(back.project).toBe(2);
    expect(back.zoom).toBeCloseTo(16.5);
    expect(back.center![0]).toBeCloseTo(33.8, 5);
    expect(back.colourBy).toBe('cluster');
    expect(back.axes).toEqual([3, 1]);
    expect(back.surface).toBeCloseTo(0.3);
    expect(back.patches).toEqual([1, 7]);
    expect(back.tiles).toEqual(['18-10-20']);
    expect(back.compare).toBe(5);
    expect(fromQuery('?compare=0').compare).toBeNull();
    const vol = fromQuery('?project=2', '/volunteer');
    expect(vol.mode).toBe('volunteer');
    expect(vol.layers).toEqual({ priority: false, confidence: true, footprints: true });
    expect(fromQuery('?axes=2,2&colour=bogus').axes).toEqual([1, 2]);
  });
});
