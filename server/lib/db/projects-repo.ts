/** Projects (table `projects`): an area over registered imagery, scored through a reference run. */
import { asc, eq } from 'drizzle-orm';
import type { DatabaseHandle } from './client.ts';
import type { RegionLookJson } from './json.ts';
import type { NewProject, Project } from './schema.ts';

export async function insertProject(handle: DatabaseHandle, project: NewProject): Promise<Project> {
  const [row] = await handle.db.insert(handle.t.projects).values(project).returning();
  return row;
}

export async function listProjects(handle: DatabaseHandle): Promise<Project[]> {
  const { projects } = handle.t;
  return handle.db.select().from(projects).orderBy(asc(projects.id));
}

export async function getProject(handle: DatabaseHandle, id: number): Promise<Project | undefined> {
  const { projects } = handle.t;
  const [row] = await handle.db.select().from(projects).where(eq(projects.id, id));
  return row;
}

/** Removes a project; its jobs and scored tiles go with it (foreign keys cascade). */
export async function deleteProject(handle: DatabaseHandle, id: number): Promise<void> {
  const { projects } = handle.t;
  await handle.db.delete(projects).where(eq(projects.id, id));
}

/** Keeps the look the project's last scoring job read its tiles through. */
export async function setProjectRegionLook(
  handle: DatabaseHandle,
  id: number,
  regionLook: RegionLookJson,
): Promise<void> {
  const { projects } = handle.t;
  await handle.db.update(projects).set({ regionLook }).where(eq(projects.id, id));
}
