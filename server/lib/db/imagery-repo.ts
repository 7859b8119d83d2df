/**
 * Registered imagery (table `imagery_sources`). A row's spec holds server-side paths and credentials, so
 * callers that answer a browser drop it (see server/lib/scoring/imagery-registry.ts).
 */
import { asc, eq } from 'drizzle-orm';
import type { DatabaseHandle } from './client.ts';
import { imagerySources, type ImagerySourceRow, type NewImagerySource } from './schema.ts';

export function insertImagery(handle: DatabaseHandle, row: NewImagerySource): ImagerySourceRow {
  return handle.db.insert(imagerySources).values(row).returning().get();
}

export function listImagery(handle: DatabaseHandle): ImagerySourceRow[] {
  return handle.db.select().from(imagerySources).orderBy(asc(imagerySources.id)).all();
}

export function getImagery(handle: DatabaseHandle, id: number): ImagerySourceRow | undefined {
  return handle.db.select().from(imagerySources).where(eq(imagerySources.id, id)).get();
}

export function getImageryByName(handle: DatabaseHandle, name: string): ImagerySourceRow | undefined {
  return handle.db.select().from(imagerySources).where(eq(imagerySources.name, name)).get();
}

export function deleteImagery(handle: DatabaseHandle, id: number): void {
  handle.db.delete(imagerySources).where(eq(imagerySources.id, id)).run();
}
