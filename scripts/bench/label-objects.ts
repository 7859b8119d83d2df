/**
 * Per-object label errors against errors planted in real masks, each kind on its own:
 *
 *   npx tsx scripts/bench/label-objects.ts [--model data/eval-real/model/real-unet.onnx] [--real ../shared/realdata]
 *                                          [--seed 1313] [--share 0.3] [--kinds missing,phantom,offset,area_offset]
 *                                          [--cache FILE]   (keeps the model's output for re-runs while tuning)
 *                                          [--dump PREFIX]  (every candidate and planted object, PREFIX-<kind>.jsonl)
 *
 * The real-data model (the eval-real recipe: Accra + Dubai, seed 7) runs once over the held-out Accra and Dubai
 * windows (the 30 % of source images it was not trained on), 256-px windows at its input (128 px for the recipe;
 * sizes are set at 128 px and restated for a model with more pixels, labelObjectOptionsAtScale). Then, for each
 * kind — missing (footprints erased), phantom (a real footprint's shape drawn on open ground), offset (footprints
 * moved 1–3 m) and area offset (the whole window's label moved 1–3 m) — a seeded share of the windows gets that
 * error planted and the rest stay as they are, and the per-object evidence is scored. The detector never sees
 * which objects were planted; an object found is the planted one when half of it is that object or it covers
 * half of it (the strongest such object; others are duplicates and count as false hits).
 *
 * - objects, strict: average precision and precision@k of the kind's evidence over every candidate object of
 *   every window (k = objects planted). The real masks hold real label errors — Accra's unmapped blocks above
 *   all — and the detector finds them too: here they count as false hits.
 * - objects, fair: each planted object against only what the detector finds in the clean version of the same
 *   windows (the real-error background a reviewer of those windows would see anyway). Both are printed.
 * - planted objects missed by every candidate count as missed in both APs (AP over all planted, not over found);
 * - tagging: of the planted objects found, the share tagged with their kind, and of the objects tagged with the
 *   kind, the share planted; for offsets the error of the estimated shift against the planted one (model px
 *   and metres);
 * - diagnosis: how many of the strict ranking's top false hits look like real buildings by the model's own
 *   measure (sure of it, ≥ 20 m², compact), and the share of planted objects the model predicts building under;
 * - windows: average precision of the window's summary (its largest evidence of the kind) beside `1 − IoU`, the
 *   baseline, over the same windows.
 *
 * Metres per pixel: Accra's tiles are zoom-19 1024-px tiles at 5.6° N (0.074 m / px) halved to 512 px; Dubai's
 * imagery states none, so 0.5 m / px (the MBRSC satellites' class) is assumed. Skips cleanly without the real
 * data or the model. Ends with one line of JSON.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRng } from '../../server/lib/analysis/random.ts';
import { openManifestDataset } from '../../server/lib/datasets/manifest.ts';
import { averagePrecision, precisionAtK } from '../../server/lib/insights/label-errors.ts';
import { findAreaOffset } from '../../server/lib/insights/area-offset.ts';
import {
  findLabelObjects,
  LABEL_OBJECT_MODEL_SIDE,
  labelObjectOptionsAtScale,
  type FoundObject,
} from '../../server/lib/insights/label-objects.ts';
import { loadModel, resizeMask } from '../../server/lib/model/runtime.ts';
import { repoRoot } from '../../server/lib/paths.ts';
import {
  footprints,
  plant,
  shapeOf,
  type PlantKind,
  type PlantedObject,
  type Shape,
} from '../lib/plant-label-errors.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(repoRoot, 'data/eval-real/model/real-unet.onnx') },
    real: { type: 'string', default: process.env.REALDATA ?? resolve(repoRoot, '../shared/realdata') },
    seed: { type: 'string', default: '1313' },
    share: { type: 'string', default: '0.3' },
    /** Keeps the model's output over the windows in this file and reuses it (for tuning, not for figures). */
    cache: { type: 'string' },
    kinds: { type: 'string', default: 'missing,phantom,offset,area_offset' },
    /** Writes every candidate and planted object of each kind to PREFIX-<kind>.jsonl (for diagnosis). */
    dump: { type: 'string' },
  },
});

const manifest = join(values.real, 'manifest.csv');
if (!existsSync(manifest) || !existsSync(values.model)) {
  const why = !existsSync(manifest)
    ? `no ${manifest}`
    : `no model at ${values.model} (npm run eval:real trains one)`;
  console.log(JSON.stringify({ skipped: why }));
  process.exit(0);
}

/** Metres per pixel of the source imagery as the manifest's images hold it. */
const SOURCE_GSD: Record<string, number> = { accra: 0.148, dubai: 0.5 };
const WINDOW = 256;

const r3 = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(3)) : null);

// ── the model over the held-out windows, once ────────────────────────────────────────────────────────
/** The eval-real split: a source image is held out when its seeded hash falls past 70 %. */
const heldOut = (image: string) => {
  const h = createHash('sha1')
    .update(`7:${image.split('/').slice(-2).join('/')}`)
    .digest();
  return h.readUInt32BE(0) / 2 ** 32 >= 0.7;
};

interface Window {
  key: string;
  group: string;
  probs: Float32Array;
  mask: Uint8Array;
  /** Metres per model pixel. */
  gsd: number;
}

const t0 = performance.now();
const model = await loadModel(values.model);
const [H, W] = model.info.inputSize;
/** Metres per model pixel of a group's windows. */
const gsdOf = (group: string) => (SOURCE_GSD[group] ?? Number.NaN) * (WINDOW / W);
const windows: Window[] =
  values.cache && existsSync(values.cache) ? readCache(values.cache) : await inferWindows();
if (values.cache && !existsSync(values.cache)) writeCache(values.cache, windows);
await model.dispose();
const inferenceSeconds = (performance.now() - t0) / 1000;

function writeCache(path: string, ws: Window[]) {
  const meta = ws.map(({ key, group, gsd }) => ({ key, group, gsd }));
  const body = Buffer.alloc(ws.length * W * H * 5);
  ws.forEach((w, i) => {
    Buffer.from(w.probs.buffer, w.probs.byteOffset, W * H * 4).copy(body, i * W * H * 5);
    Buffer.from(w.mask).copy(body, i * W * H * 5 + W * H * 4);
  });
  writeFileSync(path, body);
  writeFileSync(`${path}.json`, JSON.stringify(meta));
}

function readCache(path: string): Window[] {
  const meta = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as Array<
    Pick<Window, 'key' | 'group' | 'gsd'>
  >;
  const body = readFileSync(path);
  return meta.map((m, i) => ({
    ...m,
    probs: new Float32Array(
      body.buffer.slice(body.byteOffset + i * W * H * 5, body.byteOffset + i * W * H * 5 + W * H * 4),
    ),
    mask: new Uint8Array(body.subarray(i * W * H * 5 + W * H * 4, (i + 1) * W * H * 5)),
  }));
}

async function inferWindows(): Promise<Window[]> {
  const source = await openManifestDataset(manifest, {
    groupColumn: 'dataset',
    groups: ['accra', 'dubai'],
    patchSize: WINDOW,
    edge: 'shift',
    split: (p) => (heldOut(p.image) ? 'held-out' : 'train'),
  });
  const windows: Window[] = [];
  let batch: Array<{ key: string; group: string; image: Uint8Array; mask: Uint8Array }> = [];
  const flush = async () => {
    if (!batch.length) return;
    const pixels = new Uint8Array(batch.length * WINDOW * WINDOW * 3);
    batch.forEach((b, i) => pixels.set(b.image, i * WINDOW * WINDOW * 3));
    const out = await model.predict(pixels, batch.length, [WINDOW, WINDOW]);
    batch.forEach((b, i) =>
      windows.push({
        key: b.key,
        group: b.group,
        probs: out.probs.slice(i * H * W, (i + 1) * H * W),
        mask: resizeMask(b.mask, WINDOW, WINDOW, H, W),
        gsd: gsdOf(b.group),
      }),
    );
    batch = [];
  };
  for await (const p of source.patches()) {
    if (p.split !== 'held-out') continue;
    batch.push({ key: p.key, group: p.group, image: p.image, mask: p.mask });
    if (batch.length === 16) await flush();
  }
  await flush();
  await source.close();
  return windows;
}

// ── planting and scoring, a kind at a time ───────────────────────────────────────────────────────────
const seed = Number(values.seed);
const share = Number(values.share);
/**
 * Sizes below are set for a model at 128 px; a model with more pixels on the same ground gets them in the same
 * ground terms (lengths × scale, areas × scale²), the detector's options included.
 */
const scale = W / LABEL_OBJECT_MODEL_SIDE;
const detector = labelObjectOptionsAtScale(scale);
const area128 = (a: number) => Math.round(a * scale * scale);
const shapes: Shape[] = windows.flatMap((w) =>
  footprints(w.mask, W, H, area128(20), area128(600))
    .slice(0, 3)
    .map((c) => shapeOf(c, W)),
);

function iou(probs: Float32Array, mask: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < mask.length; i++) {
    const p = probs[i] >= 0.5;
    if (p && mask[i]) inter++;
    if (p || mask[i]) union++;
  }
  return union ? inter / union : 1;
}

/** Pooled pixel IoU, precision and recall of the model against the clean labels of a group's windows. */
function pooledCounts(group: string) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const w of windows) {
    if (w.group !== group) continue;
    for (let i = 0; i < w.mask.length; i++) {
      const p = w.probs[i] >= 0.5;
      if (p && w.mask[i]) tp++;
      else if (p) fp++;
      else if (w.mask[i]) fn++;
    }
  }
  return { iou: r3(tp / (tp + fp + fn)), precision: r3(tp / (tp + fp)), recall: r3(tp / (tp + fn)) };
}

interface Candidate {
  window: number;
  object: FoundObject;
  evidence: number;
  planted: number;
}

function runKind(kind: PlantKind) {
  const rng = createRng(seed + kind.length * 7919);
  const plantedAll: Array<PlantedObject & { window: number; found: boolean }> = [];
  const candidates: Candidate[] = [];
  /** The detector's findings on the clean version of every planted window: the real-error background. */
  const background: Candidate[] = [];
  const windowScore: number[] = [];
  const windowBaseline: number[] = [];
  const windowPositive: boolean[] = [];
  const tagged = { right: 0, wrong: 0 };
  const shiftErrors: number[] = [];
  const shiftErrorsM: number[] = [];
  const areaFindings = {
    planted: 0,
    found: 0,
    shiftWithin2px: 0,
    shiftWithinHalfMetre: 0,
    reportedOnce: 0,
    cleanWithFinding: 0,
  };
  let cleanWindows = 0;
  windows.forEach((w, wi) => {
    const gsd = w.gsd;
    const pxPerMetre = 1 / gsd;
    let mask = w.mask;
    let planted: PlantedObject[] = [];
    if (rng.next() < share) {
      const r = plant(kind, w.mask, W, H, rng, {
        minArea: area128(20),
        maxArea: area128(2000),
        count: 1 + rng.int(2),
        shift: [1 * pxPerMetre, 3 * pxPerMetre],
        margin: Math.round(4 * scale),
        shapes,
      });
      mask = r.mask;
      planted = r.planted;
    }
    if (planted.length === 0) cleanWindows++;
    // Which planted object each pixel belongs to.
    const owner = new Int32Array(W * H).fill(-1);
    planted.forEach((p, k) => {
      for (const q of p.pixels) owner[q] = plantedAll.length + k;
    });
    plantedAll.push(...planted.map((p) => ({ ...p, window: wi, found: false })));
    const objects = findLabelObjects(w.probs, mask, W, H, detector);
    const area = findAreaOffset(objects, w.probs, mask, W, H, detector);
    let summary = 0;
    if (kind === 'area_offset') {
      summary = area?.score ?? 0;
      if (planted.length) {
        areaFindings.planted++;
        if (area && area.kind === 'area_offset') {
          areaFindings.found++;
          const error = Math.hypot(area.dx + planted[0].dx, area.dy + planted[0].dy);
          if (error <= 2) areaFindings.shiftWithin2px++;
          if (error * gsd <= 0.5) areaFindings.shiftWithinHalfMetre++;
          if (area.members > 0) areaFindings.reportedOnce++;
        }
      } else if (area && area.kind === 'area_offset') areaFindings.cleanWithFinding++;
    } else {
      const evidenceKey = kind === 'offset' ? 'offset' : kind === 'phantom' ? 'phantom' : 'missing';
      // An object is a planted one when half of it is that object or it covers half of that object; where
      // several do, the one with the most evidence is the find and the others are duplicates (false hits).
      const mine = objects.filter((o) => (kind === 'missing') === (o.from === 'prediction'));
      const matchOf = mine.map((o) => {
        const overlap = new Map<number, number>();
        for (const q of o.pixels) if (owner[q] >= 0) overlap.set(owner[q], (overlap.get(owner[q]) ?? 0) + 1);
        for (const [who, n] of overlap)
          if (n * 2 >= o.pixels.length || n * 2 >= plantedAll[who].pixels.length) return who;
        return -1;
      });
      const byEvidence = mine.map((_, i) => i).sort((a, b) => mine[b][evidenceKey] - mine[a][evidenceKey]);
      for (const i of byEvidence) {
        const o = mine[i];
        const who = matchOf[i];
        const fresh = who >= 0 && !plantedAll[who].found;
        if (fresh) {
          plantedAll[who].found = true;
          if (o.kind === kind) tagged.right++;
          else tagged.wrong++;
          if (kind === 'offset' && o.shift) {
            const error = Math.hypot(o.shift.dx + plantedAll[who].dx, o.shift.dy + plantedAll[who].dy);
            shiftErrors.push(error);
            shiftErrorsM.push(error * gsd);
          }
        }
        candidates.push({ window: wi, object: o, evidence: o[evidenceKey], planted: fresh ? who : -1 });
        summary = Math.max(summary, o[evidenceKey]);
      }
      if (planted.length) {
        for (const o of findLabelObjects(w.probs, w.mask, W, H, detector))
          if ((kind === 'missing') === (o.from === 'prediction'))
            background.push({ window: wi, object: o, evidence: o[evidenceKey], planted: -1 });
      }
    }
    windowScore.push(summary);
    windowBaseline.push(1 - iou(w.probs, mask));
    windowPositive.push(planted.length > 0);
  });
  const order = candidates.map((_, i) => i).sort((a, b) => candidates[b].evidence - candidates[a].evidence);
  const isPos = (i: number) => candidates[i].planted >= 0;
  // Planted objects never found as a candidate count as missed: AP over all of them, not over those found.
  const found = candidates.filter((c) => c.planted >= 0).length;
  const apObjects = (averagePrecision(order, isPos) * found) / Math.max(1, plantedAll.length);
  const apObjectsOf = (g: string) => {
    const mine = order.filter((i) => windows[candidates[i].window].group === g);
    const hits = mine.filter(isPos).length;
    const planted = plantedAll.filter((p) => windows[p.window].group === g).length;
    return r3((averagePrecision(mine, isPos) * hits) / Math.max(1, planted));
  };
  // The fair figure: each planted object against only what the detector finds in the same windows before
  // planting — the real label errors (and model mistakes) a reviewer of those windows would see anyway.
  const fairPool = [...candidates.filter((c) => c.planted >= 0), ...background];
  const fairOf = (g?: string) => {
    const pool = fairPool.filter((c) => !g || windows[c.window].group === g);
    const ranked = pool.map((_, i) => i).sort((a, b) => pool[b].evidence - pool[a].evidence);
    const hits = pool.filter((c) => c.planted >= 0).length;
    const planted = plantedAll.filter((p) => !g || windows[p.window].group === g).length;
    return r3((averagePrecision(ranked, (i) => pool[i].planted >= 0) * hits) / Math.max(1, planted));
  };
  // What the top of the strict ranking holds besides planted objects: for missing, how many look like real
  // unmapped buildings by the model's own measure (sure of it, at least 20 m², compact).
  const looksLikeBuilding = (c: Candidate) => {
    const gsd = windows[c.window].gsd;
    return c.object.meanProb >= 0.7 && c.object.area * gsd * gsd >= 20 && c.object.measures.extent >= 0.5;
  };
  const topFalse = order.slice(0, plantedAll.length).filter((i) => !isPos(i));
  const seenUnder = (p: PlantedObject & { window: number }) => {
    const probs = windows[p.window].probs;
    let s = 0;
    for (const q of p.pixels) s += probs[q];
    return s / Math.max(1, p.pixels.length) >= 0.5;
  };
  // The model's own outline noise: how far the search moves footprints nobody moved.
  const unplantedShift = (g: string) => {
    const lens = candidates
      .filter((c) => c.planted < 0 && c.object.shift && windows[c.window].group === g)
      .map((c) => Math.hypot(c.object.shift!.dx, c.object.shift!.dy))
      .sort((a, b) => a - b);
    const moved = lens.filter((l) => l >= scale);
    const gsd = gsdOf(g);
    const median = moved[Math.floor(moved.length / 2)] ?? Number.NaN;
    return {
      movedShare: r3(moved.length / Math.max(1, lens.length)),
      medianMovedPx: r3(median),
      medianMovedM: r3(median * gsd),
    };
  };
  const diagnosis = {
    ...(kind === 'missing'
      ? {}
      : { unplantedFootprintsShift: { accra: unplantedShift('accra'), dubai: unplantedShift('dubai') } }),
    topFalseHits: topFalse.length,
    topFalseHitsLikeBuildings: topFalse.filter((i) => looksLikeBuilding(candidates[i])).length,
    plantedOverPrediction: Object.fromEntries(
      ['accra', 'dubai'].map((g) => [
        g,
        r3(
          plantedAll.filter((p) => windows[p.window].group === g && seenUnder(p)).length /
            Math.max(1, plantedAll.filter((p) => windows[p.window].group === g).length),
        ),
      ]),
    ),
  };
  const wOrder = (s: number[]) => s.map((_, i) => i).sort((a, b) => s[b] - s[a] || a - b);
  const wPos = (i: number) => windowPositive[i];
  const positives = windowPositive.filter(Boolean).length;
  shiftErrors.sort((a, b) => a - b);
  shiftErrorsM.sort((a, b) => a - b);
  if (values.dump) {
    const line = (c: Candidate, set: string) =>
      JSON.stringify({
        set,
        g: windows[c.window].group,
        w: c.window,
        pl: c.planted >= 0 ? [plantedAll[c.planted].dx, plantedAll[c.planted].dy] : null,
        ev: c.evidence,
        ...c.object,
        outline: undefined,
        pixels: undefined,
      });
    const planted = plantedAll.map((p) => {
      const probs = windows[p.window].probs;
      let s = 0;
      for (const q of p.pixels) s += probs[q];
      return JSON.stringify({
        set: 'planted',
        g: windows[p.window].group,
        w: p.window,
        found: p.found,
        n: p.pixels.length,
        mp: s / p.pixels.length,
        dx: p.dx,
        dy: p.dy,
      });
    });
    writeFileSync(
      `${values.dump}-${kind}.jsonl`,
      [...candidates.map((c) => line(c, 'cand')), ...background.map((c) => line(c, 'bg')), ...planted].join(
        '\n',
      ) + '\n',
    );
  }
  return {
    windows: windows.length,
    plantedWindows: positives,
    ...(kind === 'area_offset'
      ? { areaFindings }
      : {
          objects: {
            planted: plantedAll.length,
            candidates: candidates.length,
            ap: r3(apObjects),
            apByGroup: { accra: apObjectsOf('accra'), dubai: apObjectsOf('dubai') },
            precisionAtPlanted: r3(precisionAtK(order, isPos, plantedAll.length)),
            precisionAt20: r3(precisionAtK(order, isPos, 20)),
            foundAsCandidate: found,
            fairAp: fairOf(),
            fairApByGroup: { accra: fairOf('accra'), dubai: fairOf('dubai') },
            fairBackground: background.length,
            diagnosis,
            taggingAccuracy: r3(tagged.right / Math.max(1, tagged.right + tagged.wrong)),
            // The other side of tagging: of the objects tagged with the kind, the share that were planted.
            taggedPlanted: r3(
              candidates.filter((c) => c.object.kind === kind && c.planted >= 0).length /
                Math.max(1, candidates.filter((c) => c.object.kind === kind).length),
            ),
            ...(kind === 'offset'
              ? {
                  shiftErrorPx: {
                    median: r3(shiftErrors[Math.floor(shiftErrors.length / 2)]),
                    within2px: r3(shiftErrors.filter((e) => e <= 2).length / Math.max(1, shiftErrors.length)),
                  },
                  shiftErrorM: {
                    median: r3(shiftErrorsM[Math.floor(shiftErrorsM.length / 2)]),
                    withinHalfMetre: r3(
                      shiftErrorsM.filter((e) => e <= 0.5).length / Math.max(1, shiftErrorsM.length),
                    ),
                  },
                }
              : {}),
          },
        }),
    windowsAp: {
      evidence: r3(averagePrecision(wOrder(windowScore), wPos)),
      oneMinusIou: r3(averagePrecision(wOrder(windowBaseline), wPos)),
      baseRate: r3(positives / windows.length),
      evidencePrecisionAtPlanted: r3(precisionAtK(wOrder(windowScore), wPos, positives)),
      oneMinusIouPrecisionAtPlanted: r3(precisionAtK(wOrder(windowBaseline), wPos, positives)),
    },
    windowsApByGroup: Object.fromEntries(
      ['accra', 'dubai'].map((g) => {
        const inGroup = (i: number) => windows[i].group === g;
        const order = (sc: number[]) => wOrder(sc).filter(inGroup);
        return [
          g,
          {
            evidence: r3(averagePrecision(order(windowScore), wPos)),
            oneMinusIou: r3(averagePrecision(order(windowBaseline), wPos)),
            baseRate: r3(
              windowPositive.filter((v, i) => v && inGroup(i)).length /
                windows.filter((w) => w.group === g).length,
            ),
          },
        ];
      }),
    ),
    cleanWindows,
  };
}

const kinds = values.kinds.split(',') as PlantKind[];
const result: Record<string, unknown> = {
  model: relative(repoRoot, resolve(values.model)),
  seed,
  windows: windows.length,
  byGroup: Object.fromEntries(
    ['accra', 'dubai'].map((g) => [g, windows.filter((w) => w.group === g).length]),
  ),
  metresPerModelPixel: Object.fromEntries(Object.keys(SOURCE_GSD).map((g) => [g, r3(gsdOf(g))])),
  inferenceSeconds: r3(inferenceSeconds),
  // How good the model is on the clean windows: the evidence can be no better than this.
  modelByGroup: Object.fromEntries(['accra', 'dubai'].map((g) => [g, pooledCounts(g)])),
};
for (const kind of kinds) {
  const t = performance.now();
  const r = runKind(kind);
  result[kind] = { ...r, seconds: r3((performance.now() - t) / 1000) };
  console.error(`${kind}:`, JSON.stringify(r));
}
console.log(JSON.stringify(result));
