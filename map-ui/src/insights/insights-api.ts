/** The insights endpoints as the panels use them (see server/routes/insights.ts for the shapes). */
import { managerToken } from '../data/api.ts';
// The families report is the server's own type (type-only import: nothing of the server reaches the bundle).
import type { FamiliesReport } from '../../../server/lib/insights/failure-families.ts';
export type { Family, FamiliesReport } from '../../../server/lib/insights/failure-families.ts';
import type { LabelObjectKind } from '../../../server/lib/db/label-objects-repo.ts';
import type { LabelObjectItem as ServerLabelObjectItem } from '../../../server/lib/insights/object-queue.ts';

export type ReviewMark = 'label_wrong' | 'model_wrong' | 'unsure';

export interface ReviewItem {
  rank: number;
  total: number;
  idx: number;
  patchKey: string;
  group: string | null;
  tile: { z: number; x: number; y: number } | null;
  score: number;
  disagreement: number;
  neighbourGap: number;
  direction: 'missing_in_image' | 'missing_in_label' | 'none';
  iou: number | null;
  gtFraction: number;
  predFraction: number;
  mark: ReviewMark | null;
  note: string | null;
  previous: number | null;
  next: number | null;
  images: { image: string; mask: string; prediction: string };
}

export type { LabelObjectKind } from '../../../server/lib/db/label-objects-repo.ts';

/** One suspected label error (GET /api/runs/:id/label-objects/list): the server's queue item and its image URLs. */
export type LabelObjectItem = ServerLabelObjectItem & {
  images: { image: string; mask: string; prediction: string };
};

export class InsightsRequestError extends Error {
  override name = 'InsightsRequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, init);
  if (!res.ok) {
    let message = `${init.method ?? 'GET'} ${path}: ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { message?: string; hint?: string } };
      if (body.error?.message)
        message = body.error.message + (body.error.hint ? ` (${body.error.hint})` : '');
    } catch {
      /* not JSON: keep the status line */
    }
    throw new InsightsRequestError(res.status, message);
  }
  return (await res.json()) as T;
}

export const insightsApi = {
  reviewItem: (runId: number, rank: number, unmarkedOnly: boolean) =>
    call<ReviewItem>(`/api/runs/${runId}/review?rank=${rank}&unmarked=${unmarkedOnly}`),
  mark(runId: number, idx: number, mark: ReviewMark): Promise<unknown> {
    const token = managerToken();
    if (!token)
      return Promise.reject(
        new InsightsRequestError(401, 'marking needs the manager token; enter it under "Manager token"'),
      );
    return call(`/api/runs/${runId}/review/${idx}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ mark }),
    });
  },
  families: (runId: number) => call<FamiliesReport>(`/api/runs/${runId}/families`),
  reviewExport: (runId: number, format: 'geojson' | 'csv') => `/api/runs/${runId}/review.${format}?top=100`,
  familiesHtml: (runId: number) => `/api/runs/${runId}/families.html`,
  labelObjectCounts: (runId: number) =>
    call<Record<LabelObjectKind, number>>(`/api/runs/${runId}/label-objects`),
  labelObjects: (runId: number, kind: LabelObjectKind, limit: number) =>
    call<{ kind: LabelObjectKind; items: LabelObjectItem[] }>(
      `/api/runs/${runId}/label-objects/list?kind=${kind}&limit=${limit}`,
    ),
  labelObjectsExport: (runId: number, kind: LabelObjectKind, format: 'geojson' | 'maproulette') =>
    `/api/runs/${runId}/label-objects${format === 'maproulette' ? '.maproulette' : ''}.geojson?kinds=${kind}`,
};
