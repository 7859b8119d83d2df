/**
 * Registered imagery sources (table `imagery_sources`). A source is opened once at registration, to
 * refuse a wrong path or URL up front and to read its bounds and zoom range, then once per process on
 * first use and kept open: PMTiles and GeoTIFF readers hold a file handle and a directory cache that
 * are costly to rebuild per tile.
 */
import { join } from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { imagerySources, type ImagerySourceRow } from '../db/schema.ts';
import {
  createImagerySource,
  ImageryError,
  parseImagerySpec,
  type BBox,
  type ImagerySource,
  type ImagerySpec,
} from '../imagery/source.ts';
import { OverviewSource, overviewMinZoom } from '../imagery/overviews.ts';
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

async function open(spec: ImagerySpec): Promise<ImagerySource> {
  try {
    return await createImagerySource(spec);
  } catch (cause) {
    if (cause instanceof ImageryError) {
      throw new ScoringError('imagery-unusable', cause.message, { cause });
    }
    throw cause;
  }
}

export async function registerImagery(
  ctx: ScoringContext,
  input: { name: string; spec: unknown },
): Promise<ImageryRow> {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name) throw new ScoringError('invalid-request', 'imagery needs a non-empty name');
  let spec: ImagerySpec;
  try {
    spec = parseImagerySpec(input.spec);
  } catch (cause) {
    throw new ScoringError('invalid-request', (cause as Error).message, { cause });
  }
  if (
    ctx.db.db
      .select({ id: imagerySources.id })
      .from(imagerySources)
      .where(eq(imagerySources.name, name))
      .get()
  ) {
    throw new ScoringError(
      'imagery-name-taken',
      `imagery "${name}" is already registered; pick another name`,
    );
  }
  // Opened without a cache folder: nothing is written on behalf of a source that may yet be refused.
  const probe = await open(spec.kind === 'xyz' ? { ...spec, cacheDir: undefined } : spec);
  try {
    const row = ctx.db.db
      .insert(imagerySources)
      .values({
        name,
        // The kind column's CHECK predates folders; the stored spec keeps the real kind for reopening.
        kind: spec.kind === 'geotiff-folder' ? 'geotiff' : spec.kind,
        spec: spec as Record<string, unknown>,
        attribution: probe.attribution ?? null,
        bounds: probe.bounds ?? null,
        minZoom: probe.minZoom,
        maxZoom: probe.maxZoom,
      })
      .returning()
      .get();
    logTo(ctx, `registered imagery ${row.id} "${name}" (${spec.kind})`);
    return publicRow(row);
  } finally {
    await probe.close();
  }
}

export function listImagery(ctx: ScoringContext): ImageryRow[] {
  return ctx.db.db.select().from(imagerySources).orderBy(asc(imagerySources.id)).all().map(publicRow);
}

export function getImagery(ctx: ScoringContext, id: number): ImageryRow | undefined {
  const row = ctx.db.db.select().from(imagerySources).where(eq(imagerySources.id, id)).get();
  return row ? publicRow(row) : undefined;
}

/** The open source for a registered id, opened on first use and shared by every caller after. */
export function getImagerySource(ctx: ScoringContext, id: number): Promise<ImagerySource> {
  const cache = openSources(ctx);
  let source = cache.get(id);
  if (!source) {
    const row = ctx.db.db.select().from(imagerySources).where(eq(imagerySources.id, id)).get();
    if (!row) {
      return Promise.reject(
        new ScoringError(
          'imagery-not-found',
          `no imagery with id ${id}; register it first (listImagery shows those there are)`,
        ),
      );
    }
    // Wrapped so zoomed-out maps get overviews; scoring reads native zooms, which pass straight through.
    source = open(specForOpening(ctx, id, parseImagerySpec(row.spec))).then(
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
