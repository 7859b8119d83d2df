/**
 * A CSV manifest of image / mask pairs: columns `image` and `mask` (paths relative to the CSV) and an optional
 * grouping column (dataset of origin, district…). Other columns are ignored.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { openPairsDataset, type ImagePair, type PairPatchOptions } from './folder.ts';
import { DatasetError, type PatchSource } from './patch-source.ts';

/** RFC 4180 rows: quoted fields may hold commas, doubled quotes and newlines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += ch;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

export interface ManifestOptions {
  /** Column whose value becomes each patch's group; every pair gets the manifest's name when absent. */
  groupColumn?: string;
  /** Keep only rows whose group is one of these. */
  groups?: string[];
}

/** The pairs a manifest lists, paths resolved against its folder. */
export function readManifest(csvPath: string, options: ManifestOptions = {}): ImagePair[] {
  let text: string;
  try {
    text = readFileSync(csvPath, 'utf8');
  } catch {
    throw new DatasetError(`manifest ${csvPath} cannot be read; check the path given to --manifest`);
  }
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  if (rows.length < 2)
    throw new DatasetError(
      `manifest ${csvPath} has no rows below its header; list one image,mask pair per row`,
    );
  const header = rows[0].map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const imageCol = col('image');
  const maskCol = col('mask');
  if (imageCol < 0 || maskCol < 0) {
    throw new DatasetError(
      `manifest ${csvPath} has columns ${header.join(', ')}; it needs 'image' and 'mask' (paths relative to the CSV)`,
    );
  }
  const groupCol = options.groupColumn === undefined ? -1 : col(options.groupColumn);
  if (options.groupColumn !== undefined && groupCol < 0) {
    throw new DatasetError(
      `manifest ${csvPath} has no column '${options.groupColumn}' (columns: ${header.join(', ')}); fix --group-column`,
    );
  }
  const base = dirname(resolve(csvPath));
  const fallbackGroup = basename(csvPath).replace(/\.csv$/i, '');
  const pairs: ImagePair[] = [];
  rows.slice(1).forEach((r, i) => {
    const image = r[imageCol]?.trim();
    const mask = r[maskCol]?.trim();
    if (!image || !mask) {
      throw new DatasetError(
        `manifest ${csvPath} row ${i + 2} lacks an image or mask path; fill both cells or delete the row`,
      );
    }
    const group = groupCol >= 0 ? (r[groupCol]?.trim() ?? '') || fallbackGroup : fallbackGroup;
    if (options.groups && !options.groups.includes(group)) return;
    pairs.push({ image: resolve(base, image), mask: resolve(base, mask), group });
  });
  return pairs;
}

export async function openManifestDataset(
  csvPath: string,
  options: PairPatchOptions & ManifestOptions = {},
): Promise<PatchSource> {
  const pairs = readManifest(csvPath, options);
  if (pairs.length === 0) {
    throw new DatasetError(
      `manifest ${csvPath} has no rows in groups ${options.groups?.join(', ')}; check the group names`,
    );
  }
  const path = resolve(csvPath);
  return openPairsDataset(
    pairs,
    {
      name: `manifest:${basename(path)}${options.groups ? `[${options.groups.join('+')}]` : ''}`,
      kind: 'manifest',
      description: {
        manifest: path,
        groupColumn: options.groupColumn ?? null,
        groups: options.groups ?? null,
      },
    },
    { root: dirname(path), ...options },
  );
}
