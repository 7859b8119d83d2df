/**
 * A minimal Mapbox Vector Tile (v2.1) encoder: polygon layers with string / number properties, which is
 * all the footprint and tile-grid tiles need. Spec: https://github.com/mapbox/vector-tile-spec/tree/master/2.1
 *
 * Protobuf by hand keeps it dependency-free: a tile is `layers` (field 3); a layer holds version (15),
 * name (1), features (2), keys (3), values (4), extent (5); a feature holds id (1), packed tags (2),
 * type (3), packed geometry (4). Geometry is MoveTo / LineTo / ClosePath commands over zigzag-encoded
 * deltas in integer tile coordinates (y down).
 */

export const MVT_EXTENT = 4096;

export type MvtValue = string | number | boolean;

export interface MvtPolygonFeature {
  id?: number;
  /** Rings in tile coordinates (0..extent), each closed or not; the first ring of each polygon is its exterior. */
  polygons: Array<Array<Array<[number, number]>>>;
  properties: Record<string, MvtValue | null | undefined>;
}

export interface MvtLayer {
  name: string;
  extent?: number;
  features: MvtPolygonFeature[];
}

class Writer {
  private buf = new Uint8Array(1024);
  len = 0;

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  varint(v: number): void {
    this.grow(10);
    // Numbers here stay below 2^53; division instead of >>> keeps values past 2^32 exact.
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.grow(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  double(field: number, v: number): void {
    this.tag(field, 1);
    this.grow(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, v, true);
    this.len += 8;
  }

  packed(field: number, values: number[]): void {
    const w = new Writer();
    for (const v of values) w.varint(v);
    this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const zigzag = (n: number) => (n < 0 ? -2 * n - 1 : 2 * n);
const command = (id: number, count: number) => (count << 3) | (id & 7);

/** Twice the signed area in tile coordinates; > 0 is the spec's exterior winding (clockwise on screen). */
export function ringArea(ring: Array<[number, number]>): number {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++)
    a += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
  return a;
}

/** Rounds to the integer grid, drops the closing point and repeated points; null when under 3 remain. */
function cleanRing(ring: Array<[number, number]>): Array<[number, number]> | null {
  const out: Array<[number, number]> = [];
  for (const [x, y] of ring) {
    const p: [number, number] = [Math.round(x), Math.round(y)];
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  }
  if (out.length > 1 && out[0][0] === out[out.length - 1][0] && out[0][1] === out[out.length - 1][1])
    out.pop();
  return out.length >= 3 && ringArea(out) !== 0 ? out : null;
}

export function encodePolygonGeometry(polygons: MvtPolygonFeature['polygons']): number[] {
  const geom: number[] = [];
  let cx = 0;
  let cy = 0;
  for (const polygon of polygons) {
    polygon.forEach((raw, ringIndex) => {
      const ring = cleanRing(raw);
      if (!ring) return;
      // Exterior rings positive, holes negative, whatever winding the source used.
      const wantPositive = ringIndex === 0;
      if (ringArea(ring) > 0 !== wantPositive) ring.reverse();
      geom.push(command(1, 1), zigzag(ring[0][0] - cx), zigzag(ring[0][1] - cy));
      cx = ring[0][0];
      cy = ring[0][1];
      geom.push(command(2, ring.length - 1));
      for (let i = 1; i < ring.length; i++) {
        geom.push(zigzag(ring[i][0] - cx), zigzag(ring[i][1] - cy));
        cx = ring[i][0];
        cy = ring[i][1];
      }
      geom.push(command(7, 1));
    });
  }
  return geom;
}

function encodeValue(v: MvtValue): Uint8Array {
  const w = new Writer();
  if (typeof v === 'string') w.string(1, v);
  else if (typeof v === 'boolean') {
    w.tag(7, 0);
    w.varint(v ? 1 : 0);
  } else if (Number.isInteger(v) && v >= 0) {
    w.tag(5, 0);
    w.varint(v);
  } else if (Number.isInteger(v)) {
    w.tag(6, 0);
    w.varint(zigzag(v));
  } else w.double(3, v);
  return w.finish();
}

function encodeLayer(layer: MvtLayer): Uint8Array | null {
  const keys = new Map<string, number>();
  const values = new Map<string, number>();
  const valueList: MvtValue[] = [];
  const features: Uint8Array[] = [];
  for (const f of layer.features) {
    const geometry = encodePolygonGeometry(f.polygons);
    if (geometry.length === 0) continue;
    const tags: number[] = [];
    for (const [k, v] of Object.entries(f.properties)) {
      if (v === null || v === undefined) continue;
      if (!keys.has(k)) keys.set(k, keys.size);
      const vk = `${typeof v}:${v}`;
      if (!values.has(vk)) {
        values.set(vk, valueList.length);
        valueList.push(v);
      }
      tags.push(keys.get(k)!, values.get(vk)!);
    }
    const w = new Writer();
    if (f.id !== undefined) {
      w.tag(1, 0);
      w.varint(f.id);
    }
    if (tags.length) w.packed(2, tags);
    w.tag(3, 0);
    w.varint(3); // POLYGON
    w.packed(4, geometry);
    features.push(w.finish());
  }
  if (features.length === 0) return null;
  const w = new Writer();
  w.tag(15, 0);
  w.varint(2);
  w.string(1, layer.name);
  for (const f of features) w.bytes(2, f);
  for (const k of keys.keys()) w.string(3, k);
  for (const v of valueList) w.bytes(4, encodeValue(v));
  w.tag(5, 0);
  w.varint(layer.extent ?? MVT_EXTENT);
  return w.finish();
}

/** The tile's bytes; layers without features are left out (an empty tile is zero bytes, which MVT allows). */
export function encodeMvt(layers: MvtLayer[]): Uint8Array {
  const w = new Writer();
  for (const layer of layers) {
    const bytes = encodeLayer(layer);
    if (bytes) w.bytes(3, bytes);
  }
  return w.finish();
}
