/**
 * Registered imagery sources (table `imagery_sources`). A source is opened once at registration, to
 * refuse a wrong path or URL up front and to read its bounds and zoom range, then once per process on
 * first use and kept open: PMTiles and GeoTIFF readers hold a file handle and a directory cache that
 * are costly to rebuild per tile.
 */
import { join } from 'node:path';
import * as imageryRepo from '../db/imagery-repo.ts';
import type { ImagerySourceRow } from '../db/schema.ts';
import type { BBox } from '../geo/tiles.ts';
import { OverviewSource, overviewMinZoom } from '../imagery/overviews.ts';
import { createImagerySource } from '../imagery/source-factory.ts';
import {
  ImageryError,
  parseImagerySpec,
  type ImagerySource,
  type ImagerySpec,
  withFileName,
} from '../imagery/source.ts';
import { logTo, perDatabase, type ScoringContext } from './context.ts';
import { ScoringError } from './errors.ts';

/** What a browser may see of a source: no spec, hence no server-side path or credentials in headers. */
export interface ImageryRow {
  id: number;
  name: string;
  kind: ImagerySpec['kind'];
  attribution: string | null;
  bounds: BBox | null;
  minZoom: number;
  maxZoom: number;
  /** The lowest zoom served, overviews built from the native tiles included; a map asks for nothing below. */
  overviewMinZoom: number;
  createdAt: Date;
}

const openSources = perDatabase(() => new Map<number, Promise<ImagerySource>>());

function publicRow(row: ImagerySourceRow): ImageryRow {
  const { spec: _spec, ...rest } = row;
  return { ...rest, overviewMinZoom: overviewMinZoom(row.minZoom) };
}

/** XYZ sources without their own cache folder get one under the data folder, per registered id. */
function specForOpening(ctx: ScoringContext, id: number, spec: ImagerySpec): ImagerySpec {
  if (spec.kind === 'xyz' && spec.cacheDir === undefined) {
    return { ...spec, cacheDir: join(ctx.dataDir, 'imagery-cache', String(id)) };
  }
  return spec;
}

/** Opens a spec; a refusal names files by their name only, since it may reach a browser. */
async function open(ctx: ScoringContext, spec: ImagerySpec): Promise<ImagerySource> {
  try {
    return await createImagerySource(spec, {
      outbound: ctx.outbound,
      concurrency: ctx.imageryConcurrency,
      ...(ctx.imageryRates ? { pacer: ctx.imageryRates } : {}),
    });
  } catch (cause) {
    if (cause instanceof ImageryError) {
      const local = spec.kind === 'xyz' ? spec.cacheDir : spec.path;
      const message = local ? withFileName(cause.message, local) : cause.message;
      throw new ScoringError('imagery-unusable', message, { cause });
    }
    throw cause;
  }
}

/** A spec checked and opened, not yet stored; close it once its row is written (or not). */
export interface ProbedImagery {
  name: string;
  spec: ImagerySpec;
  source: ImagerySource;
}

/** Checks a name and spec and opens the source once, writing nothing (not even a cache folder). */
export async function probeImagery(
  ctx: ScoringContext,
  input: { name: string; spec: unknown },
): Promise<ProbedImagery> {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name) throw new ScoringError('invalid-request', 'imagery needs a non-empty name');
  let spec: ImagerySpec;
  try {
    spec = parseImagerySpec(input.spec);
  } catch (cause) {
    throw new ScoringError('invalid-request', (cause as Error).message, { cause });
  }
  if (await imageryRepo.getImageryByName(ctx.db, name)) {
    throw new ScoringError(
      'imagery-name-taken',
      `imagery "${name}" is already registered; pick another name`,
    );
  }
  const source = await open(ctx, spec.kind === 'xyz' ? { ...spec, cacheDir: undefined } : spec);
  return { name, spec, source };
}

/** Stores probed imagery; synchronous, so a caller can store it in one transaction with its project. */
export async function insertImagery(ctx: ScoringContext, probed: ProbedImagery): Promise<ImageryRow> {
  const { name, spec, source } = probed;
  const row = await imageryRepo.insertImagery(ctx.db, {
    name,
    kind: spec.kind,
    spec,
    attribution: source.attribution ?? null,
    bounds: source.bounds ?? null,
    minZoom: source.minZoom,
    maxZoom: source.maxZoom,
  });
  logTo(ctx, `registered imagery ${row.id} "${name}" (${spec.kind})`);
  return publicRow(row);
}

export async function registerImagery(
  ctx: ScoringContext,
  input: { name: string; spec: unknown },
): Promise<ImageryRow> {
  const probed = await probeImagery(ctx, input);
  try {
    return await insertImagery(ctx, probed);
  } finally {
    await probed.source.close();
  }
}

function sameSpec(a: unknown, b: unknown): boolean {
  const canon = (v: unknown): string =>
    JSON.stringify(v, (_k, x: unknown) =>
      x && typeof x === 'object' && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => p.localeCompare(q)))
        : x,
    );
  return canon(a) === canon(b);
}

/**
 * The imagery of a name: registered already with the same spec (its row; another spec is refused), or
 * probed anew — opened and checked but not stored, so a command that fails before its project exists
 * registers nothing.
 */
export async function findOrProbeImagery(
  ctx: ScoringContext,
  input: { name: string; spec: ImagerySpec },
): Promise<{ known: ImageryRow } | { probed: ProbedImagery }> {
  const row = await imageryRepo.getImageryByName(ctx.db, input.name);
  if (!row) return { probed: await probeImagery(ctx, input) };
  if (!sameSpec(row.spec, input.spec)) {
    throw new ScoringError(
      'imagery-name-taken',
      `imagery "${input.name}" is registered already with another source; give another name (--imagery-name)`,
    );
  }
  return { known: publicRow(row) };
}

/** Removes imagery no project uses (a command that failed half-way takes back what it registered). */
export async function deleteImagery(ctx: ScoringContext, id: number): Promise<void> {
  const open = openSources(ctx);
  const source = open.get(id);
  open.delete(id);
  await (await source?.catch(() => null))?.close();
  await imageryRepo.deleteImagery(ctx.db, id);
}

export async function listImagery(ctx: ScoringContext): Promise<ImageryRow[]> {
  return (await imageryRepo.listImagery(ctx.db)).map(publicRow);
}

export async function getImagery(ctx: ScoringContext, id: number): Promise<ImageryRow | undefined> {
  const row = await imageryRepo.getImagery(ctx.db, id);
  return row ? publicRow(row) : undefined;
}

/** The open source for a registered id, opened on first use and shared by every caller after. */
export async function getImagerySource(ctx: ScoringContext, id: number): Promise<ImagerySource> {
  const cache = openSources(ctx);
  let source = cache.get(id);
  if (!source) {
    const row = await imageryRepo.getImagery(ctx.db, id);
    if (!row) {
      return Promise.reject(
        new ScoringError(
          'imagery-not-found',
          `no imagery with id ${id}; register it first (listImagery shows those there are)`,
        ),
      );
    }
    // Wrapped so zoomed-out maps get overviews; scoring reads native zooms, which pass straight through.
    source = open(ctx, specForOpening(ctx, id, parseImagerySpec(row.spec))).then(
      (s) => new OverviewSource(s, { cacheDir: join(ctx.dataDir, 'imagery-overviews', String(id)) }),
    );
    // A failed open is not cached, so fixing the file and retrying works without a restart.
    source.catch(() => cache.delete(id));
    cache.set(id, source);
  }
  return source;
}

/** Closes every source this database's callers opened; for shutdown and tests. */
export async function closeImagerySources(ctx: ScoringContext): Promise<void> {
  const cache = openSources(ctx);
  const all = [...cache.values()];
  cache.clear();
  await Promise.all(all.map(async (p) => (await p.catch(() => null))?.close()));
}
