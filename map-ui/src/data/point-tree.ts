/**
 * regl-scatterplot's spatial index over the latent view's positions (kdbush's serialised form), built
 * where the plot chooses (the brush worker) and handed to `draw(…, { spatialIndex })`, so the plot never
 * builds or copies one itself: for a million points that copy alone held the page for seconds.
 */
import KDBush from 'kdbush';

export function pointTree(x: Float32Array, y: Float32Array): ArrayBuffer {
  const tree = new KDBush(x.length, 16, Float32Array);
  // A point without a position is filed far away, where no cursor reaches: the tree needs every index.
  for (let i = 0; i < x.length; i++)
    if (Number.isFinite(x[i]) && Number.isFinite(y[i])) tree.add(x[i], y[i]);
    else tree.add(1e9, 1e9);
  tree.finish();
  return tree.data as ArrayBuffer;
}
