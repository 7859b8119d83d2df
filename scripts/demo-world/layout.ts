/**
 * The demo world's plan at tile level: regions, districts, planted phenomena, splits and roads.
 * Everything here is small (one record per tile, a few road polylines); pixels come later.
 */
import { lonLatToTile, tileBounds } from '../../server/lib/geo/tiles.ts';
import { hash01, hashInts, mulberry32 } from './random.ts';

export const ZOOM = 18;
export const TILE = 256;

export type District =
  'dense_town' | 'suburb' | 'farmland' | 'forest' | 'bare' | 'sahel_village' | 'sahel_bush' | 'camp';
export type Phenomenon = 'parking_lot' | 'cemetery' | 'construction_site' | 'no_buildings';
export type PlantedPhenomenon = Exclude<Phenomenon, 'no_buildings'>;
export type Region = 'train' | 'new';
/** The new region is never trained or evaluated on: it is the area a project would screen. */
export type Split = 'train' | 'val' | 'test' | 'screen';
export type Scale = 'full' | 'small';

export interface TilePlan {
  x: number;
  y: number;
  region: Region;
  district: District;
  split: Split;
  /** The planted phenomenon covering most of the tile, if any. */
  planted?: PlantedPhenomenon;
  /** Inset rectangle (tile pixels) the phenomenon covers: [x0, y0, x1, y1]. */
  plantedRect?: [number, number, number, number];
}

export interface Road {
  /** Polyline in world pixels (zoom 18). */
  points: Array<[number, number]>;
  width: number;
  kind: 'asphalt' | 'dirt';
}

export interface RegionPlan {
  name: Region;
  minX: number;
  minY: number;
  width: number;
  height: number;
}

export interface WorldPlan {
  seed: number;
  scale: Scale;
  regions: RegionPlan[];
  tiles: Map<number, TilePlan>;
  roads: Road[];
}

export const TRAIN_CENTRE = { lon: 33.78, lat: -13.96 };
/** Tiles between the regions' edges: ~54 tiles from west edge to west edge ≈ 8 km at 0.58 m/px. */
const REGION_GAP_TILES = 14;

const SIZES: Record<
  Scale,
  { train: number; next: number; parking: number; cemetery: number; construction: number }
> = {
  full: { train: 40, next: 30, parking: 36, cemetery: 30, construction: 24 },
  small: { train: 12, next: 6, parking: 3, cemetery: 3, construction: 3 },
};

/** Tile key: x and y at zoom 18 both fit in 18 bits. */
export function tileIndex(x: number, y: number): number {
  return x * 262144 + y;
}

function polyline(
  rng: () => number,
  from: [number, number],
  to: [number, number],
  wiggle: number,
): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  const steps = 8;
  const dx = to[0] - from[0];
  const dy = to[1] - from[1];
  const len = Math.hypot(dx, dy);
  const nx = -dy / len;
  const ny = dx / len;
  let drift = 0;
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    if (i > 0 && i < steps) drift += (rng() - 0.5) * wiggle;
    else drift = i === 0 ? 0 : drift * 0.5;
    pts.push([from[0] + dx * t + nx * drift, from[1] + dy * t + ny * drift]);
  }
  return pts;
}

export function planWorld(seed: number, scale: Scale): WorldPlan {
  const size = SIZES[scale];
  const centre = lonLatToTile(TRAIN_CENTRE.lon, TRAIN_CENTRE.lat, ZOOM);
  const train: RegionPlan = {
    name: 'train',
    minX: centre.x - Math.floor(size.train / 2),
    minY: centre.y - Math.floor(size.train / 2),
    width: size.train,
    height: size.train,
  };
  const next: RegionPlan = {
    name: 'new',
    minX: train.minX + size.train + REGION_GAP_TILES,
    minY: train.minY + Math.floor((size.train - size.next) / 2),
    width: size.next,
    height: size.next,
  };
  const rng = mulberry32(hashInts(seed, 0x51a7));
  const tiles = new Map<number, TilePlan>();

  // Training region: a town centre, a suburban ring, and outer land split among
  // farmland / forest / bare by a Voronoi of seeds that cycles through the three kinds.
  const half = size.train / 2;
  const cx = half + rng.range(-0.08, 0.08) * size.train;
  const cy = half + rng.range(-0.08, 0.08) * size.train;
  const outerKinds: District[] = ['farmland', 'forest', 'bare'];
  const outerSeeds = Array.from({ length: scale === 'full' ? 9 : 6 }, (_, i) => {
    const angle = (i / (scale === 'full' ? 9 : 6)) * 2 * Math.PI + rng.range(-0.3, 0.3);
    const r = half * rng.range(0.7, 1.05);
    return { x: cx + Math.cos(angle) * r, y: cy + Math.sin(angle) * r, kind: outerKinds[i % 3] };
  });
  const ringOf = new Map<TilePlan, number>();
  for (let ty = 0; ty < train.height; ty++) {
    for (let tx = 0; tx < train.width; tx++) {
      const r = Math.hypot(tx + 0.5 - cx, ty + 0.5 - cy) / half + 0.14 * (hash01(seed, tx, ty, 11) - 0.5);
      let district: District;
      if (r < 0.28) district = 'dense_town';
      else if (r < 0.52) district = 'suburb';
      else {
        let best = outerSeeds[0];
        let bestD = Infinity;
        for (const s of outerSeeds) {
          const d = Math.hypot(tx + 0.5 - s.x, ty + 0.5 - s.y);
          if (d < bestD) {
            bestD = d;
            best = s;
          }
        }
        district = best.kind;
      }
      const x = train.minX + tx;
      const y = train.minY + ty;
      const plan: TilePlan = { x, y, region: 'train', district, split: 'train' };
      tiles.set(tileIndex(x, y), plan);
      ringOf.set(plan, r);
    }
  }

  // Planted phenomena: parking lots in town and suburb, cemeteries and construction sites
  // in the suburb and the land just outside it, never two on one tile.
  const trainTiles = [...tiles.values()];
  const ring = (t: TilePlan) => ringOf.get(t) ?? 1;
  const shuffled = (list: TilePlan[], salt: number) =>
    list
      .map((t) => ({ t, k: hash01(seed, t.x, t.y, salt) }))
      .sort((a, b) => a.k - b.k)
      .map((e) => e.t);
  const plant = (kind: PlantedPhenomenon, count: number, candidates: TilePlan[], salt: number) => {
    let n = 0;
    for (const t of shuffled(candidates, salt)) {
      if (n >= count) break;
      if (t.planted) continue;
      const tr = mulberry32(hashInts(seed, salt, t.x, t.y));
      t.planted = kind;
      t.plantedRect = [tr.int(4, 40), tr.int(4, 40), 256 - tr.int(4, 40), 256 - tr.int(4, 40)];
      n++;
    }
  };
  const inner = trainTiles.filter((t) => t.district === 'dense_town' || t.district === 'suburb');
  const fringe = trainTiles.filter(
    (t) => t.district === 'suburb' || (ring(t) < 0.72 && t.district !== 'dense_town'),
  );
  plant('parking_lot', size.parking, inner, 101);
  plant('cemetery', size.cemetery, fringe, 102);
  plant('construction_site', size.construction, fringe, 103);

  // Splits: a seeded shuffle cut at exactly 75 / 12.5 / 12.5 %.
  const order = shuffled(trainTiles, 104);
  const nTrain = Math.round(order.length * 0.75);
  const nVal = Math.round(order.length * 0.125);
  order.forEach((t, i) => (t.split = i < nTrain ? 'train' : i < nTrain + nVal ? 'val' : 'test'));

  // New region: sahel villages (clusters of huts) in open bush, and a camp of canvas tents — a roof the model
  // never saw in training, so its prediction misses them while its latent space sees something new.
  const villages = Array.from({ length: scale === 'full' ? 7 : 2 }, () => ({
    x: rng.range(1, size.next - 1),
    y: rng.range(1, size.next - 1),
    r: rng.range(1.3, scale === 'full' ? 3.2 : 2),
  }));
  // Its own random stream, so the rest of the world (roads included) is what it was before the camp existed.
  const campRng = mulberry32(hashInts(seed, 0xca3b));
  const camp = {
    x: campRng.range(0.2, 0.45) * size.next,
    y: campRng.range(0.55, 0.8) * size.next,
    rx: scale === 'full' ? 3.2 : 1.2,
    ry: scale === 'full' ? 2.4 : 1,
  };
  for (let ty = 0; ty < next.height; ty++) {
    for (let tx = 0; tx < next.width; tx++) {
      const inCamp = Math.hypot((tx + 0.5 - camp.x) / camp.rx, (ty + 0.5 - camp.y) / camp.ry) < 1;
      const inVillage = villages.some((v) => Math.hypot(tx + 0.5 - v.x, ty + 0.5 - v.y) < v.r);
      const x = next.minX + tx;
      const y = next.minY + ty;
      tiles.set(tileIndex(x, y), {
        x,
        y,
        region: 'new',
        district: inCamp ? 'camp' : inVillage ? 'sahel_village' : 'sahel_bush',
        split: 'screen',
      });
    }
  }

  // Roads in world pixels: two arteries through the town, one diagonal; a dirt road in the new region.
  const px = (r: RegionPlan, fx: number, fy: number): [number, number] => [
    (r.minX + fx * r.width) * TILE,
    (r.minY + fy * r.height) * TILE,
  ];
  const ccx = cx / size.train;
  const ccy = cy / size.train;
  const wig = TILE * (scale === 'full' ? 1.2 : 0.5);
  const roads: Road[] = [
    {
      points: polyline(rng, px(train, -0.02, ccy + 0.03), px(train, 1.02, ccy - 0.04), wig),
      width: 12,
      kind: 'asphalt',
    },
    {
      points: polyline(rng, px(train, ccx - 0.05, -0.02), px(train, ccx + 0.06, 1.02), wig),
      width: 11,
      kind: 'asphalt',
    },
    { points: polyline(rng, px(train, -0.02, 0.92), px(train, 0.78, -0.02), wig), width: 9, kind: 'asphalt' },
    { points: polyline(rng, px(next, -0.02, 0.35), px(next, 1.02, 0.7), wig), width: 9, kind: 'dirt' },
  ];
  return { seed, scale, regions: [train, next], tiles, roads };
}

export function regionBBox(r: RegionPlan): [number, number, number, number] {
  const nw = tileBounds(ZOOM, r.minX, r.minY);
  const se = tileBounds(ZOOM, r.minX + r.width - 1, r.minY + r.height - 1);
  return [nw[0], se[1], se[2], nw[3]];
}
