/** Slippy-map tile arithmetic the map view needs (the server's server/lib/geo/tiles.ts does the same). */

export function lonLatToTile(lon: number, lat: number, z: number): { x: number; y: number } {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return { x: Math.min(n - 1, Math.max(0, x)), y: Math.min(n - 1, Math.max(0, y)) };
}

export function tileBounds(z: number, x: number, y: number): [number, number, number, number] {
  const n = 2 ** z;
  const lon = (xx: number) => (xx / n) * 360 - 180;
  const lat = (yy: number) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * yy) / n))) * 180) / Math.PI;
  return [lon(x), lat(y + 1), lon(x + 1), lat(y)];
}

export function tilePolygon(z: number, x: number, y: number): GeoJSON.Polygon {
  const [w, s, e, n] = tileBounds(z, x, y);
  return {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}

export function parseTaskId(taskId: string): { z: number; x: number; y: number } {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(taskId);
  if (!m) throw new Error(`"${taskId}" is not a task id z-x-y`);
  return { z: Number(m[1]), x: Number(m[2]), y: Number(m[3]) };
}
