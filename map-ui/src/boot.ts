/**
 * Start-up: the view from the address, the project it names (or the newest one) with its imagery, run and
 * clusters, then the app — or a page that says why there is none.
 */
import { h, render, type ComponentChildren } from 'preact';
import { App, type Loaded } from './app.ts';
import { api } from './data/api.ts';
import { createSelectionStore } from './state/selection.ts';
import { fromQuery } from './state/url-state.ts';
import { exposeForTests } from './test-hooks.ts';

const page = (...children: ComponentChildren[]) => h('div', { class: 'empty' }, ...children);

/** The project to open and what its views need; null when the server holds no project yet. */
async function loadProject(projectId: number | null): Promise<Loaded | null> {
  if (projectId === null) {
    const projects = await api.projects();
    if (projects.length === 0) return null;
    projectId = projects[projects.length - 1].id;
  }
  const project = await api.project(projectId);
  const [imagery, run, clusters] = await Promise.all([
    api.imagery(),
    api.run(project.runId),
    api.clusters(project.runId),
  ]);
  const img = imagery.find((i) => i.id === project.imageryId);
  if (!img)
    throw new Error(
      `project ${project.id} uses imagery ${project.imageryId}, which the server no longer lists; register it again`,
    );
  return {
    project,
    imagery: img,
    run,
    clusters: clusters.clusters,
    urbanisedReason: clusters.urbanisedReason,
  };
}

export async function start(root: HTMLElement) {
  const initial = fromQuery(location.search, location.pathname);
  try {
    const loaded = await loadProject(initial.project);
    if (!loaded) {
      render(
        page(
          h('h1', null, 'tilelens'),
          h(
            'p',
            null,
            'No project yet. Create one with POST /api/projects (or `npm run demo`), then reload.',
          ),
        ),
        root,
      );
      return;
    }
    initial.project = loaded.project.id;
    const store = createSelectionStore({ patches: initial.patches, tiles: initial.tiles });
    exposeForTests({ store, project: loaded.project });
    document.title = `tilelens — ${loaded.project.name}${initial.mode === 'volunteer' ? ' (volunteer view)' : ''}`;
    render(h(App, { initial, store, loaded }), root);
  } catch (err) {
    render(
      page(h('h1', null, 'tilelens could not start'), h('p', { class: 'error' }, (err as Error).message)),
      root,
    );
  }
}
