/**
 * Publishing's endpoints as the export panel uses them (server/routes/publish.ts). Credentials go in the
 * body of the one request they are for; the browser keeps them only in the form's fields.
 */
import { ApiRequestError, managerToken, request as call } from './api.ts';
import type { PublicationPlan, PublicationView } from '../../../server/lib/publish/publish.ts';

export type Publication = Omit<PublicationView, 'createdAt' | 'updatedAt' | 'projects'> & {
  createdAt: string;
  updatedAt: string;
  projects: Array<Omit<PublicationView['projects'][number], 'polledAt'> & { polledAt: string | null }>;
};
export type Plan = PublicationPlan;
export type PublishTarget = 'mapswipe' | 'tasking-manager';

function post<T>(path: string, body: unknown): Promise<T> {
  const token = managerToken();
  if (!token) {
    return Promise.reject(
      new ApiRequestError(401, 'this needs the manager token', 'enter it once under "Manager token"; it is kept for this browser tab only'),
    );
  }
  return call<T>(path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

export const publishApi = {
  list: (projectId: number) => call<{ publications: Publication[] }>(`/api/projects/${projectId}/publications`),
  /** A plan when `dryRun`, else the publication as far as it got. */
  publish: (projectId: number, target: PublishTarget, body: Record<string, unknown>) =>
    post<Plan | Publication>(`/api/projects/${projectId}/publish/${target}`, body),
  resume: (publicationId: number, credentials: unknown) =>
    post<Publication>(`/api/publications/${publicationId}/resume`, { credentials }),
  poll: (publicationId: number, credentials: unknown) =>
    post<Publication>(`/api/publications/${publicationId}/poll`, { credentials }),
};
