/**
 * The labelled side's endpoints as the calibration panel uses them (server/routes/trust.ts). Shapes are
 * the server's own types, imported type-only so nothing of the server reaches the bundle.
 */
import { ApiRequestError, managerToken, request as call } from './api.ts';
import type { SampleSummaryRow } from '../../../server/lib/db/trust-repo.ts';
import type { LabelValue } from '../../../server/lib/db/schema.ts';
import type { ImportSummary, StoredSample, trustReport, afterMappingReport } from '../../../server/lib/trust/project-trust.ts';

export type SampleSummary = Omit<SampleSummaryRow, 'createdAt'> & { createdAt: string };
export type TrustReport = Awaited<ReturnType<typeof trustReport>> & { projectId: number };
export type AfterMapping = Awaited<ReturnType<typeof afterMappingReport>>;
export type { ImportSummary };
export type Sample = Omit<StoredSample, 'createdAt'> & { createdAt: string };

function authorised(): Record<string, string> {
  const token = managerToken();
  if (!token) {
    throw new ApiRequestError(401, 'this needs the manager token', 'enter it once under "Manager token"; it is kept for this browser tab only');
  }
  return { Authorization: `Bearer ${token}` };
}

const base = (projectId: number) => `/api/projects/${projectId}`;

export const trustApi = {
  /** The samples, and how many tiles carry labels of each purpose. */
  samples: (projectId: number) =>
    call<{ samples: SampleSummary[]; labels: Record<'sample' | 'mapping', Record<LabelValue, number>> }>(
      `${base(projectId)}/calibration-samples`,
    ),
  drawSample: (projectId: number, body: { size?: number; seed?: number }) =>
    call<Sample>(`${base(projectId)}/calibration-samples`, {
      method: 'POST',
      headers: { ...authorised(), 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    }),
  csvUrl: (projectId: number, sampleId: number) => `${base(projectId)}/calibration-samples/${sampleId}/tiles.csv`,
  findUrl: (projectId: number, sampleId: number) => `${base(projectId)}/calibration-samples/${sampleId}/mapswipe-find`,
  importResults: (projectId: number, file: Blob, purpose: 'sample' | 'mapping', mapswipeProject?: string) => {
    const q = new URLSearchParams({ purpose });
    if (mapswipeProject) q.set('mapswipeProject', mapswipeProject);
    return call<ImportSummary>(`${base(projectId)}/labels/mapswipe?${q}`, {
      method: 'POST',
      headers: { ...authorised(), 'Content-Type': 'application/octet-stream' },
      body: file,
    });
  },
  report: (projectId: number, threshold: number, sampleId?: number) =>
    call<TrustReport>(
      `${base(projectId)}/trust?threshold=${threshold}&steps=21${sampleId ? `&sampleId=${sampleId}` : ''}`,
    ),
  afterMapping: (projectId: number, sampleId?: number) =>
    call<AfterMapping>(`${base(projectId)}/trust/after-mapping?top=10${sampleId ? `&sampleId=${sampleId}` : ''}`),
};
