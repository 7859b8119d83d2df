/**
 * Storage of publications (tables `publications` and `published_projects` in schema.ts): what tilelens
 * asked a volunteer tool to make, the ids the tool gave back, how far each project got, and its last
 * polled status. A publication and its planned projects are written in one transaction before the first
 * remote call; each step's result is written the moment it is known.
 */
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { inTransaction, type DatabaseHandle } from './client.ts';
import {
  type PublicationRow,
  type PublishedProjectRow,
  type PublishedStage,
  type PublishTarget,
} from './schema.ts';

export interface NewPublishedProject {
  key: string;
  kind: string;
  clientId: string;
  assetClientId?: string | null;
  spec: Record<string, unknown>;
}

export interface PublicationRecord {
  publication: PublicationRow;
  projects: PublishedProjectRow[];
}

export async function insertPublication(
  db: DatabaseHandle,
  input: {
    projectId: number;
    target: PublishTarget;
    baseUrl: string;
    request: Record<string, unknown>;
    projects: NewPublishedProject[];
  },
): Promise<number> {
  const now = new Date();
  return inTransaction(db, async (tx) => {
    const { publications, publishedProjects } = tx.t;
    const [{ id }] = await tx.db
      .insert(publications)
      .values({
        projectId: input.projectId,
        target: input.target,
        baseUrl: input.baseUrl,
        request: input.request,
        status: 'in-progress',
        updatedAt: now,
      })
      .returning({ id: publications.id });
    for (const [position, p] of input.projects.entries()) {
      await tx.db.insert(publishedProjects).values({
        publicationId: id,
        key: p.key,
        position,
        kind: p.kind,
        clientId: p.clientId,
        assetClientId: p.assetClientId ?? null,
        stage: 'planned',
        spec: p.spec,
        updatedAt: now,
      });
    }
    return id;
  });
}

export async function getPublication(db: DatabaseHandle, id: number): Promise<PublicationRecord | undefined> {
  const { publications, publishedProjects } = db.t;
  const [publication] = await db.db.select().from(publications).where(eq(publications.id, id));
  if (!publication) return undefined;
  const projects = await db.db
    .select()
    .from(publishedProjects)
    .where(eq(publishedProjects.publicationId, id))
    .orderBy(asc(publishedProjects.position));
  return { publication, projects };
}

export async function listPublications(db: DatabaseHandle, projectId: number): Promise<PublicationRecord[]> {
  const { publications } = db.t;
  const ids = await db.db
    .select({ id: publications.id })
    .from(publications)
    .where(eq(publications.projectId, projectId))
    .orderBy(desc(publications.id));
  const records: PublicationRecord[] = [];
  for (const { id } of ids) records.push((await getPublication(db, id))!);
  return records;
}

/** The newest publication of a project to a tool that has not finished, if any. */
export async function unfinishedPublication(
  db: DatabaseHandle,
  projectId: number,
  target: PublishTarget,
): Promise<PublicationRow | undefined> {
  const { publications } = db.t;
  const [row] = await db.db
    .select()
    .from(publications)
    .where(
      and(
        eq(publications.projectId, projectId),
        eq(publications.target, target),
        // 'failed' is unfinished too: what it made exists remotely, and a resume completes it.
        inArray(publications.status, ['in-progress', 'failed']),
      ),
    )
    .orderBy(desc(publications.id))
    .limit(1);
  return row;
}

export async function setPublicationStatus(
  db: DatabaseHandle,
  id: number,
  status: PublicationRow['status'],
  error: string | null = null,
): Promise<void> {
  const { publications } = db.t;
  await db.db
    .update(publications)
    .set({ status, error, updatedAt: new Date() })
    .where(eq(publications.id, id));
}

export interface PublishedProjectPatch {
  stage?: PublishedStage;
  remoteId?: string;
  assetRemoteId?: string;
  remoteStatus?: string | null;
  processingStatus?: string | null;
  statusMessage?: string | null;
  polledAt?: Date;
}

export async function updatePublishedProject(
  db: DatabaseHandle,
  publicationId: number,
  key: string,
  patch: PublishedProjectPatch,
): Promise<void> {
  const { publishedProjects } = db.t;
  await db.db
    .update(publishedProjects)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(publishedProjects.publicationId, publicationId), eq(publishedProjects.key, key)));
}

/** Remote ids a tool gave earlier publications of any project, so a name search never adopts one of them. */
export async function knownRemoteIds(db: DatabaseHandle, target: PublishTarget): Promise<Set<string>> {
  const { publications, publishedProjects } = db.t;
  const rows = await db.db
    .select({ remoteId: publishedProjects.remoteId })
    .from(publishedProjects)
    .innerJoin(publications, eq(publications.id, publishedProjects.publicationId))
    .where(eq(publications.target, target));
  return new Set(rows.map((r) => r.remoteId).filter((v): v is string => v !== null));
}
