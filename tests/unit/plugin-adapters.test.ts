/** The MapSwipe / Tasking Manager adapters over the export routes' real answers (the app in-process). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapswipeProjects, taskingManagerProject } from '../../plugin/src/adapters.ts';
import { syntheticApi, type SyntheticApi } from '../fixtures/synthetic-project.ts';

let t: SyntheticApi;
beforeAll(async () => {
  t = await syntheticApi();
});
afterAll(() => t.close());

describe('MapSwipe and Tasking Manager adapters', () => {
  it('MapSwipe: one pack per tier — the form without geometry, the geometry as a GeoJSON file', async () => {
    const packs = mapswipeProjects(await t.api.exports.mapswipeFind(t.project.projectId));
    expect(packs.length).toBeGreaterThan(0);
    for (const pack of packs) {
      expect(pack.form).toMatchObject({ projectType: 1, zoomLevel: 18 });
      expect('geometry' in pack.form).toBe(false);
      expect(JSON.parse(pack.geometryFile.body).type).toBe('FeatureCollection');
      expect(pack.geometryFile.name).toMatch(new RegExp(`-${pack.tier}\\.geojson$`));
      expect(pack.tiles).toBeGreaterThan(0);
    }
  });

  it('Tasking Manager: the creation body, and annotations addressed once TM has an id', async () => {
    const pack = taskingManagerProject(await t.api.exports.taskingManager(t.project.projectId));
    expect(pack.createProject.tasks.features.length).toBeGreaterThan(0);
    const a = pack.annotations(4242);
    expect(a.path).toMatch(/^\/api\/v2\/projects\/4242\/annotations\//);
    expect(a.body.projectId).toBe(4242);
    expect(a.body.tasks.length).toBe(pack.createProject.tasks.features.length);
  });
});
