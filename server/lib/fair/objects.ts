/**
 * A fAIr import's polygons as MapSwipe Validate objects: a Polygon / MultiPolygon FeatureCollection,
 * most urgent tile first (MapSwipe makes one task per feature, in file order), at most 100,000 features
 * as MapSwipe takes. Streamed from the database in pages; the closing `tilelens` member says how many were
 * written and left out.
 */
import { getFairImport, iterateFairObjects } from '../db/fair-repo.ts';
import { round6 } from '../exports/project-info.ts';
import { MAX_VALIDATE_OBJECTS } from '../publish/mapswipe/project-specs.ts';
import { PublishError } from '../publish/errors.ts';
import type { ScoringContext } from '../scoring/context.ts';

export async function* fairObjectsChunks(
  ctx: ScoringContext,
  projectId: number,
  importId: number,
  cap = MAX_VALIDATE_OBJECTS,
): AsyncGenerator<string> {
  const imp = await getFairImport(ctx.db, importId);
  if (!imp || imp.projectId !== projectId) {
    throw new PublishError('invalid-request', `fAIr import ${importId} is not one of project ${projectId}'s`);
  }
  yield '{"type":"FeatureCollection","features":[\n';
  let written = 0;
  let leftOut = 0;
  for await (const o of iterateFairObjects(ctx.db, projectId, importId)) {
    if (written >= cap) {
      leftOut++;
      continue;
    }
    const feature = {
      type: 'Feature',
      properties: {
        feature_id: written,
        task_id: o.taskId,
        confidence: o.confidence === null ? null : round6(o.confidence),
        priority: o.priority === null ? null : round6(o.priority),
        tier: o.tier,
        source: 'fAIr',
        fair_index: o.idx,
      },
      geometry: o.geometry,
    };
    yield (written > 0 ? ',\n' : '') + JSON.stringify(feature);
    written++;
  }
  yield `\n],"tilelens":${JSON.stringify({ source: 'fAIr', importId, name: imp.name, written, leftOut, cap })}}\n`;
}
