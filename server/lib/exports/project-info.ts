/**
 * What every export needs to know about the project besides its tiles: the name managers see, the
 * imagery volunteers will swipe through, which model and run scored the tiles, and what its figures rest on.
 */
import { z } from 'zod';
import { TilelensError } from '../errors.ts';

export const exportProjectSchema = z.object({
  name: z.string().min(1),
  imagery: z.object({
    name: z.string().min(1),
    /** XYZ template with {z}/{x}/{y} (or {quad_key}), as MapSwipe's custom tile server takes it. */
    url: z.string().min(1),
    credits: z.string(),
  }),
  model: z.object({ id: z.string().min(1), name: z.string().min(1), version: z.string().min(1) }),
  runId: z.union([z.string().min(1), z.number().int()]),
  /** What volunteers look for, e.g. "buildings". */
  lookFor: z.string().min(1),
  zoom: z.number().int().min(1).max(22),
  /**
   * What the project's figures rest on (trust/project-effort.ts): the reference run alone — "unverified" where the
   * region lies outside what it covered — or labels from the region. Every export carries it.
   */
  figures: z
    .object({
      basis: z.enum(['reference', 'labels']),
      verified: z.boolean(),
      labels: z.number().int().min(0),
      promise: z.string().min(1),
      /** How the scoring job read the imagery (restored where hazy or coarse), as a sentence. */
      look: z.string().min(1).optional(),
    })
    .optional(),
});

export type ExportProject = z.infer<typeof exportProjectSchema>;

export class ExportError extends TilelensError {
  override name = 'ExportError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('export', message, { status: 409, cause: options?.cause });
  }
}

export function checkProject(project: unknown): ExportProject {
  const parsed = exportProjectSchema.safeParse(project);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ExportError(
      `project info: ${issue.path.join('.') || '(root)'} — ${issue.message}; fill it in before exporting`,
    );
  }
  return parsed.data;
}

export function checkZoom(tile: { z: number; taskId: string }, zoom: number): void {
  if (tile.z !== zoom) {
    throw new ExportError(
      `tile ${tile.taskId} is at zoom ${tile.z} but the project is at zoom ${zoom}; export tiles scored at the project's zoom`,
    );
  }
}

export function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** For an export's description: what the figures rest on, and how the imagery was read. */
export function figuresSentence(project: ExportProject): string {
  const f = project.figures;
  if (!f) return '';
  return f.look ? `Figures ${f.promise}. ${f.look}` : `Figures ${f.promise}.`;
}
