/**
 * Registered imagery (table `imagery_sources`). A row's spec holds server-side paths and credentials, so
 * callers that answer a browser drop it (see server/lib/scoring/imagery-registry.ts).
 */
import { asc, eq } from 'drizzle-orm';
import type { DatabaseHandle } from './client.ts';
import { imagerySources, type ImagerySourceRow, type NewImagerySource } from './schema.ts';

export async function insertImagery(
  handle: DatabaseHandle,
  row: NewImagerySource,
): Promise<ImagerySourceRow> {
  return handle.db.insert(imagerySources).values(row).returning().get();
}

export async function listImagery(handle: DatabaseHandle): Promise<ImagerySourceRow[]> {
  return handle.db.select().from(imagerySources).orderBy(asc(imagerySources.id)).all();
}

export async function getImagery(handle: DatabaseHandle, id: number): Promise<ImagerySourceRow | undefined> {
  return handle.db.select().from(imagerySources).where(eq(imagerySources.id, id)).get();
}

export async function getImageryByName(
  handle: DatabaseHandle,
  name: string,
): Promise<ImagerySourceRow | undefined> {
  return handle.db.select().from(imagerySources).where(eq(imagerySources.name, name)).get();
}

export async function deleteImagery(handle: DatabaseHandle, id: number): Promise<void> {
  handle.db.delete(imagerySources).where(eq(imagerySources.id, id)).run();
}
