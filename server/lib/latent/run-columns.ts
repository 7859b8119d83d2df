/**
 * A run's latent-view columns: one position column per principal component (4 B per patch for a pair)
 * and the attributes (IoU, smoothed IoU, novelty, cluster, district, split, the patch's tile: 10 B per
 * patch), built in ONE pass over the run's patches and stored with the run. An answer is then cut from the
 * stored columns (any pair of components, the attributes) without touching the patches again.
 *
 * Rows are in patch idx order; every answer for one run lists them in the same order, so columns from
 * different requests line up.
 */
import { readConsistently, type DatabaseHandle } from '../db/client.ts';
import {
  countRunPatches,
  getStoredColumns,
  PC_COUNT,
  putStoredColumns,
  runPatchRows,
  runPatchStats,
} from '../db/latent-repo.ts';
import type { AnalysisRun } from '../db/schema.ts';
import { ColumnsWriter, pickColumns, type ColumnsBody } from './columns-format.ts';
import { LatentError } from './errors.ts';

/** Bumped whenever what the builder writes changes, so stored columns of an older builder are rebuilt. */
export const RUN_COLUMNS_VERSION = 1;

const PC_NAMES = Array.from({ length: PC_COUNT }, (_, k) => `pc${k + 1}`);
const ATTRIBUTES = 'attributes';

/** Attribute columns in their order in the answer; idx follows only when the run's idx have gaps. */
const A = {
  iou: 0,
  iouHat: 1,
  novelty: 2,
  cluster: 3,
  group: 4,
  split: 5,
  tileX: 6,
  tileY: 7,
  idx: 8,
} as const;

/** Numbers the distinct names of a categorical column as they are first seen; 255 for none. */
class Categories {
  private readonly seen = new Map<string, number>();
  code(v: unknown): number {
    if (v === null || v === undefined) return 255;
    let i = this.seen.get(v as string);
    if (i === undefined) this.seen.set(v as string, (i = this.seen.size));
    return i;
  }
  get size() {
    return this.seen.size;
  }
  /** Renumbers the codes in sorted-name order; returns the names. */
  sortInto(codes: Uint8Array): string[] {
    const names = [...this.seen.keys()].sort();
    const lut = new Uint8Array(256).fill(255);
    names.forEach((name, k) => (lut[this.seen.get(name)!] = k));
    for (let i = 0; i < codes.length; i++) codes[i] = lut[codes[i]];
    return names;
  }
}

/**
 * Every column of a run from one aggregate read (ranges, tile origin, idx contiguity) and one scan of its
 * patches written straight into the stored bytes: the builder holds exactly what it stores, never row objects.
 */
export async function buildRunColumns(
  db: DatabaseHandle,
  run: AnalysisRun,
): Promise<Array<{ name: string; columns: ColumnsBody }>> {
  // One read transaction: the aggregate and the scan see the same patches.
  // The body's `db` is the read transaction's handle.
  return await readConsistently(db, async (db) => {
    const stats = await runPatchStats(db, run.id);
    const n = stats.n;
    const tiles = stats.tiles;
    if (tiles && (tiles.maxX - tiles.minX >= 65535 || tiles.maxY - tiles.minY >= 65535)) {
      throw new LatentError(
        'area-too-wide',
        `run ${run.id}'s patches span more than 65,535 tiles across`,
        'the latent view cannot place them on the map',
      );
    }
    const idxContiguous = n === 0 || (stats.idxRange![0] === 0 && stats.idxRange![1] === n - 1);

    const pcs = stats.pcRange.map(
      (range, k) =>
        new ColumnsWriter(n, [
          { name: PC_NAMES[k], type: 'uint16', min: range?.[0] ?? 0, max: range?.[1] ?? 0 },
        ]),
    );
    const urbanised = new Set(run.urbanised.clusters);
    const clusterCount = Math.max(run.kmeans.chosenK, (stats.maxCluster ?? -1) + 1);
    const attrs = new ColumnsWriter(
      n,
      [
        { name: 'iou', type: 'uint8', min: 0, max: 1 },
        { name: 'iouHat', type: 'uint8', min: 0, max: 1 },
        { name: 'novelty', type: 'uint8', min: 0, max: 100 },
        {
          name: 'cluster',
          type: 'uint8',
          categories: Array.from({ length: clusterCount }, (_, i) =>
            urbanised.has(i) ? `cluster ${i} (urbanised)` : `cluster ${i}`,
          ),
        },
        { name: 'group', type: 'uint8', categories: [] },
        { name: 'split', type: 'uint8', categories: [] },
        { name: 'tileX', type: 'uint16' },
        { name: 'tileY', type: 'uint16' },
        ...(idxContiguous ? [] : [{ name: 'idx', type: 'uint32' as const }]),
      ],
      {
        runId: run.id,
        idxContiguous,
        tileOrigin: tiles ? { z: tiles.zoom, x: tiles.minX, y: tiles.minY } : null,
        urbanisedClusters: [...urbanised],
        urbanisedReason: run.urbanised.reason,
      },
    );
    const groups = new Categories();
    const splits = new Categories();
    const [group, split, cluster, tileX, tileY] = [A.group, A.split, A.cluster, A.tileX, A.tileY].map((k) =>
      attrs.array(k),
    );
    const ox = tiles?.minX ?? 0;
    const oy = tiles?.minY ?? 0;
    let r = 0;
    for await (const row of runPatchRows(db, run.id)) {
      if (r >= n) break;
      for (let k = 0; k < PC_COUNT; k++) pcs[k].set(0, r, row[k] as number | null);
      attrs.set(A.iou, r, row[9] as number | null);
      attrs.set(A.iouHat, r, row[10] as number | null);
      attrs.set(A.novelty, r, row[11] as number | null);
      const c = row[12] as number | null;
      cluster[r] = c === null || c < 0 || c > 254 ? 255 : c;
      group[r] = groups.code(row[13]);
      split[r] = splits.code(row[14]);
      const x = row[15] as number | null;
      const y = row[16] as number | null;
      const placed = x !== null && y !== null;
      tileX[r] = placed ? x - ox : 65535;
      tileY[r] = placed ? y - oy : 65535;
      if (!idxContiguous) attrs.array(A.idx)[r] = row[17] as number;
      r++;
    }
    if (r !== n) {
      throw new LatentError(
        'data-changed',
        `run ${run.id} yields ${r} patches, ${n} were counted before the scan`,
        'the data changed while it was read; ask again',
      );
    }
    if (groups.size > 255 || splits.size > 255) {
      throw new LatentError(
        'too-many-categories',
        `run ${run.id} has ${groups.size} districts and ${splits.size} splits`,
        'the latent view colours at most 255 of each',
      );
    }
    attrs.header.columns[A.group].categories = groups.sortInto(group as Uint8Array);
    attrs.header.columns[A.split].categories = splits.sortInto(split as Uint8Array);
    return [
      ...pcs.map((w, k) => ({ name: PC_NAMES[k], columns: w.result() })),
      { name: ATTRIBUTES, columns: attrs.result() },
    ];
  });
}

/** Builds and stores a run's columns: called when a run is stored, and for older runs at their first request. */
export async function storeRunColumns(
  db: DatabaseHandle,
  run: AnalysisRun,
): Promise<Map<string, ColumnsBody>> {
  const built = await buildRunColumns(db, run);
  // A database that refuses the write (read-only, busy) only costs the next request another pass.
  await putStoredColumns(db, run.id, built, RUN_COLUMNS_VERSION);
  return new Map(built.map((b) => [b.name, b.columns]));
}

/**
 * The stored columns a request needs, built first when absent, of an older builder, or for a run whose
 * patches no longer match them in number (patches deleted by hand).
 */
async function runColumns(
  db: DatabaseHandle,
  run: AnalysisRun,
  wanted: string[],
): Promise<Map<string, ColumnsBody>> {
  const names = [...new Set(wanted)];
  const stored = await getStoredColumns(db, run.id, names, RUN_COLUMNS_VERSION);
  const rows = new Set([...stored.values()].map((c) => c.header.rows));
  const fresh =
    stored.size === names.length && rows.size === 1 && rows.has(await countRunPatches(db, run.id));
  return fresh ? stored : await storeRunColumns(db, run);
}

/** The run's patches on components x and y (1-based): columns `x` and `y`. */
export async function runPositions(
  db: DatabaseHandle,
  run: AnalysisRun,
  x: number,
  y: number,
): Promise<ColumnsBody> {
  const cols = await runColumns(db, run, [`pc${x}`, `pc${y}`]);
  return pickColumns(
    [
      { from: cols.get(`pc${x}`)!, column: `pc${x}`, as: 'x' },
      { from: cols.get(`pc${y}`)!, column: `pc${y}`, as: 'y' },
    ],
    { runId: run.id, axes: [x, y], explainedVarianceRatio: run.pca.explainedVarianceRatio ?? null },
  );
}

/** The run's attribute columns, once per run. */
export async function runAttributes(db: DatabaseHandle, run: AnalysisRun): Promise<ColumnsBody> {
  return (await runColumns(db, run, [ATTRIBUTES])).get(ATTRIBUTES)!;
}
