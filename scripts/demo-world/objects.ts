/**
 * Objects of one tile (buildings, trees, cars, graves, machines …) in world pixels at zoom 18.
 * `objectsForTile` is a pure function of the plan and the tile, so a painter can ask for a
 * neighbour's objects (those crossing the shared edge) without anything being stored globally.
 */
import { TILE, tileIndex, type District, type Road, type TilePlan, type WorldPlan } from './layout.ts';
import { hashInts, mulberry32, type Rng } from './random.ts';

export type RGB = [number, number, number];
export type Ring = Array<[number, number]>;
export type RoofStyle = 'gable' | 'flat' | 'metal' | 'thatch' | 'tent';

export interface Building {
  ring: Ring;
  centre: [number, number];
  /** Unit vector along the ridge (gable) or the corrugation (metal). */
  axis: [number, number];
  kind: 'town_block' | 'house' | 'farm_building' | 'hut_round' | 'hut_rect' | 'compound_building' | 'shelter';
  style: RoofStyle;
  roof: RGB;
  /** Shadow length in pixels. */
  height: number;
  /** In the ground truth but not in the imagery (a construction site mapped before it was built). */
  planted: boolean;
  district: District;
}

export interface Tree {
  x: number;
  y: number;
  r: number;
  tone: RGB;
}

/** Small flat things painted over the ground: cars, graves, machines, piles, markings, yards. */
export interface Thing {
  ring: Ring;
  kind: 'car' | 'grave' | 'machine' | 'pile' | 'marking' | 'track' | 'yard' | 'garden';
  color: RGB;
  /** Shadow length in pixels (0: flat). */
  height: number;
}

export interface TileObjects {
  buildings: Building[];
  trees: Tree[];
  things: Thing[];
}

export const TOWN_BLOCK = 72;
export const TOWN_STREET = 8;
export const SUBURB_BLOCK = 192;
export const SUBURB_STREET = 7;

const ROOFS: Record<string, RGB[]> = {
  metal: [
    [150, 158, 165],
    [168, 172, 176],
    [120, 135, 150],
    [80, 115, 140],
    [95, 125, 95],
    [140, 90, 70],
  ],
  tile: [
    [172, 88, 62],
    [155, 75, 55],
    [185, 110, 80],
  ],
  concrete: [
    [200, 196, 186],
    [222, 220, 212],
    [176, 172, 165],
    [105, 104, 108],
  ],
  thatch: [
    [160, 130, 85],
    [175, 145, 95],
    [140, 112, 72],
  ],
  /** Canvas tents of a relief camp: khaki, olive and sand, colours no training roof has. */
  tent: [
    [176, 160, 120],
    [112, 118, 80],
    [200, 170, 125],
    [128, 132, 108],
  ],
};
const CAR_COLOURS: RGB[] = [
  [235, 235, 235],
  [200, 202, 205],
  [30, 30, 34],
  [150, 20, 25],
  [30, 60, 130],
  [95, 98, 102],
  [230, 230, 225],
  [120, 20, 20],
];

export function orientedRect(cx: number, cy: number, w: number, h: number, angle: number): Ring {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const hw = w / 2;
  const hh = h / 2;
  return [
    [-hw, -hh],
    [hw, -hh],
    [hw, hh],
    [-hw, hh],
  ].map(([x, y]) => [cx + x * c - y * s, cy + x * s + y * c] as [number, number]);
}

export function circleRing(cx: number, cy: number, r: number, n = 16): Ring {
  return Array.from({ length: n }, (_, i) => {
    const a = (i / n) * 2 * Math.PI;
    return [cx + r * Math.cos(a), cy + r * Math.sin(a)] as [number, number];
  });
}

export function ringBBox(ring: Ring): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of ring) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

function distToSegment(px: number, py: number, a: [number, number], b: [number, number]): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const t = Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - a[0] - t * dx, py - a[1] - t * dy);
}

export function distToRoad(px: number, py: number, road: Road): number {
  let d = Infinity;
  for (let i = 0; i + 1 < road.points.length; i++)
    d = Math.min(d, distToSegment(px, py, road.points[i], road.points[i + 1]));
  return d;
}

/** Distance from a world pixel to the local street grid of a district (Infinity if it has none). */
export function distToStreetGrid(district: District, px: number, py: number): number {
  const grid =
    district === 'dense_town'
      ? [TOWN_BLOCK, TOWN_STREET]
      : district === 'suburb'
        ? [SUBURB_BLOCK, SUBURB_STREET]
        : null;
  if (!grid) return Infinity;
  const [period, width] = grid;
  const along = (v: number) => {
    const m = ((v % period) + period) % period;
    // The street occupies [0, width) of each period.
    return m < width ? 0 : Math.min(m - width, period - m);
  };
  return Math.min(along(px), along(py));
}

class Placer {
  readonly out: TileObjects = { buildings: [], trees: [], things: [] };
  private readonly taken: Array<[number, number, number, number]> = [];

  constructor(
    private readonly plan: WorldPlan,
    private readonly tile: TilePlan,
  ) {}

  /** Clear of roads, streets, planted tiles and what this tile already holds. */
  free(ring: Ring, gap: number): boolean {
    const [x0, y0, x1, y1] = ringBBox(ring);
    for (let ty = Math.floor(y0 / TILE); ty <= Math.floor(y1 / TILE); ty++) {
      for (let tx = Math.floor(x0 / TILE); tx <= Math.floor(x1 / TILE); tx++) {
        const other = this.plan.tiles.get(tileIndex(tx, ty));
        if (other && other !== this.tile && other.planted) return false;
      }
    }
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    const radius = Math.hypot(x1 - x0, y1 - y0) / 2;
    for (const road of this.plan.roads)
      if (distToRoad(cx, cy, road) < road.width / 2 + radius + gap) return false;
    for (const [px, py] of [[cx, cy], ...ring]) {
      const home = this.plan.tiles.get(tileIndex(Math.floor(px / TILE), Math.floor(py / TILE)));
      if (home && distToStreetGrid(home.district, px, py) < 1.5) return false;
    }
    for (const [a0, b0, a1, b1] of this.taken) {
      if (x0 - gap < a1 && x1 + gap > a0 && y0 - gap < b1 && y1 + gap > b0) return false;
    }
    return true;
  }

  take(ring: Ring): void {
    this.taken.push(ringBBox(ring));
  }

  building(
    rng: Rng,
    b: Omit<Building, 'centre' | 'district' | 'planted' | 'axis'> & { angle: number; planted?: boolean },
    gap = 2,
  ): boolean {
    if (!b.planted && !this.free(b.ring, gap)) return false;
    const [x0, y0, x1, y1] = ringBBox(b.ring);
    this.take(b.ring);
    this.out.buildings.push({
      ring: b.ring,
      centre: [(x0 + x1) / 2, (y0 + y1) / 2],
      axis: [Math.cos(b.angle), Math.sin(b.angle)],
      kind: b.kind,
      style: b.style,
      roof: jitter(rng, b.roof, 10),
      height: b.height,
      planted: b.planted ?? false,
      district: this.tile.district,
    });
    return true;
  }

  tree(x: number, y: number, r: number, tone: RGB, rng: Rng, checkRoads = true): void {
    const ring = orientedRect(x, y, 2 * r, 2 * r, 0);
    if (checkRoads && !this.free(ring, -r * 0.6)) return;
    this.out.trees.push({ x, y, r, tone: jitter(rng, tone, 12) });
  }

  thing(t: Thing): void {
    this.out.things.push(t);
  }
}

function jitter(rng: Rng, c: RGB, amount: number): RGB {
  const d = rng.range(-amount, amount);
  return [c[0] + d + rng.range(-4, 4), c[1] + d + rng.range(-4, 4), c[2] + d + rng.range(-4, 4)];
}

function roofFor(rng: Rng, district: District): { roof: RGB; style: RoofStyle } {
  const u = rng();
  if (district === 'dense_town') {
    if (u < 0.45) return { roof: rng.pick(ROOFS.metal), style: 'metal' };
    if (u < 0.75) return { roof: rng.pick(ROOFS.concrete), style: 'flat' };
    return { roof: rng.pick(ROOFS.tile), style: 'gable' };
  }
  if (u < 0.45) return { roof: rng.pick(ROOFS.tile), style: 'gable' };
  if (u < 0.8) return { roof: rng.pick(ROOFS.metal), style: 'metal' };
  return { roof: rng.pick(ROOFS.concrete), style: 'flat' };
}

function house(
  p: Placer,
  rng: Rng,
  district: District,
  cx: number,
  cy: number,
  angle: number,
  kind: Building['kind'],
  scale = 1,
): boolean {
  const w = rng.range(13, 22) * scale;
  const h = rng.range(9, 14) * scale;
  const { roof, style } = roofFor(rng, district);
  return p.building(rng, {
    ring: orientedRect(cx, cy, w, h, angle),
    kind,
    style,
    roof,
    height: rng.range(3, 5),
    angle,
  });
}

function hutCompound(p: Placer, rng: Rng, cx: number, cy: number, huts: number): void {
  const yardR = rng.range(14, 24);
  p.thing({ ring: circleRing(cx, cy, yardR + 2, 20), kind: 'yard', color: [150, 92, 62], height: 0 });
  p.thing({ ring: circleRing(cx, cy, yardR, 20), kind: 'yard', color: [196, 132, 92], height: 0 });
  for (let i = 0, tries = 0; i < huts && tries < 30; tries++) {
    const a = rng.range(0, 2 * Math.PI);
    const d = rng.range(0, yardR - 6);
    const hx = cx + Math.cos(a) * d;
    const hy = cy + Math.sin(a) * d;
    const ok = rng.chance(0.7)
      ? p.building(
          rng,
          {
            ring: circleRing(hx, hy, rng.range(3.5, 6), 14),
            kind: 'hut_round',
            style: 'thatch',
            roof: rng.pick(ROOFS.thatch),
            height: rng.range(2, 3),
            angle: 0,
          },
          1,
        )
      : p.building(
          rng,
          {
            ring: orientedRect(hx, hy, rng.range(8, 12), rng.range(6, 9), rng.range(0, Math.PI)),
            kind: 'hut_rect',
            style: 'metal',
            roof: rng.pick(ROOFS.metal),
            height: 2.5,
            angle: rng.range(0, Math.PI),
          },
          1,
        );
    if (ok) i++;
  }
}

function plantedArea(p: Placer, rng: Rng, t: TilePlan, ox: number, oy: number): void {
  const [rx0, ry0, rx1, ry1] = t.plantedRect ?? [0, 0, TILE, TILE];
  const x0 = ox + rx0;
  const y0 = oy + ry0;
  const x1 = ox + rx1;
  const y1 = oy + ry1;
  if (t.planted === 'parking_lot') {
    for (let y = y0 + 6; y + 17 < y1; y += 27) {
      for (const [rowY, dir] of [
        [y, 1],
        [y + 9, -1],
      ] as const) {
        for (let x = x0 + 4; x + 5 < x1; x += 5) {
          p.thing({
            ring: orientedRect(x, rowY + 4, 0.8, 8, 0),
            kind: 'marking',
            color: [225, 225, 220],
            height: 0,
          });
          if (rng.chance(0.72)) {
            const c = rng.pick(CAR_COLOURS);
            p.thing({
              ring: orientedRect(x + 2.5, rowY + 4 + dir * 0.3, 3.2, 7.2, rng.range(-0.06, 0.06)),
              kind: 'car',
              color: c,
              height: 1.5,
            });
          }
        }
      }
    }
  } else if (t.planted === 'cemetery') {
    const pathX = (x0 + x1) / 2 + rng.range(-20, 20);
    for (let y = y0 + 6; y + 6 < y1; y += 11) {
      for (let x = x0 + 5; x + 4 < x1; x += 7) {
        if (Math.abs(x - pathX) < 6 || !rng.chance(0.86)) continue;
        const g = 180 + rng.range(-25, 45);
        p.thing({
          ring: orientedRect(
            x + rng.range(-0.6, 0.6),
            y + rng.range(-0.6, 0.6),
            3.4,
            6,
            rng.range(-0.05, 0.05),
          ),
          kind: 'grave',
          color: [g, g, g - 6],
          height: 0.8,
        });
      }
    }
    for (let i = rng.int(2, 6); i > 0; i--)
      p.tree(rng.range(x0, x1), rng.range(y0, y1), rng.range(4, 7), [50, 85, 40], rng, false);
  } else if (t.planted === 'construction_site') {
    // Footprints of the houses a plan says stand here; the imagery shows bare earth.
    const cols = rng.int(2, 4);
    const rows = rng.int(2, 3);
    const cw = (x1 - x0) / cols;
    const ch = (y1 - y0) / rows;
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < rows; j++) {
        const w = Math.min(cw - 10, rng.range(16, 28));
        const h = Math.min(ch - 10, rng.range(12, 20));
        const ring = orientedRect(x0 + (i + 0.5) * cw, y0 + (j + 0.5) * ch, w, h, rng.range(-0.1, 0.1));
        const { roof, style } = roofFor(rng, 'suburb');
        p.building(rng, { ring, kind: 'house', style, roof, height: 4, angle: 0, planted: true });
      }
    }
    for (let i = rng.int(3, 7); i > 0; i--) {
      const a = rng.range(0, Math.PI);
      p.thing({
        ring: orientedRect(rng.range(x0, x1), rng.range(y0, y1), rng.range(40, 120), 2.2, a),
        kind: 'track',
        color: [95, 70, 50],
        height: 0,
      });
    }
    for (let i = rng.int(2, 5); i > 0; i--) {
      p.thing({
        ring: circleRing(rng.range(x0 + 10, x1 - 10), rng.range(y0 + 10, y1 - 10), rng.range(5, 11), 12),
        kind: 'pile',
        color: rng.pick<RGB>([
          [185, 175, 160],
          [120, 110, 100],
          [200, 160, 110],
        ]),
        height: 2,
      });
    }
    for (let i = rng.int(1, 4); i > 0; i--) {
      const mx = rng.range(x0 + 10, x1 - 10);
      const my = rng.range(y0 + 10, y1 - 10);
      const a = rng.range(0, Math.PI);
      p.thing({ ring: orientedRect(mx, my, 6, 11, a), kind: 'machine', color: [225, 175, 30], height: 2 });
      p.thing({
        ring: orientedRect(mx + Math.cos(a + Math.PI / 2) * 9, my + Math.sin(a + Math.PI / 2) * 9, 2, 9, a),
        kind: 'machine',
        color: [200, 150, 25],
        height: 1.5,
      });
    }
  }
}

export function objectsForTile(plan: WorldPlan, t: TilePlan): TileObjects {
  const rng = mulberry32(hashInts(plan.seed, 0x0b1, t.x, t.y));
  const p = new Placer(plan, t);
  const ox = t.x * TILE;
  const oy = t.y * TILE;
  const anywhere = (m = 4): [number, number] => [ox + rng.range(m, TILE - m), oy + rng.range(m, TILE - m)];
  if (t.planted) {
    plantedArea(p, rng, t, ox, oy);
    if (t.district === 'suburb')
      for (let i = rng.int(2, 8); i > 0; i--) p.tree(...anywhere(), rng.range(3, 7), [55, 95, 45], rng);
    return p.out;
  }
  switch (t.district) {
    case 'dense_town': {
      const first = Math.ceil(ox / TOWN_BLOCK) * TOWN_BLOCK;
      const firstY = Math.ceil(oy / TOWN_BLOCK) * TOWN_BLOCK;
      for (let bx = first; bx < ox + TILE; bx += TOWN_BLOCK) {
        for (let by = firstY; by < oy + TILE; by += TOWN_BLOCK) {
          const ix = bx + TOWN_STREET;
          const iy = by + TOWN_STREET;
          const inner = TOWN_BLOCK - TOWN_STREET;
          if (rng.chance(0.22)) {
            const { roof, style } = roofFor(rng, t.district);
            const w = inner - rng.range(4, 10);
            const h = inner - rng.range(4, 10);
            p.building(
              rng,
              {
                ring: orientedRect(ix + inner / 2, iy + inner / 2, w, h, 0),
                kind: 'town_block',
                style,
                roof,
                height: rng.range(5, 8),
                angle: rng.chance(0.5) ? 0 : Math.PI / 2,
              },
              0,
            );
            continue;
          }
          for (const [lx, ly] of [
            [0, 0],
            [1, 0],
            [0, 1],
            [1, 1],
          ]) {
            if (rng.chance(0.12)) continue;
            const w = rng.range(19, 29);
            const h = rng.range(19, 29);
            const cx = ix + (lx + 0.5) * (inner / 2) + rng.range(-1.5, 1.5);
            const cy = iy + (ly + 0.5) * (inner / 2) + rng.range(-1.5, 1.5);
            const { roof, style } = roofFor(rng, t.district);
            p.building(
              rng,
              {
                ring: orientedRect(cx, cy, w, h, 0),
                kind: 'town_block',
                style,
                roof,
                height: rng.range(3.5, 6.5),
                angle: w > h ? 0 : Math.PI / 2,
              },
              0.5,
            );
          }
        }
      }
      for (let i = rng.int(0, 5); i > 0; i--) p.tree(...anywhere(), rng.range(3, 5), [60, 95, 45], rng);
      break;
    }
    case 'suburb': {
      const aligned = rng.chance(0.7);
      for (let n = rng.int(7, 13), tries = 0; n > 0 && tries < 60; tries++) {
        const [cx, cy] = anywhere(6);
        const angle = aligned ? rng.pick([0, Math.PI / 2]) + rng.range(-0.1, 0.1) : rng.range(0, Math.PI);
        const gw = rng.range(28, 40);
        const gh = rng.range(24, 34);
        const garden = orientedRect(cx, cy, gw, gh, angle);
        if (!p.free(garden, 2)) continue;
        if (house(p, rng, t.district, cx + rng.range(-3, 3), cy + rng.range(-3, 3), angle, 'house')) {
          p.thing({
            ring: garden,
            kind: 'garden',
            color: rng.pick<RGB>([
              [92, 128, 62],
              [110, 132, 70],
              [128, 120, 88],
            ]),
            height: 0,
          });
          n--;
        }
      }
      for (let i = rng.int(10, 22); i > 0; i--) {
        const [x, y] = anywhere();
        const r = rng.range(3, 7.5);
        if (p.free(orientedRect(x, y, 2 * r, 2 * r, 0), 0)) p.tree(x, y, r, [52, 92, 42], rng);
      }
      break;
    }
    case 'farmland': {
      if (rng.chance(0.22)) {
        const [cx, cy] = anywhere(30);
        p.thing({
          ring: orientedRect(cx, cy, rng.range(40, 60), rng.range(34, 50), rng.range(-0.2, 0.2)),
          kind: 'yard',
          color: [165, 140, 105],
          height: 0,
        });
        for (let i = rng.int(1, 4), tries = 0; i > 0 && tries < 12; tries++) {
          if (
            house(
              p,
              rng,
              t.district,
              cx + rng.range(-14, 14),
              cy + rng.range(-12, 12),
              rng.range(-0.2, 0.2),
              'farm_building',
              0.8,
            )
          )
            i--;
        }
      }
      for (let i = rng.int(2, 12); i > 0; i--) p.tree(...anywhere(), rng.range(3, 8), [55, 90, 40], rng);
      break;
    }
    case 'forest': {
      if (rng.chance(0.04)) {
        const [cx, cy] = anywhere(30);
        p.thing({ ring: circleRing(cx, cy, 22, 16), kind: 'yard', color: [125, 110, 75], height: 0 });
        house(p, rng, t.district, cx, cy, rng.range(0, Math.PI), 'farm_building', 0.7);
      }
      for (let i = rng.int(260, 340); i > 0; i--) {
        const [x, y] = anywhere(0);
        const r = rng.range(4, 9.5);
        const ring = orientedRect(x, y, 2 * r, 2 * r, 0);
        if (p.out.buildings.length && !p.free(ring, 3)) continue;
        p.tree(
          x,
          y,
          r,
          rng.pick<RGB>([
            [38, 72, 34],
            [46, 84, 38],
            [58, 92, 44],
            [34, 62, 36],
          ]),
          rng,
          false,
        );
      }
      break;
    }
    case 'bare': {
      if (rng.chance(0.07)) {
        const [cx, cy] = anywhere(36);
        const wall = orientedRect(cx, cy, rng.range(44, 64), rng.range(40, 56), rng.range(-0.3, 0.3));
        p.thing({ ring: wall, kind: 'yard', color: [150, 135, 115], height: 1 });
        p.thing({
          ring: orientedRect(cx, cy, 40, 36, ringAngle(wall)),
          kind: 'yard',
          color: [205, 185, 150],
          height: 0,
        });
        for (let i = rng.int(1, 3), tries = 0; i > 0 && tries < 10; tries++) {
          if (
            house(
              p,
              rng,
              t.district,
              cx + rng.range(-10, 10),
              cy + rng.range(-8, 8),
              ringAngle(wall),
              'compound_building',
              0.8,
            )
          )
            i--;
        }
      }
      for (let i = rng.int(4, 16); i > 0; i--) p.tree(...anywhere(), rng.range(1.5, 3.5), [95, 100, 60], rng);
      break;
    }
    case 'sahel_village': {
      for (let i = rng.int(2, 6); i > 0; i--) hutCompound(p, rng, ...anywhere(26), rng.int(2, 7));
      for (let i = rng.int(3, 9); i > 0; i--) p.tree(...anywhere(), rng.range(3, 6.5), [70, 92, 45], rng);
      break;
    }
    case 'camp': {
      // Tents in loose rows along the camp's paths, a few trees kept for shade.
      const rows = rng.int(4, 7);
      const angle = rng.range(-0.15, 0.15);
      for (let r = 0; r < rows; r++) {
        const y = ((r + 0.5) / rows) * TILE + rng.range(-6, 6);
        for (let x = rng.range(6, 20); x < TILE - 6; x += rng.range(13, 20)) {
          if (rng.chance(0.15)) continue;
          p.building(
            rng,
            {
              ring: orientedRect(ox + x, oy + y, rng.range(7, 10), rng.range(5.5, 7.5), angle),
              kind: 'shelter',
              style: 'tent',
              roof: rng.pick(ROOFS.tent),
              height: 1.5,
              angle,
            },
            1.5,
          );
        }
      }
      for (let i = rng.int(0, 3); i > 0; i--) p.tree(...anywhere(), rng.range(3, 5), [72, 92, 46], rng);
      break;
    }
    case 'sahel_bush': {
      if (rng.chance(0.05)) hutCompound(p, rng, ...anywhere(26), rng.int(1, 4));
      for (let i = rng.int(2, 6); i > 0; i--) p.tree(...anywhere(), rng.range(3, 6), [72, 92, 46], rng);
      for (let i = rng.int(10, 30); i > 0; i--)
        p.tree(...anywhere(), rng.range(1.2, 2.6), [98, 100, 58], rng);
      break;
    }
  }
  return p.out;
}

function ringAngle(ring: Ring): number {
  return Math.atan2(ring[1][1] - ring[0][1], ring[1][0] - ring[0][0]);
}
