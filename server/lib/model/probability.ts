/**
 * Model output (N×K×H×W, NCHW) → building probability per pixel (N×H×W). Softmax and sigmoid are done here rather
 * than trusted to the graph so that models exported with bare logits behave like ours.
 */
export function toProbability(
  out: Float32Array,
  n: number,
  k: number,
  plane: number,
  activation: 'sigmoid' | 'softmax' | 'none',
  targetClass = k === 1 ? 0 : 1,
): Float32Array {
  const probs = new Float32Array(n * plane);
  for (let i = 0; i < n; i++) {
    const base = i * k * plane;
    const dst = i * plane;
    if (activation === 'softmax') {
      for (let p = 0; p < plane; p++) {
        let max = -Infinity;
        for (let c = 0; c < k; c++) max = Math.max(max, out[base + c * plane + p]);
        let sum = 0;
        for (let c = 0; c < k; c++) sum += Math.exp(out[base + c * plane + p] - max);
        probs[dst + p] = Math.exp(out[base + targetClass * plane + p] - max) / sum;
      }
    } else {
      const src = base + targetClass * plane;
      for (let p = 0; p < plane; p++) {
        const v = out[src + p];
        probs[dst + p] = activation === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : v;
      }
    }
  }
  return probs;
}
