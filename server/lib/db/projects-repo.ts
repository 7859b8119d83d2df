/** Projects (table `projects`): an area over registered imagery, scored through a reference run. */
import { asc, eq } from 'drizzle-orm';
import type { DatabaseHandle } from './client.ts';
import { projects, type NewProject, type Project } from './schema.ts';

export function insertProject(handle: DatabaseHandle, project: NewProject): Project {
  return handle.db.insert(projects).values(project).returning().get();
}

export function listProjects(handle: DatabaseHandle): Project[] {
  return handle.db.select().from(projects).orderBy(asc(projects.id)).all();
}

export function getProject(handle: DatabaseHandle, id: number): Project | undefined {
  return handle.db.select().from(projects).where(eq(projects.id, id)).get();
}

/** Removes a project; its jobs and scored tiles go with it (foreign keys cascade). */
export function deleteProject(handle: DatabaseHandle, id: number): void {
  handle.db.delete(projects).where(eq(projects.id, id)).run();
}
