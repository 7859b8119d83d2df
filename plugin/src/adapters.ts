/**
 * MapSwipe and Tasking Manager adapters: the export routes already answer in those tools' own shapes;
 * these helpers pick out what a person (or a script) hands over to each tool, and the download links.
 *
 * - MapSwipe "Find" projects are created per tier in the Manager Dashboard: the draft's fields fill the
 *   form, its `geometry` is the area file to upload.
 * - A Tasking Manager project is created from the draft (area of interest + arbitrary tasks), then the
 *   annotations are POSTed to the TM API path given, once TM has assigned the project id.
 */
import type { MapswipeFindResponse, TaskingManagerResponse, ApiClient } from './api-client.ts';

export interface MapswipeProjectPack {
  tier: 'high' | 'medium' | 'low';
  /** The form fields of MapSwipe's "create project" (projectType 1 = Find). */
  form: Omit<MapswipeFindResponse['drafts'][number]['draft'], 'geometry'>;
  /** The area to upload, as a GeoJSON file body. */
  geometryFile: { name: string; type: 'application/geo+json'; body: string };
  tiles: number;
  /** Tiles MapSwipe will also show because they fill its groups; a manager should know the real count. */
  extraTiles: number;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'project';

export function mapswipeProjects(res: MapswipeFindResponse): MapswipeProjectPack[] {
  return res.drafts.map((d) => {
    const { geometry, ...form } = d.draft;
    return {
      tier: d.tier,
      form,
      geometryFile: {
        name: `${slug(d.draft.name)}-${d.tier}.geojson`,
        type: 'application/geo+json',
        body: JSON.stringify(geometry),
      },
      tiles: d.tiles,
      extraTiles: d.extraTiles,
    };
  });
}

export interface TaskingManagerPack {
  /** Body of TM's project creation (`POST /api/v2/projects/`): name, area of interest, tasks. */
  createProject: TaskingManagerResponse['draft'];
  /** Send after creation, with TM's project id filled into `path`. */
  annotations: (tmProjectId: number) => { path: string; body: TaskingManagerResponse['annotations']['body'] };
  /** Outlines of the high-priority tier, for the project's priority areas. */
  priorityAreas: TaskingManagerResponse['priorityAreas'];
}

export function taskingManagerProject(res: TaskingManagerResponse): TaskingManagerPack {
  return {
    createProject: res.draft,
    annotations: (tmProjectId) => ({
      // The export leaves `{projectId}` where TM's id goes until the project exists.
      path: res.annotations.path.replace('{projectId}', String(tmProjectId)),
      body: { ...res.annotations.body, projectId: tmProjectId },
    }),
    priorityAreas: res.priorityAreas,
  };
}

/** Everything an export button needs: the packs, and links to the streamed files. */
export async function exportPacks(api: ApiClient, projectId: number) {
  const [find, tm] = await Promise.all([
    api.exports.mapswipeFind(projectId),
    api.exports.taskingManager(projectId),
  ]);
  return {
    mapswipe: mapswipeProjects(find),
    taskingManager: taskingManagerProject(tm),
    links: api.exports.links(projectId),
  };
}
