/** Projects (table `projects`): an area over registered imagery, scored through a reference run. */
import { asc, eq } from 'drizzle-orm';
import type { DatabaseHandle } from './client.ts';
import { projects, type NewProject, type Project } from './schema.ts';

export async function insertProject(handle: DatabaseHandle, project: NewProject): Promise<Project> {
  return handle.db.insert(projects).values(project).returning().get();
}

export async function listProjects(handle: DatabaseHandle): Promise<Project[]> {
  return handle.db.select().from(projects).orderBy(asc(projects.id)).all();
}

export async function getProject(handle: DatabaseHandle, id: number): Promise<Project | undefined> {
  return handle.db.select().from(projects).where(eq(projects.id, id)).get();
}

/** Removes a project; its jobs and scored tiles go with it (foreign keys cascade). */
export async function deleteProject(handle: DatabaseHandle, id: number): Promise<void> {
  handle.db.delete(projects).where(eq(projects.id, id)).run();
}
