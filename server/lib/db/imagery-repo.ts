/**
 * Registered imagery (table `imagery_sources`). A row's spec holds server-side paths and credentials, so
 * callers that answer a browser drop it (see server/lib/scoring/imagery-registry.ts).
 */
import { asc, eq } from 'drizzle-orm';
import type { DatabaseHandle } from './client.ts';
import type { ImagerySourceRow, NewImagerySource } from './schema.ts';

export async function insertImagery(
  handle: DatabaseHandle,
  row: NewImagerySource,
): Promise<ImagerySourceRow> {
  const [inserted] = await handle.db.insert(handle.t.imagerySources).values(row).returning();
  return inserted;
}

export async function listImagery(handle: DatabaseHandle): Promise<ImagerySourceRow[]> {
  const { imagerySources } = handle.t;
  return handle.db.select().from(imagerySources).orderBy(asc(imagerySources.id));
}

export async function getImagery(handle: DatabaseHandle, id: number): Promise<ImagerySourceRow | undefined> {
  const { imagerySources } = handle.t;
  const [row] = await handle.db.select().from(imagerySources).where(eq(imagerySources.id, id));
  return row;
}

export async function getImageryByName(
  handle: DatabaseHandle,
  name: string,
): Promise<ImagerySourceRow | undefined> {
  const { imagerySources } = handle.t;
  const [row] = await handle.db.select().from(imagerySources).where(eq(imagerySources.name, name));
  return row;
}

export async function deleteImagery(handle: DatabaseHandle, id: number): Promise<void> {
  const { imagerySources } = handle.t;
  await handle.db.delete(imagerySources).where(eq(imagerySources.id, id));
}
