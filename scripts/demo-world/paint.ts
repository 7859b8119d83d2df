/**
 * Paints one 256×256 tile of the demo world as RGB (HWC, uint8) straight into typed arrays:
 * ground texture, roads, planted surfaces, shadows, roofs, trees, cars. Light comes from the
 * north-west, so shadows fall south-east, as in morning imagery south of the equator.
 */
import { fillPolygonPixels, forEachPolygonSpan } from '../../server/lib/geo/rasterize.ts';
import { TILE, tileIndex, type District, type TilePlan, type WorldPlan } from './layout.ts';
import {
  circleRing,
  objectsForTile,
  ringBBox,
  SUBURB_BLOCK,
  SUBURB_STREET,
  TOWN_BLOCK,
  TOWN_STREET,
  type Building,
  type RGB,
  type Ring,
  type TileObjects,
} from './objects.ts';
import { addValueNoise, hash01, hashInts } from './random.ts';

const N = TILE * TILE;

export interface RenderedTile {
  rgb: Uint8Array;
  /** 1 where a building roof is visible in the imagery. */
  visible: Uint8Array;
  /** 1 where the ground truth footprints (including planted errors) cover the tile. */
  groundTruth: Uint8Array;
  /** Buildings this tile generated (each building has exactly one such tile): its footprints to write. */
  ownBuildings: Building[];
}

interface Ground {
  base: RGB;
  /** Colour direction of the low-frequency noise (patches of dry / lush ground). */
  tint: RGB;
  lowAmp: number;
  midAmp: number;
  grain: number;
}

const GROUND: Record<District, Ground> = {
  dense_town: { base: [168, 156, 138], tint: [1, 0.9, 0.8], lowAmp: 40, midAmp: 22, grain: 14 },
  suburb: { base: [112, 128, 76], tint: [1.2, 0.5, 0.6], lowAmp: 70, midAmp: 26, grain: 14 },
  farmland: { base: [140, 135, 90], tint: [1, 1, 0.6], lowAmp: 30, midAmp: 16, grain: 12 },
  forest: { base: [40, 58, 34], tint: [0.6, 1, 0.5], lowAmp: 25, midAmp: 18, grain: 10 },
  bare: { base: [198, 176, 138], tint: [1, 0.9, 0.75], lowAmp: 45, midAmp: 30, grain: 16 },
  sahel_village: { base: [178, 110, 74], tint: [1, 0.75, 0.55], lowAmp: 40, midAmp: 22, grain: 14 },
  sahel_bush: { base: [170, 128, 84], tint: [0.9, 1, 0.6], lowAmp: 60, midAmp: 26, grain: 16 },
  camp: { base: [186, 150, 112], tint: [1, 0.9, 0.7], lowAmp: 35, midAmp: 20, grain: 14 },
};

const FIELD_PALETTE: RGB[] = [
  [96, 128, 58],
  [118, 140, 66],
  [170, 150, 92],
  [150, 112, 78],
  [132, 104, 72],
  [188, 170, 110],
  [84, 112, 52],
];

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Objects of the 3×3 tiles around a tile; a small cache keeps neighbours painted in order cheap. */
export class ObjectCache {
  private readonly cache = new Map<number, TileObjects>();
  constructor(
    private readonly plan: WorldPlan,
    private readonly limit = 256,
  ) {}

  get(x: number, y: number): TileObjects | undefined {
    const key = tileIndex(x, y);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const t = this.plan.tiles.get(key);
    if (!t) return undefined;
    const objs = objectsForTile(this.plan, t);
    this.cache.set(key, objs);
    if (this.cache.size > this.limit) this.cache.delete(this.cache.keys().next().value as number);
    return objs;
  }
}

function toLocal(ring: Ring, ox: number, oy: number, dx = 0, dy = 0): Ring {
  return ring.map(([x, y]) => [x - ox + dx, y - oy + dy] as [number, number]);
}

function touches(ring: Ring, ox: number, oy: number, margin: number): boolean {
  const [x0, y0, x1, y1] = ringBBox(ring);
  return x1 + margin > ox && x0 - margin < ox + TILE && y1 + margin > oy && y0 - margin < oy + TILE;
}

function paintGround(rgb: Uint8Array, plan: WorldPlan, t: TilePlan, ox: number, oy: number): void {
  const g = GROUND[t.district];
  const low = new Float32Array(N);
  const mid = new Float32Array(N);
  addValueNoise(low, ox, oy, TILE, 70, plan.seed ^ 0x1111, 1);
  addValueNoise(low, ox, oy, TILE, 31, plan.seed ^ 0x2222, 0.5);
  addValueNoise(mid, ox, oy, TILE, 9, plan.seed ^ 0x3333, 1);
  addValueNoise(mid, ox, oy, TILE, 3, plan.seed ^ 0x4444, 0.6);
  const angle = 0.18 + 0.2 * hash01(plan.seed, 77);
  const ca = Math.cos(angle);
  const sa = Math.sin(angle);
  const town = t.district === 'dense_town';
  const street = town || t.district === 'suburb';
  const period = town ? TOWN_BLOCK : SUBURB_BLOCK;
  const width = town ? TOWN_STREET : SUBURB_STREET;
  let lastCu = NaN;
  let lastCv = NaN;
  let fieldHash = 0;
  for (let r = 0; r < TILE; r++) {
    const gy = oy + r;
    for (let c = 0; c < TILE; c++) {
      const gx = ox + c;
      const i = r * TILE + c;
      const grain = (hash01(gx, gy, plan.seed) - 0.5) * g.grain;
      const l = low[i] * g.lowAmp;
      const m = mid[i] * g.midAmp + grain;
      let R = g.base[0] + l * g.tint[0] + m;
      let G = g.base[1] + l * g.tint[1] + m;
      let B = g.base[2] + l * g.tint[2] + m;
      if (t.district === 'farmland') {
        // Fields: cells of a slightly rotated grid, each with its own crop colour and furrows.
        const u = gx * ca + gy * sa;
        const v = -gx * sa + gy * ca;
        const cu = Math.floor(u / 118);
        const cv = Math.floor(v / 84);
        if (cu !== lastCu || cv !== lastCv) {
          fieldHash = hashInts(plan.seed, cu, cv, 5);
          lastCu = cu;
          lastCv = cv;
        }
        const h = fieldHash;
        const f = FIELD_PALETTE[h % FIELD_PALETTE.length];
        // Furrows as a triangle wave across the field's rows (cheaper than a sine, looks the same).
        const phase = (h & 1 ? u : v) / (3 + ((h >>> 4) % 4));
        const furrow = (Math.abs(phase - Math.floor(phase) - 0.5) * 4 - 1) * 7;
        const edge = u - cu * 118 < 2.2 || v - cv * 84 < 2.2;
        R = f[0] + l * 0.5 + m * 0.6 + furrow;
        G = f[1] + l * 0.5 + m * 0.6 + furrow;
        B = f[2] + l * 0.4 + m * 0.6 + furrow;
        if (edge) {
          R = 110 + m;
          G = 98 + m;
          B = 70 + m;
        }
      } else if (street) {
        const mx = ((gx % period) + period) % period;
        const my = ((gy % period) + period) % period;
        if (mx < width || my < width) {
          const s = town ? 116 : 150;
          R = s + m * 0.5;
          G = s - 4 + m * 0.5;
          B = s - (town ? 6 : 22) + m * 0.5;
          // Worn wheel tracks down the middle of unpaved suburban streets.
          if (!town && (Math.abs(mx - width / 2) < 0.8 || Math.abs(my - width / 2) < 0.8)) {
            R -= 14;
            G -= 14;
            B -= 12;
          }
        }
      }
      rgb[i * 3] = clamp(R);
      rgb[i * 3 + 1] = clamp(G);
      rgb[i * 3 + 2] = clamp(B);
    }
  }
}

function paintRoads(rgb: Uint8Array, plan: WorldPlan, ox: number, oy: number): void {
  for (const road of plan.roads) {
    let along0 = 0;
    const half = road.width / 2;
    for (let s = 0; s + 1 < road.points.length; s++) {
      const [ax, ay] = road.points[s];
      const [bx, by] = road.points[s + 1];
      const dx = bx - ax;
      const dy = by - ay;
      const len = Math.hypot(dx, dy);
      const x0 = Math.max(ox, Math.floor(Math.min(ax, bx) - half - 1));
      const x1 = Math.min(ox + TILE, Math.ceil(Math.max(ax, bx) + half + 1));
      const y0 = Math.max(oy, Math.floor(Math.min(ay, by) - half - 1));
      const y1 = Math.min(oy + TILE, Math.ceil(Math.max(ay, by) + half + 1));
      for (let gy = y0; gy < y1; gy++) {
        for (let gx = x0; gx < x1; gx++) {
          const px = gx + 0.5 - ax;
          const py = gy + 0.5 - ay;
          const tRaw = (px * dx + py * dy) / (len * len);
          const tt = Math.max(0, Math.min(1, tRaw));
          const d = Math.hypot(px - tt * dx, py - tt * dy);
          if (d >= half) continue;
          const i = ((gy - oy) * TILE + (gx - ox)) * 3;
          const grain = (hash01(gx, gy, plan.seed, 9) - 0.5) * 10;
          let c: RGB;
          if (road.kind === 'asphalt') {
            const along = along0 + tt * len;
            if (d > half - 1.3) c = [150, 146, 138];
            else if (d < 0.7 && along % 14 < 7) c = [225, 205, 120];
            else c = [86, 86, 90];
          } else {
            c = Math.abs(d - half * 0.45) < 0.9 ? [165, 112, 78] : [196, 146, 104];
          }
          rgb[i] = clamp(c[0] + grain);
          rgb[i + 1] = clamp(c[1] + grain);
          rgb[i + 2] = clamp(c[2] + grain);
        }
      }
      along0 += len;
    }
  }
}

function paintPlantedSurface(rgb: Uint8Array, plan: WorldPlan, t: TilePlan, ox: number, oy: number): void {
  if (!t.planted || !t.plantedRect) return;
  const [x0, y0, x1, y1] = t.plantedRect;
  const base: RGB =
    t.planted === 'parking_lot'
      ? [100, 100, 104]
      : t.planted === 'cemetery'
        ? [128, 138, 84]
        : [168, 126, 90];
  const amp = t.planted === 'construction_site' ? 34 : 14;
  const mid = new Float32Array(N);
  addValueNoise(mid, ox, oy, TILE, 12, plan.seed ^ 0x5555, 1);
  for (let r = y0; r < y1; r++) {
    for (let c = x0; c < x1; c++) {
      const i = r * TILE + c;
      const kerb = t.planted === 'parking_lot' && (r - y0 < 2 || y1 - r <= 2 || c - x0 < 2 || x1 - c <= 2);
      const n = mid[i] * amp + (hash01(ox + c, oy + r, plan.seed, 3) - 0.5) * 12;
      rgb[i * 3] = clamp((kerb ? 190 : base[0]) + n);
      rgb[i * 3 + 1] = clamp((kerb ? 188 : base[1]) + n);
      rgb[i * 3 + 2] = clamp((kerb ? 180 : base[2]) + n * 0.8);
    }
  }
}

function fillFlat(
  rgb: Uint8Array,
  ring: Ring,
  color: RGB,
  seed: number,
  ox: number,
  oy: number,
  grain = 8,
): void {
  forEachPolygonSpan([ring], TILE, (row, a, b) => {
    for (let c = a; c < b; c++) {
      const i = (row * TILE + c) * 3;
      const n = (hash01(ox + c, oy + row, seed, 21) - 0.5) * grain;
      rgb[i] = clamp(color[0] + n);
      rgb[i + 1] = clamp(color[1] + n);
      rgb[i + 2] = clamp(color[2] + n);
    }
  });
}

function multiply(rgb: Uint8Array, ring: Ring, factor: number): void {
  forEachPolygonSpan([ring], TILE, (row, a, b) => {
    for (let i = (row * TILE + a) * 3, end = (row * TILE + b) * 3; i < end; i++) rgb[i] = rgb[i] * factor;
  });
}

function paintRoof(
  rgb: Uint8Array,
  visible: Uint8Array,
  b: Building,
  ring: Ring,
  ox: number,
  oy: number,
  seed: number,
): void {
  const cx = b.centre[0] - ox;
  const cy = b.centre[1] - oy;
  const [ax, ay] = b.axis;
  const [bx0, by0, bx1] = ringBBox(ring);
  const radius = Math.max(1, (bx1 - bx0) / 2);
  forEachPolygonSpan([ring], TILE, (row, a, e) => {
    for (let c = a; c < e; c++) {
      const px = c + 0.5 - cx;
      const py = row + 0.5 - cy;
      let shade = 1;
      if (b.style === 'gable') {
        const side = -px * ay + py * ax; // signed distance across the ridge
        const facesLight = side * (ay - ax) < 0;
        shade = Math.abs(side) < 0.7 ? 1.12 : facesLight ? 1.08 : 0.8;
      } else if (b.style === 'metal') {
        shade =
          1 + 0.07 * Math.sin((px * ax + py * ay) * 2.6) + (Math.abs(-px * ay + py * ax) < 0.6 ? 0.06 : 0);
      } else if (b.style === 'thatch') {
        const d = Math.hypot(px, py) / radius;
        shade = 1.02 - 0.28 * d - 0.16 * ((px + py) / (radius * 1.5)) + 0.08 * Math.sin(d * 9);
      } else if (b.style === 'tent') {
        // Canvas over a frame: a lit ridge along the long axis, sagging sides.
        const side = Math.abs(-px * ay + py * ax);
        shade = side < 0.8 ? 1.1 : 0.97 - 0.03 * side;
      } else {
        shade = row - by0 < 1.2 ? 0.9 : 1; // parapet edge catches less light
      }
      const n = (hash01(ox + c, oy + row, seed, 31) - 0.5) * (b.style === 'thatch' ? 22 : 9);
      const i = row * TILE + c;
      rgb[i * 3] = clamp(b.roof[0] * shade + n);
      rgb[i * 3 + 1] = clamp(b.roof[1] * shade + n);
      rgb[i * 3 + 2] = clamp(b.roof[2] * shade + n);
      visible[i] = 1;
    }
  });
}

function paintTree(
  rgb: Uint8Array,
  visible: Uint8Array,
  x: number,
  y: number,
  r: number,
  tone: RGB,
  seed: number,
  ox: number,
  oy: number,
): void {
  forEachPolygonSpan([circleRing(x, y, r, 14)], TILE, (row, a, e) => {
    for (let c = a; c < e; c++) {
      const dx = (c + 0.5 - x) / r;
      const dy = (row + 0.5 - y) / r;
      const d2 = dx * dx + dy * dy;
      // Lit from the north-west, darker rim, and leafy speckle.
      const light =
        1.05 - 0.35 * (dx + dy) * 0.5 - 0.3 * d2 + (hash01(ox + c, oy + row, seed, 41) - 0.5) * 0.35;
      const i = row * TILE + c;
      rgb[i * 3] = clamp(tone[0] * light);
      rgb[i * 3 + 1] = clamp(tone[1] * light);
      rgb[i * 3 + 2] = clamp(tone[2] * light);
      visible[i] = 0;
    }
  });
}

export function renderTile(plan: WorldPlan, cache: ObjectCache, t: TilePlan): RenderedTile {
  const ox = t.x * TILE;
  const oy = t.y * TILE;
  const rgb = new Uint8Array(N * 3);
  const visible = new Uint8Array(N);
  const groundTruth = new Uint8Array(N);
  const shadow = new Uint8Array(N);
  paintGround(rgb, plan, t, ox, oy);
  paintRoads(rgb, plan, ox, oy);
  paintPlantedSurface(rgb, plan, t, ox, oy);

  const near: TileObjects[] = [];
  let own: TileObjects | undefined;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const o = cache.get(t.x + dx, t.y + dy);
      if (!o) continue;
      near.push(o);
      if (dx === 0 && dy === 0) own = o;
    }
  }
  const margin = 12;
  const things = near.flatMap((o) => o.things).filter((th) => touches(th.ring, ox, oy, margin));
  const buildings = near.flatMap((o) => o.buildings).filter((b) => touches(b.ring, ox, oy, margin));
  const trees = near
    .flatMap((o) => o.trees)
    .filter(
      (tr) =>
        tr.x + tr.r + margin > ox &&
        tr.x - tr.r - margin < ox + TILE &&
        tr.y + tr.r + margin > oy &&
        tr.y - tr.r - margin < oy + TILE,
    );

  for (const th of things) {
    if (th.kind === 'yard' || th.kind === 'garden')
      fillFlat(rgb, toLocal(th.ring, ox, oy), th.color, plan.seed, ox, oy, 14);
  }
  for (const th of things) if (th.kind === 'track') multiply(rgb, toLocal(th.ring, ox, oy), 0.78);
  for (const th of things)
    if (th.kind === 'marking') fillFlat(rgb, toLocal(th.ring, ox, oy), th.color, plan.seed, ox, oy, 6);

  // Shadows: the outline swept south-east over its height, gathered in one mask so overlaps do not darken twice.
  const sweep = (ring: Ring, h: number) => {
    for (let k = 1; k <= Math.ceil(h); k++) {
      const d = (Math.min(k, h) / Math.SQRT2) * 1.0;
      fillPolygonPixels([toLocal(ring, ox, oy, d, d)], TILE, shadow, 1);
    }
  };
  for (const b of buildings) if (!b.planted) sweep(b.ring, b.height);
  for (const th of things) if (th.height > 0) sweep(th.ring, th.height);
  for (const tr of trees)
    fillPolygonPixels(
      [toLocal(circleRing(tr.x + tr.r * 0.5, tr.y + tr.r * 0.5, tr.r, 12), ox, oy)],
      TILE,
      shadow,
      1,
    );
  for (let i = 0; i < N; i++) {
    if (shadow[i]) {
      rgb[i * 3] *= 0.55;
      rgb[i * 3 + 1] *= 0.57;
      rgb[i * 3 + 2] *= 0.62;
    }
  }

  for (const b of buildings) {
    const ring = toLocal(b.ring, ox, oy);
    fillPolygonPixels([ring], TILE, groundTruth, 1);
    if (!b.planted) paintRoof(rgb, visible, b, ring, ox, oy, plan.seed);
  }
  for (const th of things) {
    if (th.kind === 'car' || th.kind === 'grave' || th.kind === 'machine' || th.kind === 'pile') {
      fillFlat(rgb, toLocal(th.ring, ox, oy), th.color, plan.seed, ox, oy, th.kind === 'pile' ? 30 : 8);
    }
  }
  for (const tr of trees) paintTree(rgb, visible, tr.x - ox, tr.y - oy, tr.r, tr.tone, plan.seed, ox, oy);

  return { rgb, visible, groundTruth, ownBuildings: own?.buildings ?? [] };
}
